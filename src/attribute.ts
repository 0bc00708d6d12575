// Owner attribution that needs user space: sockets the kernel side met before it knew
// their owner (opened before tcptrace started) are matched by socket inode in /proc.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { TcpEvent } from './event';
import { State } from './states';

interface Owner { pid: number; comm: string; cgroupId: number }

const RESCAN_MS = 500;
const MAX_REMEMBERED = 65536;

/** socket inode → owning process, from /proc/PID/fd; rebuilt at most every RESCAN_MS. */
export class ProcSocketIndex {
  private byInode = new Map<number, Owner>();
  private scannedAt = -Infinity;

  constructor(private readonly procRoot = '/proc', private readonly cgroupRoot = '/sys/fs/cgroup') {}

  lookup(inode: number): Owner | undefined {
    const hit = this.byInode.get(inode);
    if (hit || performance.now() - this.scannedAt < RESCAN_MS) return hit;
    this.scan();
    return this.byInode.get(inode);
  }

  private scan(): void {
    this.scannedAt = performance.now();
    const next = new Map<number, Owner>();
    for (const entry of safeReaddir(this.procRoot)) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      let owner: Owner | undefined;
      for (const fd of safeReaddir(`${this.procRoot}/${pid}/fd`)) {
        let target: string;
        try { target = readlinkSync(`${this.procRoot}/${pid}/fd/${fd}`); } catch { continue; }
        if (!target.startsWith('socket:[')) continue;
        owner ??= this.describe(pid);
        next.set(Number(target.slice(8, -1)), owner);
      }
    }
    this.byInode = next;
  }

  private describe(pid: number): Owner {
    let comm = '';
    let cgroupId = 0;
    try { comm = readFileSync(`${this.procRoot}/${pid}/comm`, 'latin1').trimEnd(); } catch { /* process left */ }
    try {
      const line = readFileSync(`${this.procRoot}/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
      if (line) cgroupId = statSync(this.cgroupRoot + line.slice(3)).ino;
    } catch { /* no cgroup v2 */ }
    return { pid, comm, cgroupId };
  }
}

function safeReaddir(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}

/** Fills in owners the kernel could not know, and keeps them for the socket's later events. */
export class Attributor {
  private bySocket = new Map<string, Owner>();

  constructor(private readonly index = new ProcSocketIndex()) {}

  resolve(events: TcpEvent[]): void {
    for (const ev of events) {
      if (ev.ownerSource === 'unknown') {
        const owner = this.bySocket.get(ev.skaddr) ?? (ev.sockIno ? this.index.lookup(ev.sockIno) : undefined);
        if (owner) {
          ev.pid = owner.pid;
          ev.comm = owner.comm;
          ev.cgroupId = owner.cgroupId;
          ev.ownerSource = 'proc';
          this.remember(ev.skaddr, owner);
        }
      }
      if (ev.newState === State.CLOSE) this.bySocket.delete(ev.skaddr);
    }
  }

  private remember(skaddr: string, owner: Owner): void {
    if (this.bySocket.size >= MAX_REMEMBERED) this.bySocket.clear();
    this.bySocket.set(skaddr, owner);
  }
}
