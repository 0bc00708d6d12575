// The human table, column-compatible with bcc's tcpstates (owner instead of on-CPU task).
import type { TcpEvent } from '../event';
import { stateName } from '../states';
import { causeText, ClockText, msText, RelativeText, type TimeColumn } from './columns';
import type { Sink, Writer } from './sink';

export interface TableOptions {
  time: TimeColumn;
  /** IPv6-wide address columns plus an IP column */
  wide: boolean;
  /** also show the task that was on the CPU (C-PID, C-COMM) */
  onCpu: boolean;
}

const padEnd = (s: string | number, n: number) => String(s).padEnd(n);

export function tableHeader(o: TableOptions): string {
  const addr = o.wide ? 39 : 15;
  let h = o.time === 'clock' ? 'TIME     ' : o.time === 'relative' ? 'TIME(s)   ' : '';
  h += `${padEnd('SKADDR', 16)} ${padEnd('PID', 7)} ${padEnd('COMM', 10)} `;
  if (o.onCpu) h += `${padEnd('C-PID', 7)} ${padEnd('C-COMM', 10)} `;
  if (o.wide) h += 'IP ';
  h += `${padEnd('LADDR', addr)} ${padEnd('LPORT', 5)} ${padEnd('RADDR', addr)} ${padEnd('RPORT', 5)} `;
  h += `${padEnd('OLDSTATE', 11)} -> ${padEnd('NEWSTATE', 11)} MS`;
  return h;
}

export class TableSink implements Sink {
  private readonly clock = new ClockText();
  private readonly relative = new RelativeText();
  private readonly addrWidth: number;

  constructor(private readonly out: Writer, private readonly o: TableOptions) {
    this.addrWidth = o.wide ? 39 : 15;
    out(`${tableHeader(o)}\n`);
  }

  line(e: TcpEvent): string {
    const o = this.o;
    let s = o.time === 'clock' ? `${this.clock.format(e.time)} ` : o.time === 'relative' ? `${padEnd(this.relative.format(e.tsNs), 9)} ` : '';
    const known = e.ownerSource !== 'unknown';
    s += `${e.skaddr} ${padEnd(known ? e.pid : '-', 7)} ${padEnd(known ? e.comm.slice(0, 10) : '-', 10)} `;
    if (o.onCpu) s += `${padEnd(e.cpuPid, 7)} ${padEnd(e.cpuComm.slice(0, 10), 10)} `;
    if (o.wide) s += `${e.family}  `;
    s += `${padEnd(e.saddr, this.addrWidth)} ${padEnd(e.sport, 5)} ${padEnd(e.daddr, this.addrWidth)} ${padEnd(e.dport, 5)} `;
    s += `${padEnd(stateName(e.oldState), 11)} -> ${padEnd(stateName(e.newState), 11)} ${msText(e)}`;
    const cause = causeText(e);
    return cause ? `${s} ${cause}` : s;
  }

  write(batch: TcpEvent[]): void {
    if (batch.length === 0) return;
    let text = '';
    for (const e of batch) text += `${this.line(e)}\n`;
    this.out(text);
  }
}
