// Sockets in each TCP state now, as `ss -tan` counts them. At start (after the probe is
// attached) every socket in scope is counted through sock_diag; from then on the transitions
// keep the counts. Two states have no full-socket transitions and are sampled instead, once a
// second while someone reads the counts: TIME_WAIT (a separate timewait socket; the traced
// socket goes FIN_WAIT2/CLOSING -> CLOSE) plus the time-wait closes since the sample, and
// SYN_RECV (request sockets). Nothing is stored per TIME_WAIT socket.
import type { KernelFilter } from '../probe/config';
import type { TcpEvent } from '../decode/event';
import type { CensusRequest, CensusResult } from '../native/addon';
import { CENSUS_STATES, countStates, newSpace, notYetCounted, SAMPLED_MASK, tracked, type Space } from './space';
import type { NamespaceScan } from './netns';
import { kernelCensusSource, type CensusSource } from './kernel-source';
import { State } from '../decode/states';

export { CENSUS_STATES };
export type { CensusSource };

export const SAMPLE_INTERVAL_MS = 1000;
/**
 * A sample costs the kernel ~1.2 µs per TIME_WAIT socket (170 ms for 140 000 here,
 * BENCHMARKS.md): past ~80 000 of them, samples are spaced to stay under ~10 % of a CPU.
 */
const SAMPLE_DUTY = 10;
/** Every state `ss -tan` shows (CLOSE sockets are in no table it dumps). */
const DUMP_MASK = 0x1fff & ~(1 << State.CLOSE) & ~1;
/** Transitions this close before a dump are checked against it (see observe). */
const INSERT_SLACK_NS = 10e6;
/** Events this long after a dump ended say that the dump's ambiguous events are all here. */
const REORDER_SLACK_NS = 50e6;
/** A sampled count stops being read after this long without a reader. */
const IDLE_AFTER_MS = 60_000; // a scraper every 15-30 s keeps them sampled
const RECOUNT_AFTER_LOSS_MS = 5000;
/** At most this many time-wait closes remembered between two samples (then: inexact). */
const MAX_PENDING_TW = 1 << 20;
/** At most this many events held while the count at start runs (then: count again). */
const MAX_EARLY = 1 << 20;
const COUNTING_NOTE = 'counting the sockets from the kernel (sock_diag), not done yet';
const LOSS_NOTE = 'transitions were lost or skipped by the kernel: counts may be off until they are taken again from it (at most every 5 s)';

export interface CensusReport {
  /** state name → sockets in it now; every state of CENSUS_STATES, zeros included */
  counts: Record<string, number>;
  /** false when something below says the counts may be off */
  exact: boolean;
  notes: string[];
  /** wall clock (ms) of the last TIME_WAIT/SYN_RECV sample; 0 if none yet */
  sampledAt: number;
}

