// CSV cells safe for spreadsheets: the CSV sink and the --lifetimes CSV use them.
import { displayText } from './display';
import { nameText, type NameMark } from './names';

// What a spreadsheet may take for the start of a formula: = + - @ (and their full-width forms,
// which some convert), after any spaces, quotes or invisible format characters (U+200B, BOM...).
const FORMULA = /^(?:[\s"\p{Cf}\p{Z}]*[=+\-@\uff1d\uff0b\uff0d\uff20\ufe62\ufe63\u2212]|')/u;

/** A process name as one CSV cell: as csvCell, with tcptrace's marks escaped (format/names.ts). */
export function csvName(name: string, mark: NameMark = ''): string {
  return csvCell(name, name === '' ? '' : `${nameText(name)}${mark}`);
}

/**
 * A name as one CSV cell: escaped for display (src/format/display.ts, so no line breaks), then a cell
 * that a spreadsheet would run as a formula (FORMULA) gets a leading apostrophe, as does one that
 * already starts with an apostrophe (so removing one leading apostrophe always gives the name
 * back); then RFC 4180 quoting when it holds " or ,.
 */
export function csvCell(s: string, displayed = displayText(s)): string {
  let cell = displayed;
  if (FORMULA.test(cell)) cell = `'${cell}`;
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}
