// Who holds a listening socket now: the owner of a connection before accept() (docs/ATTRIBUTION.md).
// The kernel only knows who called listen(), and that process may be gone (a daemon that
// forked and exited) or share the listener with others (a master and its workers). Holders are
// learned from accept() records (the accepting process holds the listener) and from /proc scans
// (rate-limited, only when a listener's holders are unknown, a known holder has died, or the kernel
// marked it shared); the answer is the running holders, never one that has exited, and
// never one of several presented as the only one.
import { readFileSync } from 'node:fs';
import type { TcpEvent } from '../decode/event';
import { childrenOf, Liveness } from './liveness';

export interface Owner { pid: number; comm: string; cgroupId: number }

/**
 * A transition of a passive socket nobody has accepted (or used) yet: the kernel gave it the
 * listener's owner, or none when the listener predates tcptrace (then the socket has no file,
 * hence no inode, until accept()). SYN_RECV, ESTABLISHED, and a CLOSE or CLOSE_WAIT while it
 * still waits in the queue (a client that hung up first).
 */
export function beforeAccept(ev: TcpEvent): boolean {
  if (ev.side !== 'passive' || ev.isAccept) return false;
  if (ev.ownerSource === 'listener') return true;
  return ev.ownerSource === 'unknown' && ev.sockIno === 0;
}

/** What a /proc scan tells (ProcSocketIndex in src/enrich/attribute.ts). */
export interface HolderSource {
  /** every process holding socket `inode`, from a fresh scan */
  holdersOf(inode: number): Owner[];
  /** those of `pids` that hold socket `inode` (their fds only: cheap) */
  holdersAmong?(inode: number, pids: number[]): Owner[];
  /** inode of the socket that listened on `port` when tracing started, if known */
  listenerInode(netns: number, port: number): number | undefined;
}

/**
 * /proc scans read every process's fds (~30 ms for 120 processes, far more when a server holds
 * thousands of connections), so they run only when the known holders may be wrong: none is
 * known alive (a listener older than tcptrace, a daemon's exited listen() caller), or a known
 * holder died (a pre-forked server replaces its workers: the survivors alone would be a wrong,
 * shrinking list), or the kernel says another process accepted from a listener whose only
 * known holder is its listen() caller (once: a pre-forked server's workers without accept
 * records). Not merely to check a live listen() caller for workers: that spends the
 * shared budget that a listener with no live holder needs. At most one per listener per
 * second, and overall at most one per 250 ms and 5 % of the time (the pause after a scan is
 * 20 times what it took).
 */
const LISTENER_SCAN_MS = 1000;
const SCAN_INTERVAL_MS = 250;
const SCAN_PAUSE_FACTOR = 20;
/** How long a resolved answer is reused while its holders all run: pre-accept events come in
 *  bursts (whether they run is checked on each reuse, src/enrich/liveness.ts). */
const REUSE_MS = 200;
const MAX_LISTENERS = 8192;
const MAX_HOLDERS = 256;

export interface HolderAnswer {
  /** the master (the listen() caller if alive, else the holder whose parent holds none) */
  owner: Owner;
  /** the live holders known when there are several (owner first; only the owner when its
   *  peers died and no scan has found their successors yet), else null */
  holders: number[] | null;
}

interface Listener {
  inode: number;
  /** process that called listen(), as the kernel saw it */
  caller?: Owner;
  holders: Map<number, Owner>;
  scanned: boolean;
  /** a known holder died since the last scan */
  lostHolder: boolean;
  /** several processes held it when last known: one survivor is not alone until a scan says so */
  shared: boolean;
  /** the kernel marked it shared (another process accepted from it): once seen, trusted as far
   *  as the next scan, which alone says who holds it now (the marker may be alone by then) */
  kernelShared: boolean;
  sharedUnscanned: boolean;
  scannedAt: number;
  answer?: HolderAnswer | null;
  answeredAt: number;
}

export class ListenerHolders {
  /** by netns * 65536 + port (exact below 2^53: no string key per event) */
  private listeners = new Map<number, Listener>();
  private readonly liveness: Liveness;
  private nextScanAt = 0;

  constructor(private readonly procs: HolderSource, private readonly procRoot = '/proc', liveness?: Liveness) {
    this.liveness = liveness ?? new Liveness(procRoot);
  }

  /** CLOSE->LISTEN with a known owner: the caller holds it, maybe not alone. */
  noteListen(ev: TcpEvent): void {
    const l = this.entry(ev.netns, ev.sport, true)!;
    l.inode = ev.sockIno || l.inode;
    l.caller = { pid: ev.pid, comm: ev.comm, cgroupId: ev.cgroupId };
    l.holders.set(ev.pid, l.caller);
    l.answer = undefined;
  }

  /** accept() returned a child of this listener: the accepting process holds the listener. */
  noteAccept(ev: TcpEvent): void {
    const l = this.entry(ev.netns, ev.sport, true)!;
    if (l.holders.has(ev.pid) || l.holders.size >= MAX_HOLDERS) return;
    l.holders.set(ev.pid, { pid: ev.pid, comm: ev.comm, cgroupId: ev.cgroupId });
    l.answer = undefined;
  }

  forget(netns: number, port: number): void {
    this.listeners.delete(netns * 65536 + port);
  }

