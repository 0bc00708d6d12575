// Output lines built as UTF-8 bytes in one reusable buffer, a batch at a time.
// Why not strings: concatenating ~30 pieces per event builds V8 rope strings, and writing
// them then costs a flatten plus a UTF-8 encode of the whole batch; that was a third of the
// tracer's CPU under a storm (BENCHMARKS.md). Writing bytes directly costs a store per byte.
//
// The put* functions take the buffer and a position and return the next position: a row
// formatter that makes room once (ByteWriter.room) and keeps the position in a local is the
// cheapest shape for V8. Each needs 3 bytes of room per UTF-16 unit of text it writes.

import { terminalSafeJson } from './display';

/**
 * Where event output goes (the CLI's stdout): text, or UTF-8 bytes from a ByteWriter. Bytes
 * are only lent for the call: an Output that keeps a reference to them returns true.
 */
export type Output = (chunk: string | Uint8Array) => boolean | void;

const TWO_31 = 2 ** 31;
const SPACE = 0x20;
const DIGIT_0 = 0x30;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** the least of a buffer worth writing on in after its head was kept by a stream */
const MIN_TAIL = 16 << 10;

/** Text as UTF-8 (ASCII is the fast path). */
export function putText(buf: Buffer, p: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return p + buf.write(s.slice(i), p, 'utf8');
    buf[p++] = c;
  }
  return p;
}

export function putSpaces(buf: Buffer, p: number, n: number): number {
  // a loop: Buffer#fill validates its arguments in JS first, which costs more for short runs
  for (let i = 0; i < n; i++) buf[p++] = SPACE;
  return p;
}

/** Text padded with spaces to `width` characters (String.length, as padEnd counts). */
export function putPadded(buf: Buffer, p: number, s: string, width: number): number {
  return putSpaces(buf, putText(buf, p, s), width - s.length);
}

/** A non-negative integer in decimal, as String(n) writes it. */
export function putUint(buf: Buffer, p: number, n: number): number {
  if (!(n >= 0 && n < Number.MAX_SAFE_INTEGER && n === Math.floor(n))) return putText(buf, p, String(n));
  if (n < TWO_31) return putSmallUint(buf, p, n | 0);
  // Above 2^31 integer division needs doubles: split into two halves that fit int32 instead.
  const high = Math.floor(n / 1e9);
  p = putSmallUint(buf, p, high);
  let low = (n - high * 1e9) | 0;
  for (let q = p + 8; q >= p; q--) {
    const d = (low / 10) | 0;
    buf[q] = DIGIT_0 + low - d * 10;
    low = d;
  }
  return p + 9;
}

/** A non-negative int32 in decimal. */
function putSmallUint(buf: Buffer, p: number, v: number): number {
  if (v < 10) {
    buf[p] = DIGIT_0 + v;
    return p + 1;
  }
  let digits = 2;
  for (let t = 100; t <= v && digits < 10; t *= 10) digits++;
  let q = p + digits;
  while (v >= 10) {
    const d = (v / 10) | 0;
    buf[--q] = DIGIT_0 + v - d * 10;
    v = d;
  }
  buf[--q] = DIGIT_0 + v;
  return p + digits;
}

/** A non-negative integer padded with spaces to `width` characters. */
export function putPaddedUint(buf: Buffer, p: number, n: number, width: number): number {
  const end = putUint(buf, p, n);
  return putSpaces(buf, end, width - (end - p));
}

/**
 * A non-negative integer count of thousandths as a decimal: 1200 → "1.200", or with `trim`
 * "1.2" (and 1000 → "1"), which is how String() prints k / 1000 for k below 10^15.
 */
export function putThousandths(buf: Buffer, p: number, k: number, trim: boolean): number {
  const whole = Math.floor(k / 1000);
  let frac = k - whole * 1000;
  p = putUint(buf, p, whole);
  if (trim && frac === 0) return p;
  buf[p++] = 0x2e; // '.'
  const d1 = Math.floor(frac / 100);
  frac -= d1 * 100;
  const d2 = Math.floor(frac / 10);
  const d3 = frac - d2 * 10;
  buf[p++] = DIGIT_0 + d1;
  if (trim && d2 === 0 && d3 === 0) return p;
  buf[p++] = DIGIT_0 + d2;
  if (trim && d3 === 0) return p;
  buf[p++] = DIGIT_0 + d3;
  return p;
}

/** Milliseconds with exactly three decimals from nanoseconds, as (ns / 1e6).toFixed(3) prints them. */
export function putMsFixed3(buf: Buffer, p: number, ns: number): number {
  // Halfway cases (…500 ns) round by the double's exact value in toFixed: let it decide.
  if (!(ns >= 0 && ns <= 1e15 && ns === Math.floor(ns)) || ns - Math.floor(ns / 1000) * 1000 === 500) {
    return putText(buf, p, (ns / 1e6).toFixed(3));
  }
  return putThousandths(buf, p, Math.round(ns / 1000), false);
}

