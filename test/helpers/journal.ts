// Reads journald's native protocol back into fields: the test listener's half of
// src/sinks/journal.ts (which only writes it).
import { decodeComm } from '../../src/decode/comm';
import type { JournalField } from '../../src/sinks/journal';

/** Parses the native format back into fields (the test listener). */
export function decodeEntry(buf: Buffer): JournalField[] {
  const out: JournalField[] = [];
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(0x0a, at);
    if (nl < 0) throw new RangeError('journal entry: field without a newline');
    const line = buf.subarray(at, nl).toString('utf8');
    const eq = line.indexOf('=');
    if (eq >= 0) {
      out.push([line.slice(0, eq), line.slice(eq + 1)]);
      at = nl + 1;
    } else {
      const len = Number(buf.readBigUInt64LE(nl + 1));
      const start = nl + 9;
      out.push([line, decodeComm(buf, start, start + len)]);
      if (buf[start + len] !== 0x0a) throw new RangeError('journal entry: binary field not followed by a newline');
      at = start + len + 1;
    }
  }
  return out;
}

