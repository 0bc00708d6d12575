import type { FinishedConnection } from '../derive/connections';
import type { TcpEvent } from '../decode/event';
import type { StatusReport } from '../status';
import { STATS_READS } from '../derive/stats';

/**
 * What a sink reads besides the batches. Each sink's is declared once, in the table of sinks
 * (src/sinks/index.ts); the probe (accept records), the derive stage (census, stats engine,
 * connection tracker) and the pipeline (enrich stage) are configured from the sinks asked for.
 */
export interface Reads {
  /** the connections that finished in each batch (write's `finished`; the pipeline's connection tracker) */
  readonly finished?: boolean;
  /** the owner's cgroup path and container on each event (the pipeline's enrich stage) */
  readonly cgroup?: boolean;
  /** accept records (the probe sends them only then; the pipeline hands them to accepts()) */
  readonly accepts?: boolean;
  /** sockets in each state now (the census, started at attach) */
  readonly census?: boolean;
  /** the one stats engine (which itself reads what derive/stats.ts STATS_READS says) */
  readonly stats?: boolean;
  /** connections still open with their figures so far, read through sock_diag at a report (derive/open-connections.ts) */
  readonly open?: boolean;
  /** each connection's totals at its CLOSE (TcpEvent.totals: the kernel reads them only then) */
  readonly totals?: boolean;
}

/** Everything these readers read; one that reads the stats engine reads what the engine reads too. */
export function allReads(reads: readonly (Reads | undefined)[]): Reads {
  const all: { -readonly [K in keyof Reads]: Reads[K] } = {};
  for (const r of reads) {
    for (const [k, v] of Object.entries({ ...r, ...(r?.stats ? STATS_READS : {}) })) if (v) all[k as keyof Reads] = true;
  }
  return all;
}

/** A consumer of event batches. Sinks know nothing of each other. */
export interface Sink {
  /** What it reads (set by buildSinks from the table of sinks; a sink of your own sets it itself). */
  readonly reads?: Reads;
  /** writes a capture: ticks after the other sinks, so what their reports read precedes its counters record */
  readonly ticksLast?: boolean;
  /**
   * One batch of transitions, and the connections that finished in it. `finished` is filled
   * only when some reader needs it (a sink that reads `finished`, or the stats engine): the
   * pipeline then runs its one connection tracker; otherwise it is empty.
   */
  write(batch: TcpEvent[], finished: readonly FinishedConnection[]): void;
  /** Accept records (accept() returned these sockets), for sinks that measure the accept-queue wait. */
  accepts?(batch: TcpEvent[]): void;
  /** Called once when the pipeline begins (its periodic reports count from here). */
  start?(): void;
  /** Milliseconds between tick() calls: the pipeline runs the timer for sinks that report periodically. */
  readonly tickMs?: number;
  /** A periodic report (every tickMs), with the tracer's counters and facts now. */
  tick?(status: StatusReport): void;
  /** Called once when tracing stops (after the final batch), with the final counters; may return a flush promise. */
  end?(status: StatusReport): void | Promise<void>;
  /** The flight recorder: saves what it recorded lately as one file, resolves to its path. */
  saveRecent?(): Promise<string>;
}

/** Where text goes: a line logger, or a sink's output. */
export type Writer = (text: string) => void;

export type { Output } from '../format/bytes';
