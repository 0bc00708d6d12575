// Address text from raw bytes: dotted IPv4, RFC 5952 IPv6, ::ffff:a.b.c.d for v4-mapped.
// Both are cached by raw value: a storm reuses a handful of addresses millions of times.

import { Bytes16TextCache } from '../util/text-cache';

const CACHE_LIMIT = 4096;
const v4Cache = new Map<number, string>();

let lastV4Key = 0;
let lastV4 = '0.0.0.0';

export function formatIPv4(buf: Buffer, off: number): string {
  const key = ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) | 0;
  if (key === lastV4Key) return lastV4; // consecutive events mostly repeat an address
  let s = v4Cache.get(key);
  if (s === undefined) {
    s = `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
    if (v4Cache.size >= CACHE_LIMIT) v4Cache.clear();
    v4Cache.set(key, s);
  }
  lastV4Key = key;
  lastV4 = s;
  return s;
}

const v6Cache = new Bytes16TextCache(CACHE_LIMIT, formatIPv6Uncached);

export function formatIPv6(buf: Buffer, off: number): string {
  return v6Cache.get(buf, off);
}

function formatIPv6Uncached(buf: Buffer, off: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(buf.readUInt16BE(off + i * 2));
  if (words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff) {
    return `::ffff:${formatIPv4(buf, off + 12)}`;
  }
  // Longest run of two or more zero words becomes "::" (first one on ties).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}
