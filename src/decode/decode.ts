// Buffer of struct tcptrace_event records (one batch from the kernel) → TcpEvent[].
// Hot path (every event goes through here): fields are read with plain byte arithmetic, and
// the strings that repeat across events (socket address, comm, IP addresses) come from small
// caches keyed by their raw bytes, so a storm of short connections allocates little besides
// the event objects themselves. bench/ measures it.
import { CAUSE_NAMES, COMM_LEN, EVENT_SIZE, EventOffset as O, Flag, KERNEL_DIAGNOSES, OWNER_HOW } from './layout';
import { formatIPv4, formatIPv6 } from './address';
import { Bytes16TextCache } from '../util/text-cache';
import { decodeComm } from './comm';
import type { OwnerSource, TcpEvent } from './event';

const AF_INET = 2;
const TWO_32 = 2 ** 32;
const CACHE_LIMIT = 65536;

/** Maps CLOCK_MONOTONIC ns onto wall-clock ms, measured once (Node's hrtime is CLOCK_MONOTONIC). */
export class Clock {
  readonly offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  wallMs(tsNs: number): number {
    return this.offsetMs + tsNs / 1e6;
  }
}

function u16(buf: Buffer, off: number): number {
  return buf[off] | (buf[off + 1] << 8);
}

function u32(buf: Buffer, off: number): number {
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16)) + buf[off + 3] * 0x1000000;
}

function readU64(buf: Buffer, off: number): number {
  return u32(buf, off + 4) * TWO_32 + u32(buf, off);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

interface HexEntry { hi: number; text: string }
/** low 32 bits of the socket address → its text (the high half is checked on a hit) */
const skaddrCache = new Map<number, HexEntry>();

function hex64(buf: Buffer, off: number): string {
  const lo = u32(buf, off);
  const hi = u32(buf, off + 4);
  const hit = skaddrCache.get(lo);
  if (hit !== undefined && hit.hi === hi) return hit.text;
  let text = '';
  for (let i = 7; i >= 0; i--) text += HEX[buf[off + i]];
  if (skaddrCache.size >= CACHE_LIMIT) skaddrCache.clear();
  skaddrCache.set(lo, { hi, text });
  return text;
}

/** NUL-terminated (or full 16-byte) comm as text: UTF-8, invalid bytes kept (src/decode/comm.ts) */
function commText(buf: Buffer, off: number): string {
  let end = off;
  const limit = off + COMM_LEN;
  while (end < limit && buf[end] !== 0) end++;
  return decodeComm(buf, off, end);
}

const commCache = new Bytes16TextCache(4096, commText);

function readComm(buf: Buffer, off: number): string {
  return commCache.get(buf, off);
}

function ownerSource(flags: number, how: number): OwnerSource {
  if (!(flags & Flag.OWNER_KNOWN)) return 'unknown';
  if (how) return OWNER_HOW[how] ?? 'kernel';
  return flags & Flag.OWNER_INHERITED ? 'listener' : 'kernel';
}

export function decodeEvent(buf: Buffer, off: number, clock: Clock): TcpEvent {
  const flags = buf[off + O.flags];
  const v4 = u16(buf, off + O.family) === AF_INET;
  const tsNs = readU64(buf, off + O.tsNs);
  const known = (flags & Flag.OWNER_KNOWN) !== 0;
  return {
    tsNs,
    time: clock.wallMs(tsNs),
    skaddr: hex64(buf, off + O.skaddr),
    pid: known ? u32(buf, off + O.ownerPid) : 0,
    comm: known ? readComm(buf, off + O.ownerComm) : '',
    ownerSource: ownerSource(flags, buf[off + O.ownerHow]),
    cgroupId: known ? readU64(buf, off + O.cgroupId) : 0,
    cpuPid: u32(buf, off + O.cpuPid),
    cpuTid: u32(buf, off + O.cpuTid),
    cpuComm: readComm(buf, off + O.cpuComm),
    family: v4 ? 4 : 6,
    saddr: v4 ? formatIPv4(buf, off + O.saddr) : formatIPv6(buf, off + O.saddr),
    sport: u16(buf, off + O.sport),
    daddr: v4 ? formatIPv4(buf, off + O.daddr) : formatIPv6(buf, off + O.daddr),
    dport: u16(buf, off + O.dport),
    oldState: buf[off + O.oldstate],
    newState: buf[off + O.newstate],
    durationNs: flags & Flag.PREV_SEEN ? readU64(buf, off + O.deltaNs) : null,
    netns: u32(buf, off + O.netns),
    sockIno: u32(buf, off + O.sockIno),
    rttUs: u32(buf, off + O.rttUs),
    handshakeUs: u32(buf, off + O.handshakeUs),
    error: u16(buf, off + O.error),
    cause: CAUSE_NAMES[buf[off + O.cause]] ?? 'error',
    timeWait: (flags & Flag.TIME_WAIT) !== 0,
    side: flags & Flag.ACTIVE ? 'active' : flags & Flag.PASSIVE ? 'passive' : '',
    synRetrans: buf[off + O.synRetrans],
    synackRetrans: buf[off + O.synackRetrans],
    acceptWaitUs: u32(buf, off + O.acceptWaitUs),
    kernelDiagnosis: KERNEL_DIAGNOSES[buf[off + O.diagnosis]] ?? 'unknown',
    listenerBacklog: u16(buf, off + O.listenerBacklog),
    listenerMax: u16(buf, off + O.listenerMax),
    holders: null,
    listenerShared: (flags & (Flag.OWNER_INHERITED | Flag.LISTENER_SHARED)) === (Flag.OWNER_INHERITED | Flag.LISTENER_SHARED),
    isAccept: (flags & Flag.ACCEPT) !== 0,
  };
}

/** Decodes a whole batch; a trailing partial record (never expected) is ignored. */
export function decodeBatch(buf: Buffer, clock: Clock): TcpEvent[] {
  const n = Math.floor(buf.length / EVENT_SIZE);
  const out = new Array<TcpEvent>(n);
  for (let i = 0; i < n; i++) out[i] = decodeEvent(buf, i * EVENT_SIZE, clock);
  return out;
}
