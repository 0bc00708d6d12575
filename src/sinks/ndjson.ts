// One JSON object per line (docs/SCHEMA.md), written a batch at a time.
import type { TcpEvent } from '../decode/event';
import { writeJsonEvent } from '../format/schema-writer';
import { ByteWriter } from '../format/bytes';
import type { Output, Sink } from './sink';

export class NdjsonSink implements Sink {
  private readonly bytes = new ByteWriter();

  constructor(private readonly out: Output) {}

  write(batch: TcpEvent[]): void {
    if (batch.length === 0) return;
    const w = this.bytes;
    w.moveTo(0); // nothing half-written survives a batch that threw
    for (const e of batch) {
      writeJsonEvent(w, e);
      w.byte(0x0a);
    }
    w.lendTo(this.out);
  }
}
