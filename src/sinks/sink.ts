import type { TcpEvent } from '../event';

/** A consumer of event batches. Sinks know nothing of each other. */
export interface Sink {
  write(batch: TcpEvent[]): void;
  /** Accept records (accept() returned these sockets), for sinks that measure the accept-queue wait. */
  accepts?(batch: TcpEvent[]): void;
  /** Called once when tracing stops (after the final batch); may return a flush promise. */
  end?(): void | Promise<void>;
}

/** Where text goes: a line logger, or a sink's output. */
export type Writer = (text: string) => void;

export type { Output } from '../util/bytes';
