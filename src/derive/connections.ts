// Follows each socket from its open to its CLOSE: the one per-socket state map of user space.
// It reports finished connections (for --lifetimes, the metrics and the lifetime statistics)
// and, for the stats engine without a census, how many sockets seen are in each state now.
// Bounded: the oldest sockets are forgotten first when more than `capacity` are open at once.
import type { ConnTotals, TcpEvent } from '../decode/event';
import type { CauseName } from '../decode/names';
import { State, stateName } from '../decode/states';

export interface FinishedConnection {
  skaddr: string;
  pid: number;
  comm: string;
  family: 4 | 6;
  saddr: string;
  sport: number;
  daddr: string;
  dport: number;
  side: 'active' | 'passive' | '';
  /** ms from SYN_SENT/first SYN-ACK to ESTABLISHED; null if the handshake was not seen or failed */
  handshakeMs: number | null;
  /** passive: ms from ESTABLISHED to accept() returning it; null if not accepted or unmeasured */
  acceptWaitMs: number | null;
  /** ms from the first transition seen to CLOSE; null if the open was not seen */
  lifetimeMs: number | null;
  established: boolean;
  cause: CauseName;
  error: number;
  timeWait: boolean;
  synRetrans: number;
  synackRetrans: number;
  /** the state the socket left for CLOSE */
  lastState: string;
  /** wall clock of the CLOSE, ms */
  time: number;
  /** the CLOSE transition itself (what --lifetimes shows of the catalogue's `lifetimes` fields);
   *  absent for a connection still open */
  close?: TcpEvent;
  netns: number;
  /** bytes, segments, retransmits and RTT from the socket at its CLOSE; null when not read */
  totals: ConnTotals | null;
  /** not finished: a connection still open when the report was made (sock_diag), figures so far */
  open?: boolean;
}

interface OpenConnection {
  /** the state it is in now */
  state: number;
  openedNs: number;
  seenOpen: boolean;
  handshakeMs: number | null;
  established: boolean;
}

export class ConnectionTracker {
  private open = new Map<string, OpenConnection>();

  constructor(private readonly capacity = 65536) {}

  get size(): number {
    return this.open.size;
  }

  /** Feeds a batch; returns the connections that finished in it. */
  observe(batch: TcpEvent[]): FinishedConnection[] {
    const done: FinishedConnection[] = [];
    for (const e of batch) {
      let c = this.open.get(e.skaddr);
      if (!c) {
        const opening = e.newState === State.SYN_SENT || e.newState === State.SYN_RECV;
        c = { state: e.newState, openedNs: e.tsNs, seenOpen: opening, handshakeMs: null, established: false };
        if (this.open.size >= this.capacity) this.open.delete(this.open.keys().next().value as string);
        this.open.set(e.skaddr, c);
      }
      c.state = e.newState;
      if (e.newState === State.ESTABLISHED) {
        c.established = true;
        if (e.handshakeUs) c.handshakeMs = e.handshakeUs / 1000;
      }
      if (e.newState !== State.CLOSE) continue;
      this.open.delete(e.skaddr);
      // The listening socket itself is not a connection (its children are).
      if (e.oldState === State.LISTEN) continue;
      done.push({
        skaddr: e.skaddr, pid: e.pid, comm: e.comm, family: e.family, saddr: e.saddr, sport: e.sport,
        daddr: e.daddr, dport: e.dport, side: e.side, handshakeMs: c.handshakeMs,
        acceptWaitMs: e.acceptWaitUs ? e.acceptWaitUs / 1000 : null,
        lifetimeMs: c.seenOpen ? (e.tsNs - c.openedNs) / 1e6 : null, established: c.established,
        cause: e.cause, error: e.error, timeWait: e.timeWait, synRetrans: e.synRetrans,
        synackRetrans: e.synackRetrans, lastState: stateName(e.oldState), time: e.time, close: e, netns: e.netns,
        totals: e.totals,
      });
    }
    return done;
  }

  /** How many of the sockets followed are in each state now. */
  states(): Map<number, number> {
    const n = new Map<number, number>();
    for (const c of this.open.values()) n.set(c.state, (n.get(c.state) ?? 0) + 1);
    return n;
  }
}

/** How a finished connection ended, as one label: time-wait, or its close cause. */
export function closeLabel(c: FinishedConnection): string {
  return c.timeWait ? 'time-wait' : c.cause || 'normal';
}

/** Why an active open failed (it never left SYN_SENT), or undefined when it did not fail. */
export function failedConnectCause(c: FinishedConnection): string | undefined {
  if (c.side !== 'active' || c.established || c.lastState !== 'SYN_SENT') return undefined;
  return c.cause === 'normal' ? 'aborted' : c.cause || 'unknown';
}
