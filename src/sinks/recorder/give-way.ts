// When the event loop falls behind the kernel (a storm, a CPU shared with busier work), the
// recorder gives way: writing a batch into the capture costs the event loop ~10 times what the
// tracer itself spends on it (serialising ~600 bytes of JSON per event), and an event loop that
// stays behind lets the drain thread's backlog fill, and then the KERNEL drops events, for every
// output. So while the newest event of a batch is more than BEHIND_MS old, its lines are not
// written but counted as not captured (exactly: one line each), and writing resumes once the
// loop is within RESUME_MS of the kernel again (the ring is read every 50 ms when quiet; a loaded
// machine adds ~100 ms). The backlog holds ~2 s of a 20 000 conn/s storm.
import type { TcpEvent } from '../../decode/event';
import { monoNs } from '../../format/capture-records';

export const BEHIND_MS = 500;
export const RESUME_MS = 250;

export class GiveWay {
  private giving = false;

  constructor(private readonly now: () => number = monoNs) {}

  /** Whether this batch is skipped (the loop is behind the kernel). */
  skips(batch: readonly TcpEvent[]): boolean {
    if (batch.length === 0) return false;
    const lagMs = (this.now() - batch[batch.length - 1].tsNs) / 1e6;
    this.giving = lagMs > (this.giving ? RESUME_MS : BEHIND_MS);
    return this.giving;
  }
}
