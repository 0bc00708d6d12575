// Buffer of struct tcptrace_event records (one batch from the kernel) → TcpEvent[].
import { CAUSE_NAMES, COMM_LEN, EVENT_SIZE, EventOffset as O, Flag } from './layout';
import { formatIPv4, formatIPv6 } from './address';
import type { OwnerSource, TcpEvent } from './event';

const AF_INET = 2;
const TWO_32 = 2 ** 32;

/** Maps CLOCK_MONOTONIC ns onto wall-clock ms, measured once (Node's hrtime is CLOCK_MONOTONIC). */
export class Clock {
  readonly offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  wallMs(tsNs: number): number {
    return this.offsetMs + tsNs / 1e6;
  }
}

function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + 4) * TWO_32 + buf.readUInt32LE(off);
}


function readComm(buf: Buffer, off: number): string {
  let end = off;
  const limit = off + COMM_LEN;
  while (end < limit && buf[end] !== 0) end++;
  return buf.toString('latin1', off, end);
}

function hex64(buf: Buffer, off: number): string {
  return buf.readUInt32LE(off + 4).toString(16).padStart(8, '0') + buf.readUInt32LE(off).toString(16).padStart(8, '0');
}

function ownerSource(flags: number): OwnerSource {
  if (!(flags & Flag.OWNER_KNOWN)) return 'unknown';
  return flags & Flag.OWNER_INHERITED ? 'listener' : 'kernel';
}

export function decodeEvent(buf: Buffer, off: number, clock: Clock): TcpEvent {
  const flags = buf[off + O.flags];
  const v4 = buf.readUInt16LE(off + O.family) === AF_INET;
  const tsNs = readU64(buf, off + O.tsNs);
  const known = (flags & Flag.OWNER_KNOWN) !== 0;
  return {
    tsNs,
    time: clock.wallMs(tsNs),
    skaddr: hex64(buf, off + O.skaddr),
    pid: known ? buf.readUInt32LE(off + O.ownerPid) : 0,
    comm: known ? readComm(buf, off + O.ownerComm) : '',
    ownerSource: ownerSource(flags),
    cgroupId: known ? readU64(buf, off + O.cgroupId) : 0,
    cpuPid: buf.readUInt32LE(off + O.cpuPid),
    cpuTid: buf.readUInt32LE(off + O.cpuTid),
    cpuComm: readComm(buf, off + O.cpuComm),
    family: v4 ? 4 : 6,
    saddr: v4 ? formatIPv4(buf, off + O.saddr) : formatIPv6(buf, off + O.saddr),
    sport: buf.readUInt16LE(off + O.sport),
    daddr: v4 ? formatIPv4(buf, off + O.daddr) : formatIPv6(buf, off + O.daddr),
    dport: buf.readUInt16LE(off + O.dport),
    oldState: buf[off + O.oldstate],
    newState: buf[off + O.newstate],
    durationNs: flags & Flag.PREV_SEEN ? readU64(buf, off + O.deltaNs) : null,
    netns: buf.readUInt32LE(off + O.netns),
    sockIno: buf.readUInt32LE(off + O.sockIno),
    rttUs: buf.readUInt32LE(off + O.rttUs),
    handshakeUs: buf.readUInt32LE(off + O.handshakeUs),
    error: buf.readUInt16LE(off + O.error),
    cause: CAUSE_NAMES[buf[off + O.cause]] ?? 'error',
    timeWait: (flags & Flag.TIME_WAIT) !== 0,
    side: flags & Flag.ACTIVE ? 'active' : flags & Flag.PASSIVE ? 'passive' : '',
    synRetrans: buf[off + O.synRetrans],
    synackRetrans: buf[off + O.synackRetrans],
  };
}

/** Decodes a whole batch; a trailing partial record (never expected) is ignored. */
export function decodeBatch(buf: Buffer, clock: Clock): TcpEvent[] {
  const n = Math.floor(buf.length / EVENT_SIZE);
  const out = new Array<TcpEvent>(n);
  for (let i = 0; i < n; i++) out[i] = decodeEvent(buf, i * EVENT_SIZE, clock);
  return out;
}
