// Feeds the stats engine or the metric feed as the pipeline's derive stage does: every batch
// with the connections that finished in it, from one tracker kept across batches.
import { ConnectionTracker } from '../../src/derive/connections';
import type { FinishedConnection } from '../../src/derive/connections';
import type { TcpEvent } from '../../src/decode/event';

export function withFinished(reader: { observe(batch: TcpEvent[], finished: readonly FinishedConnection[]): void }): (batch: TcpEvent[]) => void {
  const tracker = new ConnectionTracker();
  return (batch) => reader.observe(batch, tracker.observe(batch));
}
