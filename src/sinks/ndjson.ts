// One JSON object per line (docs/SCHEMA.md), written a batch at a time. With a capture feed
// (the CLI's -j and --capture) the stream is a capture that `--replay` reads back: a `capture`
// header, `census` counts, `accept` records, `counters` when they change and an `end` record.
import type { TcpEvent } from '../decode/event';
import { writeJsonEvent } from '../format/schema-writer';
import { ByteWriter } from '../format/bytes';
import { acceptLine, countersRecord, recordLine, type CaptureFeed, type CensusRecord } from '../source/capture-records';
import type { Output, Sink } from './sink';

/** How often the counters are looked at (written only when they changed). */
const COUNTERS_MS = 1000;
/** After a loss, the sockets are counted again (as the live census does), at most this often. */
const RECOUNT_MS = 5000;

export class NdjsonSink implements Sink {
  /** events carry their cgroup and container (the pipeline's enrich stage) */
  readonly writesCgroup = true;
  readonly tickMs?: number;
  private readonly bytes = new ByteWriter();
  private census: CensusRecord[] = [];
  private lastCounters = '';
  private unsubscribe?: () => void;
  private lossSeen = 0;
  private recountedAt = 0;

  constructor(private readonly out: Output, private readonly capture?: CaptureFeed) {
    if (!capture) return;
    this.tickMs = COUNTERS_MS;
    out(recordLine(capture.header()));
    this.unsubscribe = capture.census?.subscribe((r) => this.census.push(r));
    void capture.census?.full();
  }

  write(batch: TcpEvent[]): void {
    this.flushRecords();
    if (batch.length === 0) return;
    const w = this.bytes;
    w.moveTo(0); // nothing half-written survives a batch that threw
    for (const e of batch) {
      writeJsonEvent(w, e);
      w.byte(0x0a);
    }
    w.lendTo(this.out);
  }

  accepts(batch: TcpEvent[]): void {
    if (!this.capture) return;
    this.flushRecords();
    let text = '';
    for (const e of batch) text += acceptLine(e);
    this.out(text);
  }

  tick(): void {
    this.flushRecords();
    const rec = countersRecord('counters', this.capture!.status);
    const key = JSON.stringify(rec.counters);
    if (key !== this.lastCounters) {
      this.lastCounters = key;
      this.out(recordLine(rec));
    }
    // Lost transitions make a replay's census drift as they make the live one: a new count follows.
    const loss = rec.counters.lost + rec.counters.missed;
    if (loss > this.lossSeen && performance.now() - this.recountedAt > RECOUNT_MS) {
      this.lossSeen = loss;
      this.recountedAt = performance.now();
      void this.capture!.census?.full();
    }
  }

  end(): void {
    if (!this.capture) return;
    this.unsubscribe?.();
    this.flushRecords();
    this.out(recordLine(countersRecord('end', this.capture.status)));
  }

  /** Census counts made since the last write go out before the next events. */
  private flushRecords(): void {
    if (!this.census.length) return;
    const records = this.census;
    this.census = [];
    this.out(records.map(recordLine).join(''));
  }
}
