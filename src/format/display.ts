// The one rule for text a person reads (table, CSV, --lifetimes, --summary, the journal's
// MESSAGE, log lines): anything that could move the cursor, end a line or talk to the terminal
// is shown as a visible escape, never written raw. Process names are set by any local user, and
// tcptrace runs as root on root's terminal.
//
//   \\            a literal backslash (so every other backslash starts an escape)
//   \n \r \t      newline, carriage return, tab
//   \xNN          any other byte below 0x20, DEL (0x7f), and a byte that is not valid UTF-8
//   \uNNNN        a C1 control character (U+0080..U+009F) and every character that displays
//                 nothing or moves text: the bidi controls, zero-width spaces and joiners, word
//                 joiner, BOM, soft hyphen, line/paragraph separators, interlinear annotation
//                 and tag characters (INVISIBLE below; an astral one as its two surrogates)
//
// Everything else (valid UTF-8) is shown as itself. Invalid bytes reach here as U+DC80..U+DCFF
// (src/decode/comm.ts). Column widths count what is displayed (escapes, wide and zero-width characters).

const HEX = '0123456789abcdef';

function hex2(n: number): string {
  return HEX[(n >> 4) & 15] + HEX[n & 15];
}

function hex4(n: number): string {
  return hex2(n >> 8) + hex2(n & 255);
}

/**
 * Code points escaped besides C0 and the backslash, as [first, last] ranges: DEL, C1 and the
 * invisible format and separator characters. The dashboard's rule (web/core.js) is checked
 * against this list (test/unit/display.test.ts).
 */
export const INVISIBLE: readonly (readonly [number, number])[] = [
  [0x7f, 0x9f], [0xad, 0xad], [0x61c, 0x61c], [0x180e, 0x180e], [0x200b, 0x200f], [0x2028, 0x202e],
  [0x2060, 0x2064], [0x2066, 0x206f], [0xfeff, 0xfeff], [0xfff9, 0xfffb],
  [0x13430, 0x1343f], [0x1bca0, 0x1bca3], [0x1d173, 0x1d17a], [0xe0001, 0xe0001], [0xe0020, 0xe007f],
];

/** Code units that need an escape: a table instead of a chain of comparisons. */
const NEEDS_ESCAPE = new Uint8Array(0x10000);
for (let c = 0; c < 0x20; c++) NEEDS_ESCAPE[c] = 1;
NEEDS_ESCAPE[0x5c] = 1;
for (const [first, last] of INVISIBLE) for (let c = first; c <= Math.min(last, 0xffff); c++) NEEDS_ESCAPE[c] = 1;
for (let c = 0xd800; c <= 0xdfff; c++) NEEDS_ESCAPE[c] = 1; // surrogates: looked at in pairs

function invisibleAstral(cp: number): boolean {
  return cp > 0xffff && INVISIBLE.some(([first, last]) => cp >= first && cp <= last);
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function escapeUnit(c: number): string {
  if (c === 0x5c) return '\\\\';
  if (c === 0x0a) return '\\n';
  if (c === 0x0d) return '\\r';
  if (c === 0x09) return '\\t';
  if (c < 0x20 || c === 0x7f) return `\\x${hex2(c)}`;
  if (c >= 0xdc80 && c <= 0xdcff) return `\\x${hex2(c - 0xdc00)}`; // an invalid byte
  return `\\u${hex4(c)}`;
}

/** `s` as it may be shown to a person: see the rule above. */
export function displayText(s: string): string {
  const n = s.length;
  let i = 0;
  // Fast path: nothing to escape (almost every name) returns `s` itself.
  for (; i < n; i++) if (NEEDS_ESCAPE[s.charCodeAt(i)] === 1) break;
  if (i === n) return s;
  let out = s.slice(0, i);
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (isHigh(c) && i + 1 < n && isLow(s.charCodeAt(i + 1))) {
      const pair = s[i] + s[i + 1];
      out += invisibleAstral(pair.codePointAt(0)!) ? `\\u${hex4(c)}\\u${hex4(s.charCodeAt(i + 1))}` : pair;
      i++;
    } else {
      out += NEEDS_ESCAPE[c] === 1 ? escapeUnit(c) : s[i];
    }
  }
  return out;
}

// JSON.stringify escapes C0 controls but leaves these raw, and a terminal acts on them too
// (NDJSON is often read on one): DEL, C1 and the invisible characters.
const RAW_IN_JSON = new RegExp(`[${invisibleClass()}]`, 'gu');