  /** The current holders of the listener a pre-accept event's socket came from; undefined if none is known alive. */
  resolve(ev: TcpEvent, now = performance.now()): HolderAnswer | undefined {
    const l = this.entry(ev.netns, ev.sport, false);
    if (!l) return undefined;
    if (ev.listenerShared && !l.kernelShared) {
      // the kernel saw another process accept from it: shared, whoever the others are
      l.kernelShared = true;
      l.shared = true;
      l.sharedUnscanned = true;
      l.answer = undefined;
    }
    if (l.answer !== undefined && now - l.answeredAt < REUSE_MS && this.allRunning(l.answer, now)) return l.answer ?? undefined;
    let live = this.live(l, now);
    if (l.lostHolder && l.inode) live = this.successors(l, live, now);
    // The holders a scan found, and the acceptors learned since, are the list.
    const doubtful = live.length === 0 || l.lostHolder || (l.sharedUnscanned && live.length < 2);
    // a holder that died is the moment its successors may exist (a reload, a recycled worker):
    // that scan waits only for the shared budget
    const scanDue = doubtful && (!l.scanned || l.lostHolder || now - l.scannedAt >= LISTENER_SCAN_MS);
    if (scanDue && l.inode && now >= this.nextScanAt) {
      l.scannedAt = now;
      l.scanned = true;
      l.lostHolder = false;
      l.sharedUnscanned = false;
      for (const o of this.procs.holdersOf(l.inode)) l.holders.set(o.pid, o);
      const took = performance.now() - now;
      this.nextScanAt = now + Math.max(SCAN_INTERVAL_MS, SCAN_PAUSE_FACTOR * took);
      live = this.live(l, now);
      l.shared = live.length > 1;
    } else if (live.length > 1) {
      l.shared = true;
    }
    l.answer = live.length ? this.answer(l, live) : null;
    l.answeredAt = now;
    return l.answer ?? undefined;
  }

  private entry(netns: number, port: number, create: boolean): Listener | undefined {
    const key = netns * 65536 + port;
    let l = this.listeners.get(key);
    if (!l) {
      // A listener older than tcptrace: its inode from the start-up snapshot.
      const inode = this.procs.listenerInode(netns, port);
      if (!create && inode === undefined) return undefined;
      if (this.listeners.size >= MAX_LISTENERS) this.listeners.clear();
      l = { inode: inode ?? 0, holders: new Map(), scanned: false, lostHolder: false, shared: false, kernelShared: false, sharedUnscanned: false, scannedAt: 0, answeredAt: 0 };
      this.listeners.set(key, l);
    }
    return l;
  }

  private live(l: Listener, now: number): Owner[] {
    const out: Owner[] = [];
    for (const [pid, o] of l.holders) {
      if (this.alive(pid, now)) out.push(o);
      else {
        l.holders.delete(pid);
        l.lostHolder = true;
      }
    }
    return out;
  }

  private answer(l: Listener, live: Owner[]): HolderAnswer {
    // a survivor of several (its peers died, the rescan is still paused) is listed, not alone:
    // its new peers may be unknown yet (a pre-forked server replacing workers, nginx reloading)
    if (live.length === 1) return { owner: live[0], holders: l.shared ? [live[0].pid] : null };
    const pids = new Set(live.map((o) => o.pid));
    const callerAlive = l.caller && pids.has(l.caller.pid);
    // The master: the listen() caller if alive, else a holder whose parent holds none.
    const roots = callerAlive ? [l.caller!] : live.filter((o) => !pids.has(this.parentOf(o.pid)));
    const owner = (roots.length ? roots : live).reduce((a, b) => (b.pid < a.pid ? b : a));
    return { owner, holders: [owner.pid, ...[...pids].filter((p) => p !== owner.pid).sort((a, b) => a - b)] };
  }

  /**
   * A holder died: its successors, if any, are usually children of a live holder (nginx's
   * master forks new workers on reload, a pre-forked server replaces one). Their fds are read
   * at once; the full scan (for any other holder) still waits for its budget.
   */
  private successors(l: Listener, live: Owner[], now: number): Owner[] {
    if (!this.procs.holdersAmong || live.length > MAX_HOLDERS) return live;
    const candidates: number[] = [];
    for (const o of live) {
      for (const pid of childrenOf(o.pid, this.procRoot)) if (!l.holders.has(pid)) candidates.push(pid);
    }
    if (!candidates.length) return live;
    let added = false;
    for (const o of this.procs.holdersAmong(l.inode, candidates.slice(0, MAX_HOLDERS))) {
      if (l.holders.has(o.pid)) continue;
      l.holders.set(o.pid, o);
      added = true;
    }
    return added ? this.live(l, now) : live;
  }

  private alive(pid: number, now: number): boolean {
    return this.liveness.running(pid, now);
  }

  /** A reused answer lists no process that has exited since. */
  private allRunning(a: HolderAnswer | null, now: number): boolean {
    if (!a) return true;
    if (!a.holders) return this.alive(a.owner.pid, now);
    for (const pid of a.holders) if (!this.alive(pid, now)) return false;
    return true;
  }

  private parentOf(pid: number): number {
    try {
      const stat = readFileSync(`${this.procRoot}/${pid}/stat`, 'latin1');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return 0;
    }
  }
}
