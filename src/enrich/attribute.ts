// Owner attribution that needs user space: sockets the kernel side met before it knew
// their owner (opened before tcptrace started) are matched by socket inode in /proc, and
// children of listeners that predate tcptrace inherit the listener's owner.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { TcpEvent } from '../decode/event';
import { State } from '../decode/states';
import { cgroup2Root } from './containers';
import { loadBinding } from '../native/binding';
import { procComm } from '../decode/comm';
import { beforeAccept, ListenerHolders, type Owner } from './listener-holders';
import { childrenOf, Liveness } from './liveness';


// A rescan reads every /proc/PID/fd: rare by design, since the kernel attributes every
// socket created after tracing starts and prime() covers the ones before.
const RESCAN_MS = 5000;
const MAX_REMEMBERED = 65536;

/** socket inode → owning process, from /proc/PID/fd; refreshed at most every RESCAN_MS. */
export class ProcSocketIndex {
  private byInode = new Map<number, Owner>();
  /** listening socket inode → every process holding it (filled for watched inodes only) */
  private holders = new Map<number, Owner[]>();
  private readonly watched = new Set<number>();
  /** network namespace inode → a process in it, from the last scan (for its /proc/PID/net) */
  private netnsPid = new Map<number, number>();
  private foreignListeners = new Map<number, { at: number; ports: Map<number, number> }>();
  /** listening port → socket inode, in tcptrace's own network namespace */
  private listeners = new Map<number, number>();
  private scannedAt = -Infinity;
  /** how long the last scan took */
  private scanMs = 0;
  readonly ownNetns: number;

  constructor(private readonly procRoot = '/proc', private readonly cgroupRoot = cgroup2Root() ?? '/sys/fs/cgroup') {
    let ino = 0;
    try { ino = statSync(`${procRoot}/self/ns/net`).ino; } catch { /* no procfs */ }
    this.ownNetns = ino;
  }

  lookup(inode: number): Owner | undefined {
    const hit = this.byInode.get(inode);
    if (hit || performance.now() - this.scannedAt < RESCAN_MS) return hit;
    this.scan();
    return this.byInode.get(inode);
  }

  /** Reads /proc once when tracing starts: sockets and listeners opened before are known. */
  prime(): void {
    this.scanListeners();
    this.scan();
  }

  forget(inode: number): void {
    this.byInode.delete(inode);
  }

  /** Whether a /proc scan ran in the last `ms` milliseconds. */
  scannedWithin(ms: number): boolean {
    return performance.now() - this.scannedAt < ms;
  }

  /** Those of `pids` that hold socket `inode`: their /proc/PID/fd only. */
  holdersAmong(inode: number, pids: number[]): Owner[] {
    const target = `socket:[${inode}]`;
    const out: Owner[] = [];
    for (const pid of pids) {
      for (const fd of safeReaddir(`${this.procRoot}/${pid}/fd`)) {
        let link: string;
        try { link = readlinkSync(`${this.procRoot}/${pid}/fd/${fd}`); } catch { continue; }
        if (link === target) {
          out.push(this.describe(pid));
          break;
        }
      }
    }
    return out;
  }

  /** Every process holding listening socket `inode`, from a fresh /proc scan. */
  holdersOf(inode: number): Owner[] {
    if (!this.watched.has(inode)) {
      if (this.watched.size >= MAX_REMEMBERED) this.watched.clear();
      this.watched.add(inode);
    }
    this.scan();
    return this.holders.get(inode) ?? [];
  }

  /**
   * Inode of the socket listening on `port` in namespace `netns`: ours from the start-up
   * snapshot, another's through a process the last scan found in it (sock_diag in its namespace).
   */
  listenerInode(netns: number, port: number): number | undefined {
    if (netns === this.ownNetns) return this.listeners.get(port);
    const now = performance.now();
    let known = this.foreignListeners.get(netns);
    if (!known || now - known.at > RESCAN_MS) {
      // a scan costs more with every fd on the host: at most 5 % of the time
      if (!this.netnsPid.has(netns) && !this.scannedWithin(Math.max(RESCAN_MS / 5, 20 * this.scanMs))) this.scan();
      const pid = this.netnsPid.get(netns);
      if (pid === undefined) return undefined;
      if (this.foreignListeners.size >= MAX_REMEMBERED) this.foreignListeners.clear();
      known = { at: now, ports: this.listenersOf(`${this.procRoot}/${pid}`) };
      this.foreignListeners.set(netns, known);
    }
    return known.ports.get(port);
  }

