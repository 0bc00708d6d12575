// The library API: a live stream of typed TcpEvent batches with exact loss accounting.
//   const t = Tracer.open({ filter: { localPorts: [443] } });
//   t.on('events', (batch) => ...);   or   for await (const ev of t) ...
//   const summary = t.close();
import { EventEmitter } from 'node:events';
import { Attributor } from './enrich/attribute';
import { Clock, decodeBatch } from './decode/decode';
import type { TcpEvent } from './decode/event';
import { startProbe, type AttachMode, type Delivery, type LeftOutProgram, type ProbeOptions, type StartedProbe } from './probe/probe';
import type { NativeCounters, NativeDelivery, Probe } from './native/addon';
import { OwnerGate, ownerMatcher } from './filter/filter';
import { beforeAccept } from './enrich/listener-holders';
import type { Counters } from './status';

/** Accept records are not transitions: they go out on their own channel. */
function splitAccepts(records: TcpEvent[]): { transitions: TcpEvent[]; accepts: TcpEvent[] } {
  const accepts: TcpEvent[] = [];
  let transitions = records;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r.isAccept) {
      if (transitions === records) transitions = records.slice(0, i);
      accepts.push(r);
    } else if (transitions !== records) {
      transitions.push(r);
    }
  }
  return { transitions, accepts };
}

export interface TracerOptions extends ProbeOptions {
  /** Look up owners of sockets that predate the tracer in /proc (default true). */
  procAttribution?: boolean;
}

export type { Counters } from './status';

export interface TracerEvents {
  events: [TcpEvent[]];
  /** accept() returned these sockets: owner = the accepting process, acceptWaitUs = queue wait */
  accepts: [TcpEvent[]];
  close: [Counters];
}

export class Tracer extends EventEmitter<TracerEvents> {
  readonly attach: AttachMode;
  readonly delivery: Delivery;
  readonly programs: string[];
  /** Programs this kernel could not load, each with the piece it lacks. */
  readonly leftOut: LeftOutProgram[];
  /**
   * null, or this kernel runs no BPF program while PID 1 is the current task (a sandbox patch):
   * state changes made then are counted in counters().hidden, unless `uncounted` says why not
   * (read now: the count can stop being whole after start).
   */
  get pid1Hiding(): { uncounted: string } | null {
    return this.probe.pid1Hiding();
  }
  /** performance.now() when the BPF programs were attached (events are captured from then on). */
  readonly attachedAt: number;
  private readonly probe: Probe;
  private readonly clock = new Clock();
  private readonly attributor?: Attributor;
  /** the owner filter (--pid/--comm/--cgroup) finished in user space, if one is set */
  private readonly gate?: OwnerGate;
  private delivered = 0;
  private accepts = 0;
  private final?: Counters;

  private constructor(options: TracerOptions, started: StartedProbe) {
    super();
    const f = options.filter ?? {};
    const ownerOk = ownerMatcher({ pid: f.pid, comm: f.comm, cgroupId: f.cgroupId, states: f.states });
    if (ownerOk) this.gate = new OwnerGate(ownerOk, beforeAccept);
    const opened = started.finish((records) => this.onRecords(records));
    this.attachedAt = opened.attachedAt;
    // After attach: every socket older than this snapshot is now covered by /proc.
    if (options.procAttribution !== false) {
      this.attributor = new Attributor();
      // Now, not later: a socket older than the tracer may close its fd any moment.
      this.attributor.prime();
    }
    this.probe = opened.probe;
    this.attach = opened.attach;
    this.delivery = opened.delivery;
    this.programs = opened.programs;
    this.leftOut = opened.leftOut;
  }

  /**
   * Loads and attaches the BPF program; throws ProbeError with a one-line reason. `started`
   * (startProbe(options), same options) is a load begun earlier on a native thread.
   */
  static open(options: TracerOptions = {}, started: StartedProbe = startProbe(options)): Tracer {
    return new Tracer(options, started);
  }

  private onRecords(records: Buffer): void {
    const decoded = decodeBatch(records, this.clock);
    this.attributor?.resolve(decoded);
    const { transitions, accepts } = splitAccepts(decoded);
    const batch = this.gate ? this.gate.pass(decoded) : transitions;
    this.delivered += batch.length;
    this.accepts += accepts.length;
    this.emit('events', batch);
    if (accepts.length) this.emit('accepts', accepts);
  }

  /** wall-clock ms = clockOffsetMs + tsNs / 1e6 for this tracer's events (a capture records it) */
  get clockOffsetMs(): number {
    return this.clock.offsetMs;
  }

  /** How close delivery came to loss (ring high-water mark, drain thread); valid after close(). */
  deliveryStats(): NativeDelivery {
    return this.probe.delivery();
  }

  private get filtered(): number {
    return this.gate?.filtered ?? 0;
  }

  counters(): Counters {
    if (this.final) return this.final;
    return this.withKernel(this.probe.counters());
  }

  private withKernel(c: NativeCounters): Counters {
    return { seen: c.seen, delivered: this.delivered, filtered: this.filtered, lost: c.dropped, missed: c.missed, nested: c.nested, hidden: c.hidden, accepts: this.accepts, acceptsLost: c.acceptsLost };
  }

  get closed(): boolean {
    return this.final !== undefined;
  }

  /** Detaches, delivers everything still queued, and returns the exact final counters. */
  close(): Counters {
    if (this.final) return this.final;
    const c = this.probe.close();
    const undecided = this.gate?.flush() ?? [];
    if (undecided.length) {
      this.delivered += undecided.length;
      this.emit('events', undecided);
    }
    this.final = this.withKernel(c);
    this.emit('close', this.final);
    return this.final;
  }

  /** Iterates events one by one until close(); buffers while the consumer is busy. */
  async *[Symbol.asyncIterator](): AsyncGenerator<TcpEvent> {
    let queue: TcpEvent[] = [];
    let wake: (() => void) | undefined;
    const onEvents = (batch: TcpEvent[]) => { for (const e of batch) queue.push(e); wake?.(); };
    const onClose = () => wake?.();
    this.on('events', onEvents);
    this.on('close', onClose);
    try {
      for (;;) {
        const ready = queue;
        queue = [];
        for (const e of ready) yield e;
        if (this.closed) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      this.off('events', onEvents);
      this.off('close', onClose);
    }
  }
}
