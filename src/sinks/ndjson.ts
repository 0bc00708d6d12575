// One JSON object per line (docs/SCHEMA.md), written a batch at a time.
import type { TcpEvent } from '../event';
import { toJsonEvent } from '../schema';
import type { Sink, Writer } from './sink';

export class NdjsonSink implements Sink {
  constructor(private readonly out: Writer) {}

  write(batch: TcpEvent[]): void {
    if (batch.length === 0) return;
    let text = '';
    for (const e of batch) text += `${JSON.stringify(toJsonEvent(e))}\n`;
    this.out(text);
  }
}
