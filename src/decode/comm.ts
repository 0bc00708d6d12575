// A task's command name (comm) is up to 15 bytes that any process sets for itself
// (prctl PR_SET_NAME): usually UTF-8, but nothing enforces it. It is decoded as UTF-8; each
// byte that is not part of valid UTF-8 becomes the lone surrogate U+DC80..U+DCFF (Python's
// "surrogateescape"), so the exact bytes stay recoverable (commBytes) and JSON carries them as
// "\udcNN" (docs/SCHEMA.md). Valid UTF-8 never decodes to a surrogate: the mapping is exact.

const ESCAPED_BYTE = 0xdc00;

/** Length of the valid UTF-8 sequence starting at buf[i] (before `end`), or 0 if invalid. */
function sequenceLength(buf: Uint8Array, i: number, end: number): number {
  const b = buf[i];
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < end && buf[i + k] >= lo && buf[i + k] <= hi;
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    const lo = b === 0xe0 ? 0xa0 : 0x80;
    const hi = b === 0xed ? 0x9f : 0xbf; // ED A0..BF would encode a surrogate
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const lo = b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** buf[start, end) as text: UTF-8, invalid bytes as U+DC80..U+DCFF. */
export function decodeComm(buf: Uint8Array, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) if (buf[i] >= 0x80) { ascii = false; break; }
  if (ascii) return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
  let text = '';
  for (let i = start; i < end; ) {
    const b = buf[i];
    if (b < 0x80) {
      text += String.fromCharCode(b);
      i++;
      continue;
    }
    const n = sequenceLength(buf, i, end);
    if (n === 0) {
      text += String.fromCharCode(ESCAPED_BYTE + b);
      i++;
    } else {
      text += Buffer.from(buf.buffer, buf.byteOffset + i, n).toString('utf8');
      i += n;
    }
  }
  return text;
}

/** The exact bytes a decoded comm came from (the inverse of decodeComm). */
export function commBytes(text: string): Buffer {
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const prev = i > 0 ? text.charCodeAt(i - 1) : 0;
    const lone = c >= 0xdc80 && c <= 0xdcff && !(prev >= 0xd800 && prev <= 0xdbff);
    if (!lone) {
      run += text[i];
      continue;
    }
    parts.push(Buffer.from(run, 'utf8'), Buffer.of(c - ESCAPED_BYTE));
    run = '';
  }
  parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** A name as the kernel keeps it: its first 15 bytes (TASK_COMM_LEN - 1), decoded. */
export function kernelComm(name: string): string {
  const b = commBytes(name).subarray(0, 15);
  return decodeComm(b, 0, b.length);
}

/** The contents of /proc/PID/comm (the raw name and a newline) as text. */
export function procComm(file: Buffer): string {
  const end = file.length > 0 && file[file.length - 1] === 0x0a ? file.length - 1 : file.length;
  return decodeComm(file, 0, end);
}
