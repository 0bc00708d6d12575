// CSV, bcc's -s columns plus owner/cause; one header line, then a row per transition.
import type { TcpEvent } from '../decode/event';
import { stateName } from '../decode/states';
import { causeText, ClockText, msText, RelativeText, type TimeColumn } from '../format/columns';
import { displayText, TextMemo } from '../format/display';
import { nameText, type NameMark } from '../format/names';
import type { Sink, Writer } from './sink';

export interface CsvOptions {
  time: TimeColumn;
  onCpu: boolean;
}

export function csvHeader(o: CsvOptions): string {
  const time = o.time === 'clock' ? 'TIME,' : o.time === 'relative' ? 'TIME(s),' : '';
  return `${time}SKADDR,PID,COMM,${o.onCpu ? 'C-PID,C-COMM,' : ''}IP,LADDR,LPORT,RADDR,RPORT,OLDSTATE,NEWSTATE,MS,CAUSE`;
}

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

export class CsvSink implements Sink {
  private readonly clock = new ClockText();
  private readonly relative = new RelativeText();
  private readonly names = new TextMemo((s) => csvName(s));
  private readonly sharedNames = new TextMemo((s) => csvName(s, '+'));
  private readonly exitedNames = new TextMemo((s) => csvName(s, '*'));

  constructor(private readonly out: Writer, private readonly o: CsvOptions) {
    out(`${csvHeader(o)}\n`);
  }

  line(e: TcpEvent): string {
    const o = this.o;
    const time = o.time === 'clock' ? `${this.clock.format(e.time)},` : o.time === 'relative' ? `${this.relative.format(e.tsNs)},` : '';
    const known = e.ownerSource !== 'unknown';
    const cpu = o.onCpu ? `${e.cpuPid},${this.names.get(e.cpuComm)},` : '';
    // `+`: a listener several processes hold, shown by its master; `*`: an owner that has exited
    // (docs/ATTRIBUTION.md)
    const names = e.holders ? this.sharedNames : e.ownerExited ? this.exitedNames : this.names;
    return `${time}${e.skaddr},${known ? e.pid : ''},${known ? names.get(e.comm) : ''},${cpu}${e.family},${e.saddr},${e.sport},` +
      `${e.daddr},${e.dport},${stateName(e.oldState)},${stateName(e.newState)},${msText(e)},${causeText(e)}`;
  }

  write(batch: TcpEvent[]): void {
    if (batch.length === 0) return;
    let text = '';
    for (const e of batch) text += `${this.line(e)}\n`;
    this.out(text);
  }
}
