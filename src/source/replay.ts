// A capture read back as a source beside the live Tracer: the same 'events' and 'accepts'
// batches and the same status (counters and loss as they were recorded, the tracer's facts from
// the capture's header), so the Pipeline and every sink run unchanged, without BPF or root.
// Time is the trace's: as fast as it can go by default, or paced (--speed 1 is real time);
// periodic reports (every()) tick in trace time, and the census answers from the recorded counts.
import { EventEmitter } from 'node:events';
import type { TcpEvent } from '../decode/event';
import type { KernelFilter } from '../probe/config';
import type { AttachMode, Delivery } from '../probe/probe';
import type { NativeDelivery } from '../native/addon';
import type { Counters } from '../status';
import type { TracerEvents } from '../tracer';
import { eventFromJson } from './json-event';
import { eventMatcher } from './replay-filter';
import { openLines, type LineInput } from './replay-input';
import { ReplayCensus } from './replay-census';
import { ExactDurations } from './replay-durations';
import { TraceClock } from './replay-clock';
import { ReplayOpen } from './replay-open';
import { ReplayPressure } from './replay-pressure';
import type { CaptureHeader, CensusRecord, CountersRecord, OpenRecord, PressureRecord } from '../format/capture-records';

export interface ReplayOptions {
  /** the replay's own filters (applied on top of the capture's) */
  filter?: KernelFilter;
  /** trace seconds per wall second; undefined: as fast as possible */
  speed?: number;
}

export interface ReplayEvents extends TracerEvents {
  /** the capture is read to its end (or cut) */
  end: [];
}

/** Events handed over at once when nothing paces them. */
const MAX_BATCH = 4096;
const NO_DELIVERY: NativeDelivery = { maxGapMs: 0, thread: false };
const NO_COUNTERS: Counters = { seen: 0, delivered: 0, filtered: 0, lost: 0, missed: 0, nested: 0, hidden: 0, accepts: 0, acceptsLost: 0 };


export class ReplaySource extends EventEmitter<ReplayEvents> {
  attach: AttachMode = 'tp_btf';
  delivery: Delivery = 'ringbuf';
  programs: string[] = [];
  header?: CaptureHeader;
  census = new ReplayCensus({ own: 0, unreadable: 0, namespaces: [] });
  /** the connections still open as the live run's reports read them */
  readonly open: ReplayOpen;
  /** the listeners sampled under pressure as the live run's reports read them */
  readonly pressure = new ReplayPressure();
  /** lines that were not JSON objects (skipped) */
  badLines = 0;
  /** events and accept records read, and those the replay's filters kept */
  read = 0;
  delivered = 0;
  accepted = 0;
  private readonly input: LineInput;
  private first?: string;
  private recorded?: CountersRecord;
  /** events delivered since the last counters record (the counters now are its plus these) */
  private sinceRecord = 0;
  private final?: Counters;
  private clockOffsetMs = NaN;
  private readonly clock: TraceClock;
  private batch: TcpEvent[] = [];
  private accepts: TcpEvent[] = [];
  private readonly matches?: (e: TcpEvent) => boolean;
  private readonly durations = new ExactDurations();
  private stopped = false;
  private done = false;

  private constructor(private readonly path: string, private readonly options: ReplayOptions) {
    super();
    this.input = openLines(path);
    this.matches = eventMatcher(options.filter ?? {});
    this.open = new ReplayOpen(options.filter);
    this.clock = new TraceClock(options.speed, () => this.flush(), () => this.header !== undefined);
  }

  /** Opens a capture and reads its header (the facts the sinks are built from); run() replays it. */
  static async open(path: string, options: ReplayOptions = {}): Promise<ReplaySource> {
    const source = new ReplaySource(path, options);
    await source.readHeader();
    return source;
  }

  private async readHeader(): Promise<void> {
    const next = await this.input.lines.next();
    if (next.done) {
      if (this.input.cut) throw new Error(`cannot replay ${this.path}: ${this.input.cut}`);
      throw new Error(`${this.path === '-' ? 'stdin' : this.path} is empty: nothing to replay`);
    }
    const json = parse(next.value);
    if (json?.type === 'capture') this.useHeader(json as unknown as CaptureHeader);
    else if (json && 'newstate' in json) this.first = next.value; // a capture from before headers (schema 1)
    else throw new Error(`${this.path} is not a tcptrace capture (its first line is neither a capture header nor an event)`);
  }

  private useHeader(h: CaptureHeader): void {
    this.header = h;
    if (h.attach === 'tp_btf' || h.attach === 'tracepoint') this.attach = h.attach;
    if (h.delivery === 'ringbuf' || h.delivery === 'perfbuf') this.delivery = h.delivery;
    this.programs = Array.isArray(h.programs) ? h.programs.map(String) : [];
    if (Number.isFinite(h.clock_offset_ms)) this.clockOffsetMs = h.clock_offset_ms;
    if (Number.isFinite(h.ts_ns)) this.clock.startAt(h.ts_ns);
    const netns = h.netns ?? { own: 0, unreadable: 0, namespaces: [] };
    const namespaces = Array.isArray(netns.namespaces) ? netns.namespaces.map(Number).filter((n) => n > 0) : [];
    this.census = new ReplayCensus({ own: Number(netns.own) || 0, unreadable: Number(netns.unreadable) || 0, namespaces }, namespaces);
  }

