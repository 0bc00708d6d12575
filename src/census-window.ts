// The sockets a sock_diag dump listed (40-byte tuples, src/native/sockdiag.h), looked up by
// address and port to tell whether a transition made while the dump ran is already in it.
import { formatIPv4, formatIPv6 } from './address';
import type { TcpEvent } from './event';
import { State } from './states';

/** A dump's time span and its sockets (not TIME_WAIT), kept until the events in it are sorted. */
export interface DumpWindow {
  startNs: number;
  endNs: number;
  tuples?: Buffer;
  byPorts?: Map<number, number[]>;
}

/** The state the dump showed this socket in (CLOSE when it was not there), by its 4-tuple. */
export function dumpedState(w: DumpWindow, list: TcpEvent[]): number {
  if (!w.tuples) return State.CLOSE;
  if (!w.byPorts) {
    w.byPorts = new Map();
    for (let off = 0; off + 40 <= w.tuples.length; off += 40) {
      const key = portsKey(w.tuples[off + 1], w.tuples.readUInt16LE(off + 2), w.tuples.readUInt16LE(off + 4));
      const offs = w.byPorts.get(key);
      if (offs) offs.push(off);
      else w.byPorts.set(key, [off]);
    }
  }
  const e = [...list].reverse().find((x) => x.sport !== 0) ?? list[list.length - 1];
  const candidates = w.byPorts.get(portsKey(e.family, e.sport, e.dport)) ?? [];
  const states = new Set(list.map((x) => x.newState));
  let match = State.CLOSE as number;
  for (const off of candidates) {
    const fmt = e.family === 4 ? formatIPv4 : formatIPv6;
    if (fmt(w.tuples, off + 8) !== e.saddr || fmt(w.tuples, off + 24) !== e.daddr) continue;
    match = w.tuples[off];
    if (states.has(match)) break; // several listeners share a tuple (SO_REUSEPORT): prefer this socket's
  }
  return match;
}

function portsKey(family: number, sport: number, dport: number): number {
  return (family === 6 ? 2 ** 32 : 0) + sport * 65536 + dport;
}
