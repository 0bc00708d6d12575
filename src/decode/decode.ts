// Buffer of struct tcptrace_event records (one batch from the kernel) → TcpEvent[]. The per-event
// decoder is generated from the record (decode-event.generated.ts, scripts/gen-record.js).
import { EVENT_SIZE } from './record.generated';
import { decodeEvent } from './decode-event.generated';
import type { Clock } from './clock';
import type { TcpEvent } from './event';

export { Clock } from './clock';
export { decodeEvent };
export { EVENT_SIZE };

/** Decodes a whole batch; a trailing partial record (never expected) is ignored. */
export function decodeBatch(buf: Buffer, clock: Clock): TcpEvent[] {
  const n = Math.floor(buf.length / EVENT_SIZE);
  const out = new Array<TcpEvent>(n);
  for (let i = 0; i < n; i++) out[i] = decodeEvent(buf, i * EVENT_SIZE, clock);
  return out;
}