/**
 * A JSON string literal, escaped as JSON.stringify escapes it and then as terminalSafeJson
 * (src/format/display.ts) does. Needs 6 bytes of room per unit.
 */
export function putJsonString(buf: Buffer, p: number, s: string): number {
  const n = s.length;
  buf[p++] = QUOTE;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    // Rare (escapes, DEL, non-ASCII): JSON.stringify the rest; its closing quote ends ours.
    if (c < 0x20 || c >= 0x7f || c === QUOTE || c === BACKSLASH) return putText(buf, p, terminalSafeJson(JSON.stringify(s.slice(i))).slice(1));
    buf[p++] = c;
  }
  buf[p++] = QUOTE;
  return p;
}

/** A number as JSON.stringify writes it (non-finite numbers are null). */
export function putJsonNumber(buf: Buffer, p: number, n: number): number {
  if (n >= 0 && n < Number.MAX_SAFE_INTEGER && n === Math.floor(n)) return putUint(buf, p, n);
  return putText(buf, p, Number.isFinite(n) ? String(n) : 'null');
}

/**
 * A constant prepared for putBytes: its UTF-8 bytes as 32-bit words, each with where it goes.
 * The last word overlaps the one before when the length is not a multiple of 4, and a constant
 * of up to 16 bytes (most keys) is always four stores (the last repeated), so putBytes writes
 * it without a loop or a branch, and never past its end.
 */
export interface Constant {
  readonly length: number;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly at1: number;
  readonly at2: number;
  readonly at3: number;
  /** the words past the first four: offset, word, offset, word… */
  readonly more: Int32Array;
  /** a constant shorter than a word, byte by byte; else null */
  readonly short: Uint8Array | null;
}

export function bytes(s: string): Constant {
  const b = Buffer.from(s, 'utf8');
  const at: number[] = [];
  for (let o = 0; o + 4 <= b.length; o += 4) at.push(o);
  if (b.length % 4 && b.length >= 4) at.push(b.length - 4);
  while (at.length && at.length < 4) at.push(at[at.length - 1]);
  const w = at.map((o) => b.readInt32LE(o));
  return {
    length: b.length, w0: w[0] ?? 0, w1: w[1] ?? 0, w2: w[2] ?? 0, w3: w[3] ?? 0, at1: at[1] ?? 0, at2: at[2] ?? 0, at3: at[3] ?? 0,
    more: Int32Array.from(at.slice(4).flatMap((o, i) => [o, w[4 + i]])),
    short: b.length < 4 ? new Uint8Array(b) : null,
  };
}

// The DataView of the buffer putBytes wrote to last: writers fill one buffer for a whole batch.
let viewed: Buffer | undefined;
let view: DataView = new DataView(new ArrayBuffer(0));

/**
 * A constant (JSON keys, padded state names), four bytes per store: they are most of a JSON
 * line, and a byte-by-byte copy of them was a quarter of its cost (a loop over the words, half
 * of what is left).
 */
export function putBytes(buf: Buffer, p: number, c: Constant): number {
  if (buf !== viewed) {
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    viewed = buf;
  }
  if (c.short !== null) {
    for (let i = 0; i < c.short.length; i++) buf[p + i] = c.short[i];
    return p + c.length;
  }
  view.setInt32(p, c.w0, true);
  view.setInt32(p + c.at1, c.w1, true);
  view.setInt32(p + c.at2, c.w2, true);
  view.setInt32(p + c.at3, c.w3, true);
  const more = c.more;
  for (let i = 0; i < more.length; i += 2) view.setInt32(p + more[i], more[i + 1], true);
  return p + c.length;
}

export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(private readonly initialBytes = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.pos;
  }

  /** Makes room for `n` more bytes and returns the buffer to put them in at `length`. */
  room(n: number): Buffer {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    return this.buf;
  }

  /** Moves the write position to `p`, after puts into the buffer room() returned. */
  moveTo(p: number): void {
    this.pos = p;
  }

  /**
   * Lends the bytes written so far to `out` and starts over. Copying each batch out instead
   * cost ~10% of the table's CPU (a fresh allocation per batch). If `out` says it kept them (a
   * stream queued the chunk), they are never overwritten: the writer goes on in the rest of
   * the buffer, or in a new one, so kept chunks pin little more memory than their own bytes.
   */
  lendTo(out: Output): void {
    if (this.pos === 0) return;
    const kept = out(this.buf.subarray(0, this.pos));
    if (kept === true) {
      this.buf = this.buf.length - this.pos >= MIN_TAIL ? this.buf.subarray(this.pos) : Buffer.allocUnsafe(this.initialBytes);
    }
    this.pos = 0;
  }

  /** The bytes written so far, valid until the next write; then moveTo(0) starts over. */
  written(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  byte(b: number): void {
    this.room(1)[this.pos++] = b;
  }
}
