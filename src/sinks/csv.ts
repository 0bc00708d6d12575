// CSV, bcc's -s columns plus owner/cause; one header line, then a row per transition.
import type { TcpEvent } from '../decode/event';
import { stateName } from '../decode/states';
import { causeText, ClockText, msText, RelativeText, type TimeColumn } from '../format/columns';
import { TextMemo } from '../format/display';
import { csvCell, csvName } from '../format/csv-cell';

export { csvCell, csvName };
import type { Sink, Writer } from './sink';

export interface CsvOptions {
  time: TimeColumn;
  onCpu: boolean;
}

export function csvHeader(o: CsvOptions): string {
  const time = o.time === 'clock' ? 'TIME,' : o.time === 'relative' ? 'TIME(s),' : '';
  return `${time}SKADDR,PID,COMM,${o.onCpu ? 'C-PID,C-COMM,' : ''}IP,LADDR,LPORT,RADDR,RPORT,OLDSTATE,NEWSTATE,MS,CAUSE`;
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
