// When the event loop falls behind the kernel (a storm, a CPU shared with busier work), the
// recorder gives way: writing a batch into the capture costs the event loop several times what
// the tracer itself spends on it (serialising ~600 bytes of JSON per event), and an event loop
// that stays behind lets the drain thread's backlog fill (64 MiB, ~440 000 events), and then the
// KERNEL drops events, for every output. So while the events waiting behind the one in hand
// (estimated: how far behind the loop is, times the kernel's recent rate) are over a quarter of
// that backlog, the batch's lines are not written but counted as not captured (exactly: one line
// each), and writing resumes once fewer than BEHIND_EVENTS / 4 wait. A stall at a low rate (a
// census, a pause) never gives way: the backlog holds minutes of it.
import type { TcpEvent } from '../../decode/event';
import { monoNs } from '../../format/capture-records';

export const BEHIND_EVENTS = 110_000;
export const RESUME_EVENTS = BEHIND_EVENTS / 4;
/** the kernel's rate is measured over this much of its own time */
const WINDOW_NS = 1e9;
/** the least span a rate is measured over (a few batches close together would overstate it) */
const MIN_SPAN_NS = 100e6;

export class GiveWay {
  private giving = false;
  /** the recent batches: newest event time and count */
  private readonly recent: { ts: number; n: number }[] = [];
  private inWindow = 0;

  constructor(private readonly now: () => number = monoNs) {}

  /** Whether this batch is skipped (too many events wait behind it). */
  skips(batch: readonly TcpEvent[]): boolean {
    if (batch.length === 0) return false;
    const newest = batch[batch.length - 1].tsNs;
    this.recent.push({ ts: newest, n: batch.length });
    this.inWindow += batch.length;
    while (this.recent.length > 1 && this.recent[0].ts < newest - WINDOW_NS) this.inWindow -= this.recent.shift()!.n;
    const perNs = this.inWindow / Math.max(MIN_SPAN_NS, newest - this.recent[0].ts);
    const waiting = Math.max(0, this.now() - newest) * perNs;
    this.giving = waiting > (this.giving ? RESUME_EVENTS : BEHIND_EVENTS);
    return this.giving;
  }
}
