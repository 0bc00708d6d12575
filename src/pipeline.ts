// The push pipeline from the tracer to the sinks, the same for the CLI and library users:
//   tracer (probe → decode → attribute → filter) → enrich (cgroup) → derive (census, connections,
//   stats) → every sink.
// The derived state is fed before the sinks so that a sink reading it sees the batch counted.
// What runs is what the sinks read (Sink.reads): one connection tracker follows sockets from open
// to CLOSE for every reader of finished connections (the stats engine, --lifetimes, the
// metrics), and the enrich stage stores the cgroup for the sinks that write it.
import { ConnectionTracker, type FinishedConnection } from './derive/connections';
import type { TcpEvent } from './decode/event';
import type { TracerEvents } from './tracer';
import type { SocketCensus } from './census/census';
import type { StatsEngine } from './derive/stats';
import type { ListenerPressure } from './derive/listener-pressure';
import { statusReport, type TracerStatus } from './status';
import { allReads, type Sink } from './sinks/sink';
import { CgroupEnricher } from './enrich/cgroup';

/** What the pipeline listens to: a Tracer, or anything that emits the same batches and tells its status. */
export interface EventSource extends TracerStatus {
  /** A source with a clock of its own (a replay) runs the periodic reports in its time. */
  every?(ms: number, fn: () => void): () => void;
  on<K extends 'events' | 'accepts'>(event: K, listener: (...args: TracerEvents[K]) => void): unknown;
  off<K extends 'events' | 'accepts'>(event: K, listener: (...args: TracerEvents[K]) => void): unknown;
}

export interface Derived {
  /** Runs first on each batch: facts stored on the events (by default the cgroup stage, when a sink writes it). */
  enrich?: (batch: TcpEvent[]) => void;
  /** Sockets in each state now (fed first: the stats and metrics read it). */
  census?: SocketCensus;
  /** The one stats engine, when a sink reads it. */
  stats?: StatsEngine;
  /** Samples the accept queue of listeners whose connections show pressure (handshake diagnosis). */
  pressure?: ListenerPressure;
}

const NONE_FINISHED: readonly FinishedConnection[] = Object.freeze([]);

export class Pipeline {
  /** Present when the stats engine or a sink reads finished connections. */
  private readonly connections?: ConnectionTracker;
  private readonly timers: (() => void)[] = [];
  private readonly onEvents = (batch: TcpEvent[]): void => this.push(batch);
  private readonly onAccepts = (batch: TcpEvent[]): void => this.pushAccepts(batch);

  private readonly enrich?: (batch: TcpEvent[]) => void;

  constructor(private readonly source: EventSource, private readonly sinks: readonly Sink[], private readonly derived: Derived = {}) {
    const reads = allReads(sinks.map((sink) => sink.reads));
    this.enrich = derived.enrich ?? (reads.cgroup ? new CgroupEnricher().enrich : undefined);
    if (derived.stats || reads.finished) this.connections = new ConnectionTracker();
    if (derived.stats && !derived.census && this.connections) derived.stats.countStatesOf(this.connections);
    this.startTicks();
    for (const sink of sinks) sink.start?.();
    source.on('events', this.onEvents);
    source.on('accepts', this.onAccepts);
  }

  /**
   * One timer for every periodic sink, at the greatest common period: the sinks due on a tick
   * share one status and no batch comes between them (with a timer each, a batch delivered from
   * a promise could: Node runs microtasks between timers), so a capture's ticks mark where the
   * other reports fell (src/source/replay-clock.ts). The source keeps the process alive while it
   * traces; this timer never does by itself.
   */
  private startTicks(): void {
    const periodic = this.sinks.filter((sink) => sink.tick && sink.tickMs).sort((a, b) => Number(Boolean(a.ticksLast)) - Number(Boolean(b.ticksLast)));
    if (!periodic.length) return;
    const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
    const base = periodic.map((sink) => Math.round(sink.tickMs!)).reduce(gcd);
    let n = 0;
    const tick = () => {
      n++;
      const status = statusReport(this.source);
      for (const sink of periodic) if (n % Math.round(sink.tickMs! / base) === 0) sink.tick!(status);
    };
    if (this.source.every) this.timers.push(this.source.every(base, tick));
    else {
      const timer = setInterval(tick, base).unref();
      this.timers.push(() => clearInterval(timer));
    }
  }

  /** One batch of transitions, through the derived state, then to every sink. */
  push(batch: TcpEvent[]): void {
    this.enrich?.(batch);
    this.derived.census?.observe(batch);
    this.derived.pressure?.observe(batch);
    const finished = this.connections ? this.connections.observe(batch) : NONE_FINISHED;
    this.derived.stats?.observe(batch, finished);
    for (const sink of this.sinks) sink.write(batch, finished);
  }

  /** Accept records (not transitions): the accept-queue waits. */
  pushAccepts(batch: TcpEvent[]): void {
    this.derived.stats?.observeAccepts(batch);
    for (const sink of this.sinks) sink.accepts?.(batch);
  }

  /** Stops listening and ticking and ends every sink; the promises are the sinks still flushing. */
  end(): Promise<void>[] {
    this.source.off('events', this.onEvents);
    this.source.off('accepts', this.onAccepts);
    for (const cancel of this.timers.splice(0)) cancel();
    const ending = this.sinks.filter((sink) => sink.end);
    if (ending.length === 0) return [];
    const status = statusReport(this.source);
    return ending.map((sink) => sink.end!(status)).filter((p): p is Promise<void> => p instanceof Promise);
  }
}
