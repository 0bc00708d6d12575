// A process name in a text column, where four marks are tcptrace's own: `-` alone for "no owner
// known", a trailing `+` for a listener several processes hold, a trailing `*` for an owner
// that has exited (docs/ATTRIBUTION.md) and `…` where a name was cut to its column. Any process
// may call itself `-`, `nginx+`, `job*` or `top…`, so a name that would read as a mark is
// written with the display rule's escape there (src/format/display.ts): `-` as \x2d, a last `+`
// as \x2b, a last `*` as \x2a, a last `…` as \u2026. A backslash is always escaped itself, so
// the escape cannot be mistaken either. The cut mark keeps a cut escape from hiding: a name
// ending in a zero-width space shows as `nginx…`, never as `nginx`.
import { displayText, fitMarked, type Shown } from './display';

/** `name` displayed, with what would read as one of the marks escaped. */
export function nameText(name: string): string {
  const text = displayText(name);
  if (text === '-') return '\\x2d';
  if (text.endsWith('+')) return `${text.slice(0, -1)}\\x2b`;
  if (text.endsWith('…')) return `${text.slice(0, -1)}\\u2026`;
  return text.endsWith('*') ? `${text.slice(0, -1)}\\x2a` : text;
}

/** What follows a name: nothing, `+` (several holders of a listener) or `*` (owner exited). */
export type NameMark = '' | '+' | '*';

/** The name for a column of `width`, its marks (cut, then `mark`) within the width. */
export function shownName(name: string, width: number, mark: NameMark = ''): Shown {
  const shown = fitMarked(nameText(name), width - mark.length);
  return mark ? { text: `${shown.text}${mark}`, columns: shown.columns + mark.length } : shown;
}

/** `name` padded to `width` columns (or cut to them). */
export function paddedName(name: string, width: number): string {
  const shown = shownName(name, width);
  return shown.text + ' '.repeat(width - shown.columns);
}
