// One CSV cell of text, safe for spreadsheets: the CSV sink and the --lifetimes CSV use it.
import { displayText } from './display';

/**
 * A name as one CSV cell: escaped for display (src/format/display.ts, so no line breaks), then a cell
 * that a spreadsheet would run as a formula (first character = + - @, also after spaces or
 * double quotes, which some importers strip) gets a leading apostrophe, as does one that
 * already starts with an apostrophe (so removing one leading apostrophe always gives the name
 * back); then RFC 4180 quoting when it holds " or ,.
 */
export function csvCell(s: string): string {
  let cell = displayText(s);
  if (/^(?:[\s"]*[=+\-@]|')/.test(cell)) cell = `'${cell}`;
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}