/** INVISIBLE as the body of a regular expression character class (for the `u` flag). */
export function invisibleClass(): string {
  const cp = (c: number) => `\\u{${c.toString(16)}}`;
  return INVISIBLE.map(([first, last]) => (first === last ? cp(first) : `${cp(first)}-${cp(last)}`)).join('');
}

/**
 * JSON text (JSON.stringify's output) with those characters written as \uNNNN escapes: valid
 * JSON of the same value (they only occur inside strings, never within an escape).
 */
export function terminalSafeJson(json: string): string {
  return json.replace(RAW_IN_JSON, (c) => Array.from({ length: c.length }, (_, k) => `\\u${hex4(c.charCodeAt(k))}`).join(''));
}

// Terminal columns, as glibc's wcwidth counts them (all but 27 assigned code points agree):
// combining marks, format characters (zero-width spaces, joiners, BOM, tag characters) and
// Hangul medial/final jamo take none; East Asian wide/fullwidth and emoji presentation take two.
const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}\u1160-\u11ff\ud7b0-\ud7ff]/u;
/** Format characters shown with a width of their own (prepended concatenation marks). */
const VISIBLE_FORMAT = /[\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u{110bd}\u{110cd}]/u;
const WIDE = /[\p{Emoji_Presentation}\u1100-\u115f\u231a\u231b\u2329\u232a\u2e80-\u303e\u3041-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6\u{16fe0}-\u{18d7f}\u{1aff0}-\u{1b2ff}\u{1f200}-\u{1f2ff}\u{20000}-\u{3fffd}]/u;

/** Terminal columns of one code point (0, 1 or 2). */
function codePointColumns(cp: number): number {
  if (cp < 0x300) return 1;
  const ch = String.fromCodePoint(cp);
  if (ZERO_WIDTH.test(ch) && !VISIBLE_FORMAT.test(ch)) return 0;
  return WIDE.test(ch) ? 2 : 1;
}

/**
 * Displayed text cut to at most `width` columns, never inside an escape or a character, with
 * its width. Input is displayText's output.
 */
function fit(text: string, width: number): { text: string; columns: number } {
  let columns = 0;
  let i = 0;
  while (i < text.length) {
    let units = 1;
    let cols: number;
    const c = text.charCodeAt(i);
    if (c === 0x5c) {
      const kind = text[i + 1];
      units = kind === 'x' ? 4 : kind === 'u' ? 6 : 2;
      cols = units;
    } else if (isHigh(c) && i + 1 < text.length) {
      units = 2;
      cols = codePointColumns(text.codePointAt(i) ?? c);
    } else {
      cols = codePointColumns(c);
    }
    if (columns + cols > width) break;
    columns += cols;
    i += units;
  }
  return { text: i === text.length ? text : text.slice(0, i), columns };
}

/**
 * Displayed text (displayText's output) in at most `width` columns, with its width: whole, or
 * cut with `…` as its last column, so that a cut (of an escape, say) never looks whole.
 */
export function fitMarked(text: string, width: number): Shown {
  const whole = fit(text, width);
  if (whole.text.length === text.length) return whole;
  const cut = fit(text, width - 1);
  return { text: `${cut.text}…`, columns: cut.columns + 1 };
}

/** Terminal columns of displayed text. */
export function displayColumns(text: string): number {
  return fit(text, Infinity).columns;
}

/** A name ready for a fixed-width column: its displayed text cut to the width, and its columns. */
export interface Shown {
  readonly text: string;
  readonly columns: number;
}

/** `s` displayed and cut to `width` columns. */
export function shownColumn(s: string, width: number): Shown {
  return fit(displayText(s), width);
}

/** `s` padded to `width` columns as displayed text, or cut to them with `…` as its last. */
export function padColumn(s: string, width: number): string {
  const shown = fitMarked(displayText(s), width);
  return shown.text + ' '.repeat(width - shown.columns);
}

/**
 * Memoises a formatting of strings that repeat (process names): the sinks look up the same few
 * names millions of times. The last hit is checked first (consecutive events share a name).
 */
export class TextMemo<T> {
  private readonly entries = new Map<string, T>();
  private lastKey: string | undefined;
  private lastValue!: T;

  constructor(private readonly format: (s: string) => T, private readonly limit = 4096) {}

  get(s: string): T {
    if (s === this.lastKey) return this.lastValue;
    let v = this.entries.get(s);
    if (v === undefined) {
      v = this.format(s);
      if (this.entries.size >= this.limit) this.entries.clear();
      this.entries.set(s, v);
    }
    this.lastKey = s;
    this.lastValue = v;
    return v;
  }
}
