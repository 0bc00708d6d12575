// Sockets in each TCP state now, as `ss -tan` counts them. At start (after the probe is
// attached) every socket in scope is counted through sock_diag; from then on the transitions
// keep the counts. Two states have no full-socket transitions and are sampled instead, once a
// second while someone reads the counts: TIME_WAIT (a separate timewait socket; the traced
// socket goes FIN_WAIT2/CLOSING -> CLOSE) plus the time-wait closes since the sample, and
// SYN_RECV (request sockets). Nothing is stored per TIME_WAIT socket.
import type { KernelFilter } from './config';
import type { TcpEvent } from './event';
import { loadBinding } from './native/binding';
import type { CensusRequest, CensusResult } from './native/addon';
import { dumpedState, type DumpWindow } from './census-window';
import { pathOf, scanNamespaces, type NamespaceScan } from './netns';
import { State, STATE_NAMES } from './states';

export const SAMPLE_INTERVAL_MS = 1000;
/**
 * A sample costs the kernel ~1.2 µs per TIME_WAIT socket (170 ms for 140 000 here,
 * BENCHMARKS.md): past ~80 000 of them, samples are spaced to stay under ~10 % of a CPU.
 */
const SAMPLE_DUTY = 10;
/** States counted from sock_diag samples rather than from transitions. */
const SAMPLED_MASK = (1 << State.TIME_WAIT) | (1 << State.SYN_RECV) | (1 << 12); // 12: NEW_SYN_RECV
/** Every state `ss -tan` shows (CLOSE sockets are in no table it dumps). */
const DUMP_MASK = 0x1fff & ~(1 << State.CLOSE) & ~1;
/** The states a report lists, in the kernel's order. */
export const CENSUS_STATES = STATE_NAMES.slice(1, 12).filter((s) => s !== 'CLOSE');
/** Events this long after a dump ended say that the dump's ambiguous events are all here. */
const REORDER_SLACK_NS = 50e6;
/** A sampled count stops being read after this long without a reader. */
const IDLE_AFTER_MS = 10_000;
const RECOUNT_AFTER_LOSS_MS = 5000;
/** At most this many time-wait closes remembered between two samples (then: inexact). */
const MAX_PENDING_TW = 1 << 20;
const LOSS_NOTE = 'events were lost: counts may be off until they are taken again from the kernel (at most every 5 s)';

export interface CensusReport {
  /** state name → sockets in it now; every state of CENSUS_STATES, zeros included */
  counts: Record<string, number>;
  /** false when something below says the counts may be off */
  exact: boolean;
  notes: string[];
  /** wall clock (ms) of the last TIME_WAIT/SYN_RECV sample; 0 if none yet */
  sampledAt: number;
}

interface Space {
  inode: number;
  path: string;
  window?: DumpWindow;
  sampled: number[];
  sampleEndNs: number;
  /** how long the last sample took, ms, and when it started (performance.now) */
  sampleMs: number;
  sampleStarted: number;
  /** timestamps of time-wait closes after the sample in flight started */
  twCloses: number[];
  sampling: boolean;
}

/** Where the counts come from: the kernel, or a test's stand-in. */
export interface CensusSource {
  scan(): NamespaceScan;
  pathOf(inode: number, scan: NamespaceScan): string | undefined;
  dump(request: CensusRequest): CensusResult;
  dumpAsync(request: CensusRequest): Promise<CensusResult>;
}

const kernel: CensusSource = {
  scan: () => scanNamespaces(),
  pathOf: (inode, scan) => pathOf(inode, scan),
  dump: (request) => loadBinding().socketCensus(request),
  dumpAsync: (request) => loadBinding().socketCensusAsync(request),
};

