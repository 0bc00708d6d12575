import type { FinishedConnection } from '../derive/connections';
import type { TcpEvent } from '../decode/event';
import type { StatusReport } from '../status';

/** A consumer of event batches. Sinks know nothing of each other. */
export interface Sink {
  /**
   * One batch of transitions, and the connections that finished in it. `finished` is filled
   * only when some reader needs it (a sink with `needsFinished`, or the stats engine): the
   * pipeline then runs its one connection tracker; otherwise it is empty.
   */
  write(batch: TcpEvent[], finished: readonly FinishedConnection[]): void;
  /** Set by sinks that read `finished`. */
  readonly needsFinished?: boolean;
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
