// One batch's events as JSON for the stream's `events` messages (src/sinks/ws/stream-sink.ts).
import type { TcpEvent } from '../../decode/event';
import { writeJsonEvent } from '../../format/schema-writer';
import type { ByteWriter } from '../../format/bytes';

const EVENTS_HEAD = Buffer.from('{"type":"events","events":[');

/**
 * One batch's events as JSON, each serialised the first time a client's message needs it and
 * never twice (clients with filters pick different events), followed by a comma.
 */
export class EncodedBatch {
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;

  constructor(private readonly w: ByteWriter, private readonly batch: TcpEvent[]) {
    this.starts = new Int32Array(batch.length).fill(-1);
    this.ends = new Int32Array(batch.length);
  }

  /**
   * An `events` message of the picked events (ascending indices), saying they are the 1 in
   * `sample` connections' share of `of` events the client's filter took (docs/STREAM.md).
   */
  message(picked: number[], sample: number, of: number): Buffer {
    const { starts, ends } = this;
    let bytes = 0;
    for (const i of picked) {
      if (starts[i] < 0) {
        starts[i] = this.w.length;
        writeJsonEvent(this.w, this.batch[i]);
        this.w.byte(0x2c);
        ends[i] = this.w.length;
      }
      bytes += ends[i] - starts[i];
    }
    const encoded = this.w.written();
    const tail = `],"sample":${sample},"of":${of}}`;
    const msg = Buffer.allocUnsafe(EVENTS_HEAD.length + bytes + tail.length);
    let pos = EVENTS_HEAD.copy(msg, 0);
    // Events written one after another are copied as one run; the last comma becomes "]".
    for (let k = 0; k < picked.length; ) {
      let j = k;
      while (j + 1 < picked.length && starts[picked[j + 1]] === ends[picked[j]]) j++;
      pos += encoded.copy(msg, pos, starts[picked[k]], ends[picked[j]]);
      k = j + 1;
    }
    if (picked.length > 0) pos--;
    pos += msg.write(tail, pos, 'latin1');
    return msg.subarray(0, pos);
  }
}