export class SocketCensus {
  private readonly tracked = new Float64Array(16);
  private readonly spaces = new Map<number, Space>();
  private pending: TcpEvent[] = [];
  private readonly filterNotes: string[] = [];
  /** what the last recount could not see */
  private scopeNotes: string[] = [];
  /** notes that hold until the next recount (events from namespaces not counted at start) */
  private laterNotes = new Set<string>();
  private scan?: NamespaceScan;
  private readonly single?: number;
  private lastRead = -Infinity;
  private sampledAt = 0;
  private lossSeen = 0;
  private lastRecount = 0;
  private recountDue = false;
  /** events that arrived while a count ran, sorted in when it is done */
  private early?: TcpEvent[];
  private counting: Promise<void> = Promise.resolve();
  private closed = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly filter: KernelFilter = {},
    private readonly loss: () => number = () => 0,
    private readonly source: CensusSource = kernelCensusSource,
  ) {
    this.single = filter.netns;
    if (filter.pid !== undefined || filter.comm !== undefined || filter.cgroupId !== undefined) {
      this.filterNotes.push('owner filter: sock_diag cannot tell owners (TIME_WAIT sockets have none), so counts include every owner\'s sockets at start');
    }
    if (filter.states?.length) this.filterNotes.push('state filter: transitions out of the filtered states are not seen, counts drift');
    this.recount();
  }

  /** Resolves once the count at start (or the latest recount) is in. */
  ready(): Promise<void> {
    return this.counting;
  }

  /** Sorts the sockets of one batch into the counts. */
  observe(batch: TcpEvent[]): void {
    if (this.early) {
      if (this.early.length + batch.length > MAX_EARLY) this.recountDue = true;
      else for (const e of batch) this.early.push(e);
      return;
    }
    let latest = 0;
    for (const e of batch) {
      const sp = this.space(e.netns);
      if (!sp) continue;
      if (e.tsNs > latest) latest = e.tsNs;
      const w = sp.window;
      if (w && e.tsNs <= w.endNs) {
        // The dump may or may not show it. Just before the dump too: a socket enters the hash
        // table the dump reads a moment after its transition (connect), so that is checked too.
        if (e.tsNs >= w.startNs - INSERT_SLACK_NS) this.pending.push(e);
        continue; // long before the dump: the dump shows it
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
    if (this.recountDue && !this.early && performance.now() - this.lastRecount > RECOUNT_AFTER_LOSS_MS) {
      this.recountDue = false;
      this.recount();
    }
    this.settle();
    // A sample much older than the timer keeps them (a reader back after a pause, too many
    // closes to remember): asked for now; at exit, waited for.
    for (const sp of this.spaces.values()) if (this.staleSample(sp)) this.closed ? this.sampleNow(sp) : this.sampleLater(sp);
    const notes = [...this.filterNotes, ...this.scopeNotes, ...this.laterNotes];
    if (this.recountDue) notes.push(LOSS_NOTE);
    if (this.early) notes.push(COUNTING_NOTE);
    for (const sp of this.spaces.values()) if (sp.error) notes.push(`network namespace ${sp.inode}: ${sp.error}`);
    const { counts, negative } = countStates(this.tracked, this.spaces.values());
    if (negative) notes.push('a socket left a state it was not counted in (events before its first were filtered out)');
    return { counts, exact: notes.length === 0, notes, sampledAt: this.sampledAt };
  }

  /** Stops sampling in the background; a later report() samples what is stale itself. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }

  private apply(e: TcpEvent, sp: Space): void {
    const from = e.oldState;
    const to = e.newState;
    // A listener's child starts as LISTEN->SYN_RECV: the listener stays where it is.
    if (!(from === State.LISTEN && to === State.SYN_RECV) && tracked(from)) this.tracked[from]--;
    if (tracked(to)) this.tracked[to]++;
    if (to === State.CLOSE && e.timeWait && !sp.stale) {
      if (sp.twCloses.length < MAX_PENDING_TW) sp.twCloses.push(e.tsNs);
      else sp.stale = true; // more than we remember: count them at the next read
    }
  }

  /**
   * Counts everything again from the kernel, at start and after events were lost, on worker
   * threads: the ring buffer keeps being drained meanwhile, and the events are held until the
   * dumps are in.
   */
  private recount(): void {
    this.lastRecount = performance.now();
    this.early = [];
    const scan = this.source.scan();
    const wanted = this.single !== undefined ? [this.single] : [...scan.paths.keys()];
    const scopeNotes: string[] = [];
    if (this.single === undefined && scan.unreadable) {
      scopeNotes.push(`${scan.unreadable} processes' network namespaces could not be read: their sockets are counted only from their transitions`);
    }
    const dumps: Promise<[number, string, CensusResult]>[] = [];
    for (const inode of wanted) {
      const path = inode === scan.own ? '' : this.source.pathOf(inode, scan);
      if (path === undefined) scopeNotes.push(`network namespace ${inode}: no process or mount opens it here, its sockets are counted only from their transitions`);
      else dumps.push(this.source.dumpAsync(this.request(path, DUMP_MASK, true)).then((r) => [inode, path, r]));
    }
    this.counting = Promise.all(dumps).then((results) => {
      this.scan = scan;
      this.scopeNotes = scopeNotes;
      this.laterNotes.clear();
      this.tracked.fill(0);
      this.pending = [];
      this.spaces.clear();
      for (const [inode, path, r] of results) this.install(newSpace(inode, path), r);
      this.sampledAt = Date.now();
      const early = this.early ?? [];
      this.early = undefined;
      this.observe(early);
    });
  }

  /** A namespace's count at start: its tracked states, sampled states and dump window. */
  private install(sp: Space, r: CensusResult): void {
    sp.sampleEndNs = r.endNs;
    sp.sampleMs = (r.endNs - r.startNs) / 1e6;
    sp.sampledAt = performance.now();
    this.spaces.set(sp.inode, sp);
    if (r.error) {
      sp.error = r.error;
      return;
    }
    sp.window = { startNs: r.startNs, endNs: r.endNs, tuples: r.tuples };
    for (let s = 1; s < 16; s++) {
      if ((SAMPLED_MASK >> s) & 1) sp.sampled[s] = r.counts[s];
      else if (tracked(s)) this.tracked[s] += r.counts[s];
    }
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
      if (!sp.sampling && now - sp.sampleStarted >= SAMPLE_DUTY * sp.sampleMs) this.sampleLater(sp);
    }
  }

  private sampleLater(sp: Space): void {
    if (!this.reachable(sp)) return;
    sp.sampling = true;
    sp.sampleStarted = performance.now();
    void this.source.dumpAsync(this.request(sp.path!, SAMPLED_MASK, false)).then((r) => this.sampled(sp, r));
  }

  private sampleNow(sp: Space): void {
    if (!this.reachable(sp)) return;
    sp.sampleStarted = performance.now();
    this.sampled(sp, this.source.dump(this.request(sp.path!, SAMPLED_MASK, false)));
  }

  private staleSample(sp: Space): boolean {
    const tooOld = Math.max(2 * SAMPLE_INTERVAL_MS, 2 * SAMPLE_DUTY * sp.sampleMs);
    return !sp.sampling && sp.path !== undefined && (sp.stale || performance.now() - sp.sampledAt > tooOld);
  }

  private sampled(sp: Space, r: CensusResult): void {
    sp.sampling = false;
    sp.sampleMs = performance.now() - sp.sampleStarted;
    sp.sampledAt = performance.now();
    sp.error = r.error ?? undefined;
    if (r.error) return;
    for (const s of [State.TIME_WAIT, State.SYN_RECV]) sp.sampled[s] = r.counts[s];
    sp.sampleEndNs = r.endNs;
    // Closes during the dump may or may not be in it; those after it are not.
    sp.twCloses = sp.stale ? [] : sp.twCloses.filter((t) => t > r.endNs);
    sp.stale = false;
    this.sampledAt = Date.now();
  }

  /**
   * Whether the namespace can still be opened (its path may now name another namespace: a
   * process exited, its pid was reused). A namespace nothing opens any more is gone, and so
   * are its TIME_WAIT sockets (its other sockets closed with transitions before it could go).
   */
  private reachable(sp: Space): boolean {
    if (sp.path === undefined) return false;
    if (sp.path === '' || !this.scan) return true;
    const path = this.source.pathOf(sp.inode, this.scan);
    if (path === undefined) {
      this.spaces.delete(sp.inode);
      return false;
    }
    sp.path = path;
    return true;
  }

  private space(netns: number): Space | undefined {
    let sp = this.spaces.get(netns);
    if (sp || this.single !== undefined) return sp;
    // A namespace we did not count at start: new since then (all its sockets are new) unless
    // some processes' namespaces could not be read.
    if (this.scan?.unreadable) this.laterNotes.add(`events from network namespace ${netns}, which could not be counted at start`);
    sp = newSpace(netns, this.scan ? this.source.pathOf(netns, this.scan) : undefined);
    sp.sampledAt = performance.now(); // nothing of it to sample yet: it has just begun
    this.spaces.set(netns, sp);
    return sp;
  }

  /** Events that happened while a dump ran: applied unless the dump already shows them. */
  private settle(): void {
    if (!this.pending.length) return;
    for (const [e, sp] of notYetCounted(this.pending, this.spaces)) this.apply(e, sp);
    this.pending = [];
    for (const sp of this.spaces.values()) if (sp.window) sp.window = { startNs: sp.window.startNs, endNs: sp.window.endNs };
  }
}