  private scanListeners(): void {
    this.listeners = this.listenersOf(this.procRoot, '');
  }

  /** LISTEN sockets (port → inode) in the namespace of /proc/PID (or of /proc: ours). */
  private listenersOf(procPid: string, netnsPath = `${procPid}/ns/net`): Map<number, number> {
    const viaNetlink = this.procRoot === '/proc' ? listeningSocketsViaNetlink(netnsPath) : null;
    return viaNetlink ? new Map(viaNetlink.map((l) => [l.port, l.inode])) : listenersInProcNet(`${procPid}/net`);
  }

  private scan(): void {
    this.scannedAt = performance.now();
    // Merge rather than replace: a socket seen at startup keeps its owner even if the
    // process closes its fd before the socket's last transitions reach us.
    const next = this.byInode.size > MAX_REMEMBERED * 4 ? new Map<number, Owner>() : this.byInode;
    const holders = new Map<number, Owner[]>();
    const netnsPid = new Map<number, number>();
    for (const entry of safeReaddir(this.procRoot)) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      const netns = netnsOf(`${this.procRoot}/${pid}`);
      if (netns && netns !== this.ownNetns && !netnsPid.has(netns)) netnsPid.set(netns, pid);
      let owner: Owner | undefined;
      for (const fd of safeReaddir(`${this.procRoot}/${pid}/fd`)) {
        let target: string;
        try { target = readlinkSync(`${this.procRoot}/${pid}/fd/${fd}`); } catch { continue; }
        if (!target.startsWith('socket:[')) continue;
        owner ??= this.describe(pid);
        const inode = Number(target.slice(8, -1));
        next.set(inode, owner);
        if (this.watched.has(inode)) {
          const list = holders.get(inode);
          if (!list) holders.set(inode, [owner]);
          else if (!list.includes(owner)) list.push(owner);
        }
      }
    }
    this.byInode = next;
    this.holders = holders;
    this.netnsPid = netnsPid;
    this.scanMs = performance.now() - this.scannedAt;
  }

  private describe(pid: number): Owner {
    let comm = '';
    let cgroupId = 0;
    try { comm = procComm(readFileSync(`${this.procRoot}/${pid}/comm`)); } catch { /* process left */ }
    try {
      const line = readFileSync(`${this.procRoot}/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
      if (line) cgroupId = statSync(this.cgroupRoot + line.slice(3)).ino;
    } catch { /* no cgroup v2 */ }
    return { pid, comm, cgroupId };
  }
}

/** sock_diag in the namespace the path opens ('' ours): cheap however many other sockets exist. */
function listeningSocketsViaNetlink(netnsPath: string): { port: number; inode: number }[] | null {
  try {
    return loadBinding().listeningSockets(netnsPath);
  } catch {
    return null;
  }
}

/** LISTEN sockets (port → inode) in /proc/net/tcp{,6} of one namespace's view. */
function listenersInProcNet(dir: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const file of ['tcp', 'tcp6']) {
    let text = '';
    try { text = readFileSync(`${dir}/${file}`, 'latin1'); } catch { continue; }
    for (const line of text.split('\n')) {
      if (!line.includes(' 0A ')) continue; // most lines are not listeners: skip them cheaply
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st ... inode: state 0A is LISTEN
      if (f.length < 10 || f[3] !== '0A') continue;
      out.set(parseInt(f[1].split(':')[1], 16), Number(f[9]));
    }
  }
  return out;
}

function netnsOf(procPid: string): number {
  try {
    const link = readlinkSync(`${procPid}/ns/net`); // net:[4026531840]
    return Number(link.slice(5, -1));
  } catch {
    return 0;
  }
}

function safeReaddir(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}

/** Fills in owners the kernel could not know, and keeps them for the socket's later events. */
export class Attributor {
  private bySocket = new Map<string, Owner>();
  private readonly holders: ListenerHolders;
  private readonly liveness = new Liveness();

  private primed = false;

  constructor(private readonly index = new ProcSocketIndex()) {
    this.holders = new ListenerHolders(index, '/proc', this.liveness);
  }

  /** Snapshot /proc (idempotent): right after attach, or at the first batch if that is sooner. */
  prime(): void {
    if (this.primed) return;
    this.primed = true;
    this.index.prime();
  }

  resolve(events: TcpEvent[]): void {
    this.prime();
    const now = performance.now(); // one clock read per batch: answers are reused for 200 ms
    for (const ev of events) {
      if (ev.isAccept) {
        this.holders.noteAccept(ev);
        continue;
      }
      if (ev.newState === State.LISTEN && ev.ownerSource !== 'unknown') {
        this.holders.noteListen(ev);
      } else if (beforeAccept(ev)) {
        this.fromListener(ev, now);
      } else if (ev.ownerSource === 'unknown') {
        const owner = this.bySocket.get(ev.skaddr) ?? (ev.sockIno ? this.index.lookup(ev.sockIno) : undefined);
        if (owner) {
          setOwner(ev, owner, 'proc');
          this.remember(ev.skaddr, owner);
        }
      }
      if (ev.ownerSource === 'accept' && ev.newState === State.CLOSE_WAIT && ev.sockIno) this.handedOver(ev);
      if (ev.pid !== ev.cpuPid && ev.ownerSource !== 'unknown' && !ev.holders) this.markExited(ev, now);
      if (ev.newState === State.CLOSE) {
        if (this.bySocket.size) this.bySocket.delete(ev.skaddr); // usually empty: the kernel knew the owners
        if (ev.sockIno) this.index.forget(ev.sockIno);
        if (ev.oldState === State.LISTEN) this.holders.forget(ev.netns, ev.sport);
      }
    }
  }

  /** Before accept, the socket is its listener's: named after the listener's current holders. */
  private fromListener(ev: TcpEvent, now: number): void {
    const answer = this.holders.resolve(ev, now);
    if (answer) {
      setOwner(ev, answer.owner, 'listener');
      ev.holders = answer.holders;
    } else if (ev.ownerSource !== 'listener' || !ev.pid) {
      setOwner(ev, { pid: 0, comm: '', cgroupId: 0 }, 'unknown');
    }
    // else no holder runs any more: the listen() caller the kernel named held the listener when
    // the connection arrived (its last holder known), and is marked as exited
  }

  /**
   * The client hung up on a socket nobody has used since accept(): its acceptor may have handed
   * it over unread (fork then close, fd passing to a cluster worker), and the kernel, which saw
   * no use, still names the acceptor. If a child of the acceptor holds it and the acceptor no
   * longer does, the child is the owner (ss -tanp agrees). Rare (a server reads what it accepts)
   * and cheap: the acceptor's children's fds, when it has children.
   */
  private handedOver(ev: TcpEvent): void {
    const kids = childrenOf(ev.pid);
    if (!kids.length) return;
    const holders = this.index.holdersAmong(ev.sockIno, kids);
    if (!holders.length || this.index.holdersAmong(ev.sockIno, [ev.pid]).length) return;
    setOwner(ev, holders[0], 'proc');
  }

  /**
   * A change that ran without its owner (softirq, a timer) names the last owner known; if that
   * process has exited by now (a socket it left behind finishing its close, a listener's queued
   * connection), it is marked so, never shown as if it still ran.
   */
  private markExited(ev: TcpEvent, now: number): void {
    if (!this.liveness.running(ev.pid, now)) ev.ownerExited = true;
  }

  private remember(skaddr: string, owner: Owner): void {
    if (this.bySocket.size >= MAX_REMEMBERED) this.bySocket.clear();
    this.bySocket.set(skaddr, owner);
  }
}

function setOwner(ev: TcpEvent, owner: Owner, source: TcpEvent['ownerSource']): void {
  ev.pid = owner.pid;
  ev.comm = owner.comm;
  ev.cgroupId = owner.cgroupId;
  ev.ownerSource = source;
}