  /** Why the capture ended early, once it has ended; undefined when it ended whole. */
  get cut(): string | undefined {
    return this.input.cut ?? (this.done && this.header && !this.final ? 'it has no end record: the tracer that wrote it did not stop normally' : undefined);
  }

  /** The trace's wall-clock time now, ms (NaN before the first timestamp). */
  traceTime(): number {
    return (Number.isFinite(this.clockOffsetMs) ? this.clockOffsetMs : 0) + this.clock.nowNs / 1e6;
  }

  /** Calls fn every `ms` of trace time (the pipeline's periodic reports). */
  every(ms: number, fn: () => void): () => void {
    return this.clock.every(ms, fn);
  }

  counters(): Counters {
    if (this.final) return { ...NO_COUNTERS, ...this.final };
    if (this.recorded) {
      const c = { ...NO_COUNTERS, ...this.recorded.counters }; // a capture from before a counter was added
      return { ...c, seen: c.seen + this.sinceRecord, delivered: c.delivered + this.sinceRecord };
    }
    return { ...NO_COUNTERS, seen: this.read, delivered: this.read, accepts: this.accepted };
  }

  /** Lines the flight recorder that wrote the capture could not keep (its last counters record). */
  get notCaptured(): number {
    const n = this.recorded?.not_captured;
    return typeof n === 'number' && Number.isFinite(n) ? n : 0;
  }

  deliveryStats(): NativeDelivery {
    return this.recorded?.delivery ?? NO_DELIVERY;
  }

  /** Stops reading; what was read goes out first. Returns the counters the capture recorded. */
  close(): Counters {
    this.stopped = true;
    this.flush();
    return this.counters();
  }

  /** Replays the whole capture; 'end' when done. */
  async run(): Promise<void> {
    this.clock.begin();
    if (this.first !== undefined) await this.line(this.first);
    for await (const line of this.input.lines) {
      if (this.stopped) break;
      const waiting = this.line(line);
      if (waiting) await waiting;
    }
    this.flush();
    if (!this.stopped) await this.clock.advanceTo(this.endNs());
    this.census.end();
    await new Promise(setImmediate); // the census takes in what it was still waiting for
    this.done = true;
    this.emit('end');
  }

  private endNs(): number {
    const now = this.clock.nowNs;
    const end = this.final ? this.recorded!.ts_ns : now;
    return Number.isFinite(end) ? Math.max(end, now) : now;
  }

  /** One line; a promise only when the replay has to wait (pacing, the census, the loop's turn). */
  private line(text: string): Promise<void> | undefined {
    const json = parse(text);
    if (!json) { this.badLines++; return undefined; }
    switch (json.type) {
      case undefined: return this.event(eventFromJson(json), false);
      case 'accept': return this.event(eventFromJson(json, true), true);
      case 'census':
        this.flush();
        this.census.add(json as unknown as CensusRecord);
        return new Promise(setImmediate); // the census sorts in what it held meanwhile
      case 'counters': case 'end':
        this.flush();
        this.recorded = json as unknown as CountersRecord;
        this.sinceRecord = 0;
        if (json.type === 'end') this.final = this.recorded.counters;
        else return this.clock.captureTick(this.recorded.ts_ns).then(() => this.open.clear());
        return undefined;
      case 'open':
        this.flush();
        this.open.add(json as unknown as OpenRecord);
        return undefined;
      case 'pressure':
        this.flush();
        this.pressure.add(json as unknown as PressureRecord);
        return undefined;
      case 'capture':
        if (!this.header) this.useHeader(json as unknown as CaptureHeader);
        return undefined; // the next file of a flight recorder: same tracer
      default: return undefined; // a record type from a newer tcptrace
    }
  }

  private event(e: TcpEvent, isAccept: boolean): Promise<void> | undefined {
    if (Number.isFinite(this.clockOffsetMs)) e.time = this.clockOffsetMs + e.tsNs / 1e6;
    this.read++;
    this.clock.startAt(e.tsNs);
    const waiting = e.tsNs > this.clock.nowNs ? this.clock.advanceTo(e.tsNs) : undefined;
    return waiting ? waiting.then(() => this.deliver(e, isAccept)) : this.deliver(e, isAccept);
  }

  private deliver(e: TcpEvent, isAccept: boolean): Promise<void> | undefined {
    if (isAccept) this.accepted++;
    else {
      this.durations.refine(e);
      this.sinceRecord++;
    }
    if (this.matches && !this.matches(e)) return undefined;
    if (isAccept) {
      if (this.batch.length) this.flushEvents();
      this.accepts.push(e);
    } else {
      if (this.accepts.length) this.flushAccepts();
      this.batch.push(e);
      if (this.batch.length >= MAX_BATCH) {
        this.flushEvents();
        return new Promise(setImmediate); // the loop serves clients and timers between batches
      }
    }
    return undefined;
  }

  private flush(): void {
    this.flushEvents();
    this.flushAccepts();
  }

  private flushEvents(): void {
    if (!this.batch.length) return;
    const batch = this.batch;
    this.batch = [];
    this.delivered += batch.length;
    this.emit('events', batch);
  }

  private flushAccepts(): void {
    if (!this.accepts.length) return;
    const batch = this.accepts;
    this.accepts = [];
    this.emit('accepts', batch);
  }
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
