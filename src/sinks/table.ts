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

// Hot path (one line per event): padding by appending a precomputed run of spaces, and the
// padded state names made once, cost a fraction of String.prototype.padEnd.
const SPACES = Array.from({ length: 41 }, (_, i) => ' '.repeat(i));
function pad(s: string, n: number): string {
  return s.length >= n ? s : s + SPACES[n - s.length];
}
const PADDED_STATES = new Map<number, string>();
function paddedState(n: number): string {
  let s = PADDED_STATES.get(n);
  if (s === undefined) {
    s = pad(stateName(n), 11);
    PADDED_STATES.set(n, s);
  }
  return s;
}

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
    s += `${e.skaddr} ${known ? pad(String(e.pid), 7) : '-      '} ${known ? pad(e.comm.length > 10 ? e.comm.slice(0, 10) : e.comm, 10) : '-         '} `;
    if (o.onCpu) s += `${pad(String(e.cpuPid), 7)} ${pad(e.cpuComm.length > 10 ? e.cpuComm.slice(0, 10) : e.cpuComm, 10)} `;
    if (o.wide) s += `${e.family}  `;
    s += `${pad(e.saddr, this.addrWidth)} ${pad(String(e.sport), 5)} ${pad(e.daddr, this.addrWidth)} ${pad(String(e.dport), 5)} `;
    s += `${paddedState(e.oldState)} -> ${paddedState(e.newState)} ${msText(e)}`;
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
