// What the generated decoder (decode-event.generated.ts) reads the record with: little-endian
// integers by plain byte arithmetic, and the strings that repeat across events (socket address,
// comm, IP addresses) from small caches keyed by their raw bytes, so a storm of short
// connections allocates little besides the event objects themselves. bench/ measures it.
import { COMM_LEN, Flag } from './record.generated';
import { CAUSE_NAMES, OWNER_HOW, type CauseName, type OwnerSource } from './names';
import { Bytes16TextCache } from '../util/text-cache';
import { decodeComm } from './comm';


export const AF_INET = 2;
const TWO_32 = 2 ** 32;
const CACHE_LIMIT = 65536;

export function u16(buf: Buffer, off: number): number {
  return buf[off] | (buf[off + 1] << 8);
}

export function u32(buf: Buffer, off: number): number {
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16)) + buf[off + 3] * 0x1000000;
}

export function readU64(buf: Buffer, off: number): number {
  return u32(buf, off + 4) * TWO_32 + u32(buf, off);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

interface HexEntry { hi: number; text: string }
/** low 32 bits of the socket address → its text (the high half is checked on a hit) */
const skaddrCache = new Map<number, HexEntry>();

/** A u64 as 16 hex digits (the socket address: identity only). */
export function hex64(buf: Buffer, off: number): string {
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

export function readComm(buf: Buffer, off: number): string {
  return commCache.get(buf, off);
}

export function ownerSource(flags: number, how: number): OwnerSource {
  if (!(flags & Flag.OWNER_KNOWN)) return 'unknown';
  if (how) return OWNER_HOW[how] ?? 'kernel';
  return flags & Flag.OWNER_INHERITED ? 'listener' : 'kernel';
}

export function causeName(cause: number): CauseName {
  return CAUSE_NAMES[cause] ?? 'error';
}
