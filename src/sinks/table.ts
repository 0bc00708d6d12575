// The human table, column-compatible with bcc's tcpstates (owner instead of on-CPU task).
import type { TcpEvent } from '../event';
import { stateName } from '../states';
import { causeText, ClockText, RelativeText, type TimeColumn } from './columns';
import { ByteWriter, writeMsFixed3 } from './bytes';
import type { Output, Sink } from './sink';

export interface TableOptions {
  time: TimeColumn;
  /** IPv6-wide address columns plus an IP column */
  wide: boolean;
  /** also show the task that was on the CPU (C-PID, C-COMM) */
  onCpu: boolean;
}

const padEnd = (s: string | number, n: number) => String(s).padEnd(n);
const STATE_WIDTH = 11;
const SPACE = 0x20;
const ARROW = ' -> ';

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
  private readonly bytes = new ByteWriter();

  constructor(private readonly out: Output, private readonly o: TableOptions) {
    this.addrWidth = o.wide ? 39 : 15;
    out(`${tableHeader(o)}\n`);
  }

  write(batch: TcpEvent[]): void {
    if (batch.length === 0) return;
    const w = this.bytes;
    for (const e of batch) {
      this.row(e);
      w.byte(0x0a);
    }
    this.out(w.take());
  }

  private row(e: TcpEvent): void {
    const { o, bytes: w } = this;
    if (o.time === 'clock') {
      w.text(this.clock.format(e.time));
      w.byte(SPACE);
    } else if (o.time === 'relative') {
      w.padded(this.relative.format(e.tsNs), 9);
      w.byte(SPACE);
    }
    w.text(e.skaddr);
    w.byte(SPACE);
    if (e.ownerSource !== 'unknown') {
      w.paddedUint(e.pid, 7);
      w.byte(SPACE);
      w.column(e.comm, 10);
    } else {
      w.text('-       -         ');
    }
    w.byte(SPACE);
    if (o.onCpu) {
      w.paddedUint(e.cpuPid, 7);
      w.byte(SPACE);
      w.column(e.cpuComm, 10);
      w.byte(SPACE);
    }
    if (o.wide) {
      w.uint(e.family);
      w.spaces(2);
    }
    w.padded(e.saddr, this.addrWidth);
    w.byte(SPACE);
    w.paddedUint(e.sport, 5);
    w.byte(SPACE);
    w.padded(e.daddr, this.addrWidth);
    w.byte(SPACE);
    w.paddedUint(e.dport, 5);
    w.byte(SPACE);
    w.padded(stateName(e.oldState), STATE_WIDTH);
    w.text(ARROW);
    w.padded(stateName(e.newState), STATE_WIDTH);
    w.byte(SPACE);
    if (e.durationNs === null) w.text('0.000');
    else writeMsFixed3(w, e.durationNs);
    const cause = causeText(e);
    if (cause) {
      w.byte(SPACE);
      w.text(cause);
    }
  }
}