export class SocketCensus {
  private readonly tracked = new Float64Array(16);
  private readonly spaces = new Map<number, Space>();
  private pending: TcpEvent[] = [];
  private readonly filterNotes: string[] = [];
  /** what the last recount could not see */
  private scopeNotes: string[] = [];
  private notes = new Set<string>();
  private scan?: NamespaceScan;
  private readonly single?: number;
  private lastRead = -Infinity;
  private sampledAt = 0;
  private lossSeen = 0;
  private lastRecount = 0;
  private recountDue = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly filter: KernelFilter = {},
    private readonly loss: () => number = () => 0,
    private readonly source: CensusSource = kernel,
  ) {
    this.single = filter.netns;
    if (filter.pid !== undefined || filter.comm !== undefined || filter.cgroupId !== undefined) {
      this.filterNotes.push('owner filter: sock_diag cannot tell owners (TIME_WAIT sockets have none), so counts include every owner\'s sockets at start');
    }
    if (filter.states?.length) this.filterNotes.push('state filter: transitions out of the filtered states are not seen, counts drift');
    this.recount();
  }

  /** Sorts the sockets of one batch into the counts. */
  observe(batch: TcpEvent[]): void {
    let latest = 0;
    for (const e of batch) {
      const sp = this.space(e.netns);
      if (!sp) continue;
      if (e.tsNs > latest) latest = e.tsNs;
      const w = sp.window;
      if (w && e.tsNs <= w.endNs) {
        if (e.tsNs >= w.startNs) this.pending.push(e); // the dump may or may not show it
        continue; // before the dump: the dump shows it
      }
      this.apply(e, sp);
    }
    if (this.pending.length && this.pending.every((e) => latest > (this.spaces.get(e.netns)?.window?.endNs ?? 0) + REORDER_SLACK_NS)) this.settle();
  }

  /** The counts now; starts the once-a-second sampling while someone reads them. */
  report(): CensusReport {
    this.lastRead = performance.now();
    if (!this.timer) {
      this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
      this.timer.unref();
    }
    const lost = this.loss();
    if (lost > this.lossSeen) {
      this.lossSeen = lost;
      this.recountDue = true;
    }
    // Lost transitions make the counts drift: count again, at most every few seconds.
    if (this.recountDue && performance.now() - this.lastRecount > RECOUNT_AFTER_LOSS_MS) {
      this.recountDue = false;
      this.recount();
      this.notes.delete(LOSS_NOTE);
    } else if (this.recountDue) {
      this.notes.add(LOSS_NOTE);
    }
    this.settle();
    const counts: Record<string, number> = {};
    for (const name of CENSUS_STATES) counts[name] = 0;
    let negative = false;
    for (let s = 1; s < 12; s++) {
      if (s === State.CLOSE) continue;
      let n = (SAMPLED_MASK >> s) & 1 ? 0 : this.tracked[s];
      for (const sp of this.spaces.values()) {
        if (s === State.TIME_WAIT) n += sp.sampled[s] + sp.twCloses.filter((t) => t > sp.sampleEndNs).length;
        else if ((SAMPLED_MASK >> s) & 1) n += sp.sampled[s];
      }
      if (n < 0) negative = true;
      counts[STATE_NAMES[s]] = Math.max(0, n);
    }
    if (negative) this.notes.add('a socket left a state it was not counted in (events before its first were filtered out)');
    const notes = [...this.filterNotes, ...this.scopeNotes, ...this.notes];
    return { counts, exact: notes.length === 0, notes, sampledAt: this.sampledAt };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private apply(e: TcpEvent, sp: Space): void {
    const from = e.oldState;
    const to = e.newState;
    // A listener's child starts as LISTEN->SYN_RECV: the listener stays where it is.
    if (!(from === State.LISTEN && to === State.SYN_RECV) && tracked(from)) this.tracked[from]--;
    if (tracked(to)) this.tracked[to]++;
    if (to === State.CLOSE && e.timeWait) {
      if (sp.twCloses.length < MAX_PENDING_TW) sp.twCloses.push(e.tsNs);
      else this.notes.add('more time-wait closes in one second than remembered: TIME_WAIT may be low until the next sample');
    }
  }

  /** Counts everything again from the kernel: at start, and after events were lost. */
  private recount(): void {
    this.lastRecount = performance.now();
    this.tracked.fill(0);
    this.pending = [];
    this.scopeNotes = [];
    this.scan = this.source.scan();
    const wanted = this.single !== undefined ? [this.single] : [...this.scan.paths.keys()];
    if (this.single === undefined && this.scan.unreadable) {
      this.scopeNotes.push(`${this.scan.unreadable} processes' network namespaces could not be read: their sockets are counted only from their transitions`);
    }
    this.spaces.clear();
    for (const inode of wanted) {
      const path = inode === this.scan.own ? '' : this.source.pathOf(inode, this.scan);
      if (path === undefined) {
        this.scopeNotes.push(`network namespace ${inode}: no process or mount opens it here, its sockets are counted only from their transitions`);
        continue;
      }
      const r = this.source.dump(this.request(path, DUMP_MASK, true));
      const sp: Space = { inode, path, sampled: new Array(16).fill(0), sampleEndNs: r.endNs, sampleMs: (r.endNs - r.startNs) / 1e6, sampleStarted: 0, twCloses: [], sampling: false };
      this.spaces.set(inode, sp);
      if (r.error) {
        this.notes.add(`network namespace ${inode}: ${r.error}`);
        continue;
      }
      sp.window = { startNs: r.startNs, endNs: r.endNs, tuples: r.tuples };
      for (let s = 1; s < 16; s++) {
        if ((SAMPLED_MASK >> s) & 1) sp.sampled[s] = r.counts[s];
        else if (tracked(s)) this.tracked[s] += r.counts[s];
      }
    }
    this.sampledAt = Date.now();
  }

  private request(netnsPath: string, states: number, tuples: boolean): CensusRequest {
    const f = this.filter;
    return { netnsPath, states, tuples, family: f.family ?? 0, localPorts: f.localPorts ?? [], remotePorts: f.remotePorts ?? [] };
  }

  /** Samples TIME_WAIT and SYN_RECV in every namespace, off the event loop. */
  private sample(): void {
    if (performance.now() - this.lastRead > IDLE_AFTER_MS) return;
    const now = performance.now();
    for (const sp of this.spaces.values()) {
      if (sp.sampling || now - sp.sampleStarted < SAMPLE_DUTY * sp.sampleMs) continue;
      sp.sampling = true;
      sp.sampleStarted = now;
      void this.source.dumpAsync(this.request(sp.path, SAMPLED_MASK, false)).then((r) => {
        sp.sampling = false;
        sp.sampleMs = performance.now() - sp.sampleStarted;
        if (r.error) {
          this.notes.add(`network namespace ${sp.inode}: ${r.error}`);
          return;
        }
        for (const s of [State.TIME_WAIT, State.SYN_RECV]) sp.sampled[s] = r.counts[s];
        sp.sampleEndNs = r.endNs;
        // Closes during the dump may or may not be in it; those after it are not.
        sp.twCloses = sp.twCloses.filter((t) => t > r.endNs);
        this.sampledAt = Date.now();
      });
    }
  }

  private space(netns: number): Space | undefined {
    let sp = this.spaces.get(netns);
    if (sp || this.single !== undefined) return sp;
    // A namespace we did not count at start: new since then (all its sockets are new) unless
    // some processes' namespaces could not be read.
    const path = this.scan ? this.source.pathOf(netns, this.scan) : undefined;
    if (this.scan?.unreadable) this.notes.add(`events from network namespace ${netns}, which could not be counted at start`);
    sp = { inode: netns, path: path ?? '', sampled: new Array(16).fill(0), sampleEndNs: 0, sampleMs: 0, sampleStarted: 0, twCloses: [], sampling: path === undefined };
    this.spaces.set(netns, sp);
    return sp;
  }

  /** Events that happened while a dump ran: applied unless the dump already shows them. */
  private settle(): void {
    if (!this.pending.length) return;
    const bySocket = new Map<string, TcpEvent[]>();
    for (const e of this.pending) {
      let list = bySocket.get(e.skaddr);
      if (!list) bySocket.set(e.skaddr, (list = []));
      list.push(e);
    }
    this.pending = [];
    for (const list of bySocket.values()) {
      list.sort((a, b) => a.tsNs - b.tsNs);
      const sp = this.spaces.get(list[0].netns);
      if (!sp?.window) continue;
      const shown = dumpedState(sp.window, list);
      let from = 0;
      for (let j = list.length - 1; j >= 0; j--) if (list[j].newState === shown) { from = j + 1; break; }
      for (let k = from; k < list.length; k++) this.apply(list[k], sp);
    }
    for (const sp of this.spaces.values()) if (sp.window) sp.window = { startNs: sp.window.startNs, endNs: sp.window.endNs };
  }
}

function tracked(state: number): boolean {
  return state > 0 && state < 16 && state !== State.CLOSE && !((SAMPLED_MASK >> state) & 1);
}
