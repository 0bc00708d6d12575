// A process name in a text column, where three marks are tcptrace's own: `-` alone for "no owner
// known", a trailing `+` for a listener several processes hold and a trailing `*` for an owner
// that has exited (docs/ATTRIBUTION.md). Any process may call itself `-`, `nginx+` or `job*`, so
// a name that would read as a mark is written with the display rule's byte escape there
// (src/format/display.ts): `-` as \x2d, a last `+` as \x2b, a last `*` as \x2a.
// A backslash is always escaped itself, so the escape cannot be mistaken either.
import { displayText, fitDisplayed, type Shown } from './display';

/** `name` displayed, with what would read as one of the marks escaped. */
export function nameText(name: string): string {
  const text = displayText(name);
  if (text === '-') return '\\x2d';
  if (text.endsWith('+')) return `${text.slice(0, -1)}\\x2b`;
  return text.endsWith('*') ? `${text.slice(0, -1)}\\x2a` : text;
}

/** What follows a name: nothing, `+` (several holders of a listener) or `*` (owner exited). */
export type NameMark = '' | '+' | '*';

/** The name for a column of `width`, its mark (if any) within the width. */
export function shownName(name: string, width: number, mark: NameMark = ''): Shown {
  if (!mark) return fitDisplayed(nameText(name), width);
  const cut = fitDisplayed(nameText(name), width - 1);
  return { text: `${cut.text}${mark}`, columns: cut.columns + 1 };
}

/** `name` padded to `width` columns (or cut to them). */
export function paddedName(name: string, width: number): string {
  const shown = shownName(name, width);
  return shown.text + ' '.repeat(width - shown.columns);
}
