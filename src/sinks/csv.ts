// CSV, bcc's -s columns plus owner/cause; one header line, then a row per transition.
import type { TcpEvent } from '../event';
import { stateName } from '../states';
import { causeText, ClockText, msText, RelativeText, type TimeColumn } from './columns';
import type { Sink, Writer } from './sink';

export interface CsvOptions {
  time: TimeColumn;
  onCpu: boolean;
}

export function csvHeader(o: CsvOptions): string {
  const time = o.time === 'clock' ? 'TIME,' : o.time === 'relative' ? 'TIME(s),' : '';
  return `${time}SKADDR,PID,COMM,${o.onCpu ? 'C-PID,C-COMM,' : ''}IP,LADDR,LPORT,RADDR,RPORT,OLDSTATE,NEWSTATE,MS,CAUSE`;
}

function field(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export class CsvSink implements Sink {
  private readonly clock = new ClockText();
  private readonly relative = new RelativeText();

  constructor(private readonly out: Writer, private readonly o: CsvOptions) {
    out(`${csvHeader(o)}\n`);
  }

  line(e: TcpEvent): string {
    const o = this.o;
    const time = o.time === 'clock' ? `${this.clock.format(e.time)},` : o.time === 'relative' ? `${this.relative.format(e.tsNs)},` : '';
    const known = e.ownerSource !== 'unknown';
    const cpu = o.onCpu ? `${e.cpuPid},${field(e.cpuComm)},` : '';
    return `${time}${e.skaddr},${known ? e.pid : ''},${known ? field(e.comm) : ''},${cpu}${e.family},${e.saddr},${e.sport},` +
      `${e.daddr},${e.dport},${stateName(e.oldState)},${stateName(e.newState)},${msText(e)},${causeText(e)}`;
  }

  write(batch: TcpEvent[]): void {
    if (batch.length === 0) return;
    let text = '';
    for (const e of batch) text += `${this.line(e)}\n`;
    this.out(text);
  }
}
