// Output lines built as UTF-8 bytes in one reusable buffer, a batch at a time.
// Why not strings: concatenating ~30 pieces per event builds V8 rope strings, and writing
// them then costs a flatten plus a UTF-8 encode of the whole batch; that was a third of the
// tracer's CPU under a storm (BENCHMARKS.md). Writing bytes directly costs a store per byte.

const TWO_31 = 2 ** 31;
const SPACE = 0x20;
const DIGIT_0 = 0x30;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.pos;
  }

  /** Makes room for `n` more bytes. Callers reserve before a run of unchecked writes. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** The bytes written since the last take(), as a Buffer of their own; the writer is reset. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    return out;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.pos++] = b;
  }

  /** Text as UTF-8 (any string; ASCII is the fast path). */
  text(s: string): void {
    const n = s.length;
    this.reserve(n * 3);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) buf[p++] = c;
      else {
        this.pos = p;
        this.utf8Rest(s, i);
        return;
      }
    }
    this.pos = p;
  }

  /** Text padded with spaces to `width` characters (String.length, as padEnd counts). */
  padded(s: string, width: number): void {
    this.text(s);
    this.spaces(width - s.length);
  }

  /** The first `width` characters of `s`, padded to `width`: a fixed-width column. */
  column(s: string, width: number): void {
    this.padded(s.length > width ? s.slice(0, width) : s, width);
  }

  /** A JSON string literal, escaped exactly as JSON.stringify escapes it. */
  jsonString(s: string): void {
    const n = s.length;
    this.reserve(n + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = QUOTE;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c >= 0x80 || c === QUOTE || c === BACKSLASH) {
        // Rare (escapes, non-ASCII): JSON.stringify the rest; its closing quote ends ours.
        this.pos = p;
        this.text(JSON.stringify(s.slice(i)).slice(1));
        return;
      }
      buf[p++] = c;
    }
    buf[p++] = QUOTE;
    this.pos = p;
  }

  /** A number as JSON.stringify writes it (non-finite numbers are null). */
  jsonNumber(n: number): void {
    if (n >= 0 && n < Number.MAX_SAFE_INTEGER && n === Math.floor(n)) this.uint(n);
    else this.text(Number.isFinite(n) ? String(n) : 'null');
  }

  /** A non-negative integer padded with spaces to `width` characters. */
  paddedUint(n: number, width: number): void {
    const start = this.pos;
    this.uint(n);
    this.spaces(width - (this.pos - start));
  }

  spaces(n: number): void {
    if (n <= 0) return;
    this.reserve(n);
    const buf = this.buf;
    let p = this.pos;
    // a loop: Buffer#fill validates its arguments in JS first, which costs more for short runs
    for (let i = 0; i < n; i++) buf[p++] = SPACE;
    this.pos = p;
  }

  /** A non-negative integer in decimal, as String(n) writes it. */
  uint(n: number): void {
    if (n < 10 && n >= 0 && n === Math.floor(n)) {
      this.byte(DIGIT_0 + n);
      return;
    }
    if (!(n < Number.MAX_SAFE_INTEGER && n > 0 && n === Math.floor(n))) {
      this.text(String(n));
      return;
    }
    let digits = 1;
    for (let t = 10; t <= n; t *= 10) digits++;
    this.reserve(digits);
    const buf = this.buf;
    let p = this.pos + digits;
    this.pos = p;
    if (n < TWO_31) {
      let v = n | 0;
      while (v >= 10) {
        const q = (v / 10) | 0;
        buf[--p] = DIGIT_0 + v - q * 10;
        v = q;
      }
      buf[--p] = DIGIT_0 + v;
    } else {
      let v = n;
      while (v >= 10) {
        const q = Math.floor(v / 10);
        buf[--p] = DIGIT_0 + v - q * 10;
        v = q;
      }
      buf[--p] = DIGIT_0 + v;
    }
  }

  /**
   * A non-negative integer count of thousandths as a decimal: 1200 → "1.200", or with `trim`
   * "1.2" (and 1000 → "1"), which is how String() prints k / 1000 for k below 10^15.
   */
  thousandths(k: number, trim: boolean): void {
    const whole = Math.floor(k / 1000);
    let frac = k - whole * 1000;
    this.uint(whole);
    if (trim && frac === 0) return;
    this.reserve(4);
    const buf = this.buf;
    buf[this.pos++] = 0x2e; // '.'
    const d1 = Math.floor(frac / 100);
    frac -= d1 * 100;
    const d2 = Math.floor(frac / 10);
    const d3 = frac - d2 * 10;
    buf[this.pos++] = DIGIT_0 + d1;
    if (trim && d2 === 0 && d3 === 0) return;
    buf[this.pos++] = DIGIT_0 + d2;
    if (trim && d3 === 0) return;
    buf[this.pos++] = DIGIT_0 + d3;
  }

  private utf8Rest(s: string, from: number): void {
    const bytes = Buffer.from(s.slice(from), 'utf8');
    this.reserve(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }
}

/** Milliseconds with exactly three decimals from nanoseconds, as (ns / 1e6).toFixed(3) prints them. */
export function writeMsFixed3(w: ByteWriter, ns: number): void {
  // Halfway cases (…500 ns) round by the double's exact value in toFixed: let it decide.
  if (ns < 0 || ns > 1e15 || ns % 1000 === 500 || ns !== Math.floor(ns)) {
    w.text((ns / 1e6).toFixed(3));
    return;
  }
  w.thousandths(Math.round(ns / 1000), false);
}
