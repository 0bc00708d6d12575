import type { TcpEvent } from '../event';

/** A consumer of event batches. Sinks know nothing of each other. */
export interface Sink {
  write(batch: TcpEvent[]): void;
  /** Called once when tracing stops (after the final batch); may return a flush promise. */
  end?(): void | Promise<void>;
}

/** Where text goes: the CLI passes a function writing to stdout. */
export type Writer = (text: string) => void;
