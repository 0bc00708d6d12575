// Whether a process is still running, as user space can tell when it processes an event: named
// owners that have exited are marked (docs/ATTRIBUTION.md), and a listener's holders are only
// the running ones. /proc/PID/stat, not kill(pid, 0): an exited child its parent has not reaped
// yet (a zombie) holds no socket any more and must count as exited.
import { readFileSync } from 'node:fs';

/** How long a "running" answer is reused: events come in bursts, a process can exit any time. */
const RUNNING_MS = 20;
/** How long an "exited" answer is reused (a pid is reused only after the kernel wraps around). */
const EXITED_MS = 10_000;
const MAX_PIDS = 8192;

/** The children of `pid`'s main thread (where a server forks), from /proc; [] if unknown. */
export function childrenOf(pid: number, procRoot = '/proc'): number[] {
  try {
    return readFileSync(`${procRoot}/${pid}/task/${pid}/children`, 'latin1').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export class Liveness {
  private known = new Map<number, { running: boolean; at: number }>();

  constructor(private readonly procRoot = '/proc') {}

  running(pid: number, now: number): boolean {
    const k = this.known.get(pid);
    if (k && now - k.at < (k.running ? RUNNING_MS : EXITED_MS)) return k.running;
    const running = this.read(pid);
    if (this.known.size >= MAX_PIDS) this.known.clear();
    this.known.set(pid, { running, at: now });
    return running;
  }

  private read(pid: number): boolean {
    let stat: string;
    try {
      stat = readFileSync(`${this.procRoot}/${pid}/stat`, 'latin1');
    } catch (err) {
      // not ours to see (another pid namespace's /proc, a hardened /proc): assume it runs
      return (err as NodeJS.ErrnoException).code !== 'ENOENT';
    }
    // pid (comm) S ...: the state letter follows the last ')' (comm may hold anything)
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X' && state !== 'x';
  }
}
