// Events as NDJSON (docs/SCHEMA.md), a batch at a time; with a capture feed (the CLI's -j and
// --capture) the lines are a capture that `--replay` reads back: a `capture` header, `census`
// counts, `accept` records, `pressure` samples, `counters` each second and an `end` record. The -j sink
// (sinks/ndjson.ts) and the flight recorder (sinks/recorder/) both write through this.
import type { TcpEvent } from '../decode/event';
import type { StatusReport } from '../status';
import { writeJsonEvent } from './schema-writer';
import { ByteWriter, bytes, putBytes, type Output } from './bytes';
import { countersRecord, openRecord, recordLine, type CaptureFeed, type CaptureRecord } from './capture-records';
import { PressureDelta } from '../source/capture-pressure';

const ACCEPT = bytes('{"type":"accept"');

/** How often the counters are written (a replay's periodic reports tick on them). */
const COUNTERS_MS = 1000;
/** After a loss, the sockets are counted again (as the live census does), at most this often. */
const RECOUNT_MS = 5000;

export class CaptureWriter {
  readonly tickMs?: number;
  readonly ticksLast = true;
  private readonly bytes = new ByteWriter();
  private records: CaptureRecord[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  private lossSeen = 0;
  private recountedAt = 0;
  private readonly pressure = new PressureDelta();

  /** `notCaptured`: the lines the output could not keep so far (the flight recorder's), in each counters record. */
  constructor(private readonly out: Output, private readonly capture?: CaptureFeed, private readonly notCaptured?: () => number) {
    if (!capture) return;
    this.tickMs = COUNTERS_MS;
    const census = capture.census?.subscribe((r) => this.records.push(r));
    // the open connections as a report read them, before the tick's counters record (the pipeline
    // ticks a capture last) so that a replay's report reads them at the same place
    const open = capture.open?.subscribe((r) => this.records.push(openRecord(r)));
    for (const u of [census, open]) if (u) this.unsubscribe.push(u);
  }

  /** The header: when the pipeline begins, the time a replay counts its periodic reports from. */
  start(): void {
    if (this.capture) this.out(recordLine(this.capture.header()));
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
    // as acceptLine() writes them, with the events' byte writer (JSON.stringify cost 6 µs a record under a storm)
    const w = this.bytes;
    w.moveTo(0);
    for (const e of batch) {
      const at = putBytes(w.room(ACCEPT.length), w.length, ACCEPT);
      w.moveTo(at);
      writeJsonEvent(w, e);
      w.room(1)[at] = 0x2c; // the event's `{` becomes the comma after `"type":"accept"`
      w.byte(0x0a);
    }
    w.lendTo(this.out);
  }

  tick(status?: StatusReport): void {
    this.flushRecords();
    this.writePressure();
    const rec = countersRecord('counters', this.capture!.status, status, this.notCaptured?.());
    // Every tick, changed or not: where it falls among the events is where the live run's
    // other periodic reports fell (same timer list), so a replay ticks at the same places.
    this.out(recordLine(rec));
    // Lost transitions make a replay's census drift as they make the live one: a new count follows.
    // (Not after lines the recorder could not keep: it drops them when the CPU is short, and a
    // count of every namespace costs more of it; a replay says how many are missing.)
    const loss = rec.counters.lost + rec.counters.missed;
    if (loss > this.lossSeen && performance.now() - this.recountedAt > RECOUNT_MS) {
      this.lossSeen = loss;
      this.recountedAt = performance.now();
      void this.capture!.census?.full();
    }
  }

  end(): void {
    if (!this.capture) return;
    this.capture.open?.read(); // shared with the reports of the exit (one read), in the capture before the end
    for (const u of this.unsubscribe.splice(0)) u();
    this.flushRecords();
    this.writePressure();
    this.out(recordLine(countersRecord('end', this.capture.status, undefined, this.notCaptured?.())));
  }

  /** The listeners under pressure as this tick's reports read them, when they changed. */
  private writePressure(): void {
    const rows = this.capture!.pressure?.rows();
    const rec = rows?.length ? this.pressure.next(rows) : undefined;
    if (rec) this.out(recordLine(rec));
  }

  /** Census counts and open connections read since the last write go out before the next events. */
  private flushRecords(): void {
    if (!this.records.length) return;
    const records = this.records;
    this.records = [];
    this.out(records.map(recordLine).join(''));
  }
}
