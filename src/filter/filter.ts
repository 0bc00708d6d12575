// Filters that cannot be decided in the kernel: the owner of a socket the kernel side met
// before it knew who owned it (attributed later from /proc), and of a connection before accept()
// (its listener's, until the accept names the process), still has to match --pid/--comm/--cgroup.
import type { TcpEvent } from '../decode/event';
import { kernelComm } from '../decode/comm';
import { State } from '../decode/states';

export interface OwnerFilter {
  pid?: number;
  comm?: string;
  cgroupId?: number;
  /** --state: only TIME_WAIT needs user space (below); the kernel decides the rest */
  states?: number[];
}

/**
 * The kernel never moves a traced socket into TIME_WAIT: a separate timewait socket takes its
 * place and the traced one goes to CLOSE, with time_wait set. So `--state TIME_WAIT` lets every
 * CLOSE through the kernel (src/probe/config.ts) and keeps here those that leave a TIME_WAIT
 * socket behind (all CLOSEs when CLOSE was asked for too).
 */
function onlyTimeWaitCloses(states: number[] | undefined): boolean {
  return Boolean(states?.includes(State.TIME_WAIT) && !states.includes(State.CLOSE));
}

export function ownerMatcher(f: OwnerFilter): ((e: TcpEvent) => boolean) | undefined {
  const timeWait = onlyTimeWaitCloses(f.states);
  if (f.pid === undefined && f.comm === undefined && f.cgroupId === undefined && !timeWait) return undefined;
  const comm = f.comm === undefined ? undefined : kernelComm(f.comm);
  return (e) =>
    (f.pid === undefined || e.pid === f.pid) &&
    (comm === undefined || e.comm === comm) &&
    (f.cgroupId === undefined || e.cgroupId === f.cgroupId) &&
    (!timeWait || e.newState !== State.CLOSE || e.timeWait);
}

/** Passive sockets whose pre-accept events wait for accept() to say whose they are. */
const MAX_HELD_SOCKETS = 16384;

/**
 * An owner filter that agrees with the owner a connection ends up with: the transitions of a
 * passive socket before accept() belong to its listener (often several processes), so they are
 * held until the socket's accept record (or its first event with a settled owner, or its CLOSE)
 * says whose connection it is, then delivered or dropped together. Bounded: past
 * MAX_HELD_SOCKETS the oldest socket's events are decided by the listener's owner.
 */
export class OwnerGate {
  private held = new Map<string, TcpEvent[]>();
  filtered = 0;

  constructor(private readonly ok: (e: TcpEvent) => boolean, private readonly pending: (e: TcpEvent) => boolean) {}

  /** Records in kernel order (accept records included); returns the transitions to deliver. */
  pass(records: TcpEvent[]): TcpEvent[] {
    const out: TcpEvent[] = [];
    for (const e of records) {
      const waiting = this.held.get(e.skaddr);
      if (e.isAccept) {
        if (waiting) this.decide(e.skaddr, waiting, this.ok(e), out);
      } else if (this.pending(e) && e.newState !== State.CLOSE) {
        if (waiting) waiting.push(e);
        else this.hold(e, out);
      } else {
        const ok = this.ok(e);
        if (waiting) this.decide(e.skaddr, waiting, ok, out);
        if (ok) out.push(e);
        else this.filtered++;
      }
    }
    return out;
  }

  /** At close: what was never decided goes by its listener's owner. */
  flush(): TcpEvent[] {
    const out: TcpEvent[] = [];
    for (const [skaddr, events] of this.held) this.decide(skaddr, events, this.ok(events[0]), out);
    return out;
  }

  private hold(e: TcpEvent, out: TcpEvent[]): void {
    if (this.held.size >= MAX_HELD_SOCKETS) {
      const [oldest, events] = this.held.entries().next().value as [string, TcpEvent[]];
      this.decide(oldest, events, this.ok(events[0]), out);
    }
    this.held.set(e.skaddr, [e]);
  }

  private decide(skaddr: string, events: TcpEvent[], ok: boolean, out: TcpEvent[]): void {
    this.held.delete(skaddr);
    if (ok) for (const e of events) out.push(e);
    else this.filtered += events.length;
  }
}
