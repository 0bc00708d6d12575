// What the census keeps per network namespace: the span and sockets of its dump at start
// (40-byte tuples, src/native/sockdiag.h, looked up by address and port to tell whether a
// transition made while the dump ran is already in it) and its sampled counts.
import { formatIPv4, formatIPv6 } from '../decode/address';
import type { TcpEvent } from '../decode/event';
import { State, STATE_NAMES } from '../decode/states';

/** States counted from sock_diag samples rather than from transitions. */
export const SAMPLED_MASK = (1 << State.TIME_WAIT) | (1 << State.SYN_RECV) | (1 << 12); // 12: NEW_SYN_RECV
/** The states a report lists, in the kernel's order. */
export const CENSUS_STATES = STATE_NAMES.slice(1, 12).filter((s) => s !== 'CLOSE');

/** States the transitions keep (not CLOSE, which no table holds, nor the sampled ones). */
export function tracked(state: number): boolean {
  return state > 0 && state < 16 && state !== State.CLOSE && !((SAMPLED_MASK >> state) & 1);
}

/** Sockets per state now: the tracked counts, plus each namespace's samples and time-wait closes since. */
export function countStates(trackedCounts: Float64Array, spaces: Iterable<Space>): { counts: Record<string, number>; negative: boolean } {
  const counts: Record<string, number> = Object.fromEntries(CENSUS_STATES.map((name) => [name, 0]));
  const all = [...spaces];
  let negative = false;
  for (let s = 1; s < 12; s++) {
    if (s === State.CLOSE) continue;
    let n = (SAMPLED_MASK >> s) & 1 ? 0 : trackedCounts[s];
    for (const sp of all) {
      if (s === State.TIME_WAIT) n += sp.sampled[s] + sp.twCloses.filter((t) => t > sp.sampleEndNs).length;
      else if ((SAMPLED_MASK >> s) & 1) n += sp.sampled[s];
    }
    if (n < 0) negative = true;
    counts[STATE_NAMES[s]] = Math.max(0, n);
  }
  return { counts, negative };
}

/**
 * Of the events made while a dump ran, those the dump does not show yet, each with its
 * namespace: per socket (per life of a socket address), the ones after the last that entered
 * the state the dump saw.
 */
export function notYetCounted(pending: TcpEvent[], spaces: Map<number, Space>): [TcpEvent, Space][] {
  const bySocket = new Map<string, TcpEvent[]>();
  for (const e of pending) {
    let list = bySocket.get(e.skaddr);
    if (!list) bySocket.set(e.skaddr, (list = []));
    list.push(e);
  }
  const out: [TcpEvent, Space][] = [];
  for (const all of bySocket.values()) {
    all.sort((a, b) => a.tsNs - b.tsNs);
    // A closed socket's memory is soon another socket's (same address): one life at a time.
    for (let start = 0; start < all.length; ) {
      let end = start;
      while (end < all.length - 1 && all[end].newState !== State.CLOSE) end++;
      const life = all.slice(start, end + 1);
      start = end + 1;
      const sp = spaces.get(life[0].netns);
      if (!sp?.window) continue;
      const shown = dumpedState(sp.window, life);
      let from = 0;
      for (let j = life.length - 1; j >= 0; j--) if (life[j].newState === shown) { from = j + 1; break; }
      for (let k = from; k < life.length; k++) out.push([life[k], sp]);
    }
  }
  return out;
}

/** A dump's time span and its sockets (not TIME_WAIT), kept until the events in it are sorted. */
export interface DumpWindow {
  startNs: number;
  endNs: number;
  tuples?: Buffer;
  byPorts?: Map<number, number[]>;
}

/** One network namespace in the census. */
export interface Space {
  inode: number;
  /** a path that opens the namespace ('' our own); undefined when none does (not sampled) */
  path?: string;
  /** why its last dump failed */
  error?: string;
  window?: DumpWindow;
  sampled: number[];
  sampleEndNs: number;
  /** how long the last sample took, ms, and when it started (performance.now) */
  sampleMs: number;
  sampleStarted: number;
  /** timestamps of time-wait closes after the sample in flight started */
  twCloses: number[];
  sampling: boolean;
  /** more time-wait closes than remembered since the last sample: sample before the next read */
  stale: boolean;
  /** performance.now() of the last sample's end */
  sampledAt: number;
}

export function newSpace(inode: number, path: string | undefined): Space {
  return { inode, path, sampled: new Array(16).fill(0), sampleEndNs: 0, sampleMs: 0, sampleStarted: 0, twCloses: [], sampling: false, stale: false, sampledAt: 0 };
}

/** The state the dump showed this socket in (CLOSE when it was not there), by its 4-tuple. */
function dumpedState(w: DumpWindow, list: TcpEvent[]): number {
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
