// The human table, column-compatible with bcc's tcpstates (owner instead of on-CPU task).
import type { TcpEvent } from '../decode/event';
import { stateName } from '../decode/states';
import { causeText, ClockText, RelativeText, type TimeColumn } from '../format/columns';
import { bytes, ByteWriter, type Constant, putBytes, putMsFixed3, putPadded, putPaddedUint, putSpaces, putText, putUint } from '../format/bytes';
import { TextMemo, type Shown } from '../format/display';
import { shownName } from '../format/names';
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
const COMM_WIDTH = 10;
const SPACE = 0x20;
const NEWLINE = 0x0a;

// Constant pieces of a row as bytes (copying these beats reading a string's characters).
const ARROW = bytes(' -> ');
const NO_OWNER = bytes('-       -         ');
const NO_NAME: Shown = { text: '', columns: 0 };
const NO_DURATION = bytes('0.000');
const PADDED_STATES = Array.from({ length: 256 }, (_, n) => bytes(stateName(n).padEnd(STATE_WIDTH)));

function paddedState(n: number): Constant {
  return PADDED_STATES[n] ?? bytes(stateName(n).padEnd(STATE_WIDTH));
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
  private readonly bytes = new ByteWriter();
  /** process names escaped and cut to the column once per distinct name (src/format/display.ts) */
  private readonly names = new TextMemo((s) => shownName(s, COMM_WIDTH));
  private readonly sharedNames = new TextMemo((s) => shownName(s, COMM_WIDTH, '+'));
  private readonly exitedNames = new TextMemo((s) => shownName(s, COMM_WIDTH, '*'));

  constructor(private readonly out: Output, private readonly o: TableOptions) {
    this.addrWidth = o.wide ? 39 : 15;
    out(`${tableHeader(o)}\n`);
  }

  write(batch: TcpEvent[]): void {
    if (batch.length === 0) return;
    const w = this.bytes;
    w.moveTo(0); // nothing half-written survives a batch that threw
    for (const e of batch) this.row(e);
    w.lendTo(this.out);
  }

  private row(e: TcpEvent): void {
    const o = this.o;
    const time = o.time === 'clock' ? this.clock.format(e.time) : o.time === 'relative' ? this.relative.format(e.tsNs) : '';
    const cause = causeText(e);
    // `+`: a listener several processes hold, shown by its master; `*`: an owner that has exited
    // (docs/ATTRIBUTION.md)
    const comm = e.ownerSource === 'unknown' ? NO_NAME : e.holders ? this.sharedNames.get(e.comm)
      : e.ownerExited ? this.exitedNames.get(e.comm) : this.names.get(e.comm);
    const cpuComm = o.onCpu ? this.names.get(e.cpuComm) : NO_NAME;
    // Room for the widest row: fixed columns, padding, the cause, and 3 bytes per character of text.
    const room = 200 + 2 * this.addrWidth +
      3 * (time.length + e.skaddr.length + comm.text.length + cpuComm.text.length + e.saddr.length + e.daddr.length + cause.length);
    const buf = this.bytes.room(room);
    let p = this.bytes.length;
    if (o.time === 'clock') {
      p = putText(buf, p, time);
      buf[p++] = SPACE;
    } else if (o.time === 'relative') {
      p = putPadded(buf, p, time, 9);
      buf[p++] = SPACE;
    }
    p = putText(buf, p, e.skaddr);
    buf[p++] = SPACE;
    if (e.ownerSource !== 'unknown') {
      p = putPaddedUint(buf, p, e.pid, 7);
      buf[p++] = SPACE;
      p = putShown(buf, p, comm, COMM_WIDTH);
    } else {
      p = putBytes(buf, p, NO_OWNER);
    }
    buf[p++] = SPACE;
    if (o.onCpu) {
      p = putPaddedUint(buf, p, e.cpuPid, 7);
      buf[p++] = SPACE;
      p = putShown(buf, p, cpuComm, COMM_WIDTH);
      buf[p++] = SPACE;
    }
    if (o.wide) {
      p = putUint(buf, p, e.family);
      p = putSpaces(buf, p, 2);
    }
    p = putPadded(buf, p, e.saddr, this.addrWidth);
    buf[p++] = SPACE;
    p = putPaddedUint(buf, p, e.sport, 5);
    buf[p++] = SPACE;
    p = putPadded(buf, p, e.daddr, this.addrWidth);
    buf[p++] = SPACE;
    p = putPaddedUint(buf, p, e.dport, 5);
    buf[p++] = SPACE;
    p = putBytes(buf, p, paddedState(e.oldState));
    p = putBytes(buf, p, ARROW);
    p = putBytes(buf, p, paddedState(e.newState));
    buf[p++] = SPACE;
    p = e.durationNs === null ? putBytes(buf, p, NO_DURATION) : putMsFixed3(buf, p, e.durationNs);
    if (cause) {
      buf[p++] = SPACE;
      p = putText(buf, p, cause);
    }
    buf[p++] = NEWLINE;
    this.bytes.moveTo(p);
  }
}

function putShown(buf: Buffer, p: number, shown: Shown, width: number): number {
  return putSpaces(buf, putText(buf, p, shown.text), width - shown.columns);
}
