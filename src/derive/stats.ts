// Bounded analytics over the event stream: handshake latency (overall, per remote endpoint,
// per listening port), failed connects by cause and peer, lifetimes, time per state,
// transition counts. The summary report, the WebSocket `stats` message and the metrics
// all read StatsSnapshot.
import type { CensusReport, SocketCensus } from '../census/census';
import { closeLabel, failedConnectCause, type ConnectionTracker, type FinishedConnection } from './connections';
import type { TcpEvent } from '../decode/event';
import { Histogram, type HistogramSummary } from './histogram';
import { State, stateName } from '../decode/states';
import { TrafficTable, type TrafficSnapshot } from './traffic';
import { HandshakeBook, type HandshakeBookSnapshot } from './handshake-book';
import type { ListenerPressure } from './listener-pressure';

export interface TopEntry {
  key: string;
  handshake: HistogramSummary;
}

export interface PortWait {
  /** listening port */
  key: string;
  wait: HistogramSummary;
}

export interface FailureEntry {
  peer: string;
  count: number;
  causes: Record<string, number>;
}

export interface StatsSnapshot {
  /** wall clock ms of the first and latest event observed */
  since: number;
  until: number;
  events: number;
  /** "OLD->NEW" → count */
  transitions: Record<string, number>;
  /** of those, "OLD->CLOSE" that handed the connection to a TIME_WAIT socket (the RFC's OLD->TIME_WAIT) */
  timeWaitCloses: Record<string, number>;
  /** of those, "OLD->CLOSE" that failed: refused, timeout, reset either way, error */
  failedTransitions: Record<string, number>;
  /** transitions into each state */
  intoState: Record<string, number>;
  /**
   * Sockets in each state now: from the census (all sockets in scope, as `ss -tan` counts
   * them), or without one, of those seen since start (bounded).
   */
  current: Record<string, number>;
  /** whether `current` is exact, and why not; absent without a census */
  census?: Omit<CensusReport, 'counts'>;
  handshake: {
    active: HistogramSummary;
    passive: HistogramSummary;
    byRemote: TopEntry[];
    byListenPort: TopEntry[];
  };
  failedConnects: {
    total: number;
    byCause: Record<string, number>;
    byPeer: FailureEntry[];
  };
  closes: Record<string, number>;
  /** ms from ESTABLISHED to accept() returning the socket, per listening port */
  acceptWait: {
    all: HistogramSummary;
    byListenPort: PortWait[];
  };
  lifetime: HistogramSummary;
  /** ms spent in each state, from the transitions out of it */
  stateTime: Record<string, HistogramSummary>;
  /** bytes and retransmits per listening port and remote endpoint, top connections (traffic.ts) */
  traffic: TrafficSnapshot;
  /** connections still open counted into `traffic` (figures so far), when read for this report */
  open?: { total: number; errors: string[] };
  /** slow and failed handshakes by listener and diagnosis, and the listeners sampled under pressure */
  handshakes: HandshakeBookSnapshot;
}

/** A keyed table that keeps at most `limit` keys, evicting the least-used when full. */
class TopTable<V> {
  private rows = new Map<string, { hits: number; value: V }>();
  constructor(private readonly limit: number, private readonly make: () => V) {}

  get(key: string): V {
    let row = this.rows.get(key);
    if (!row) {
      if (this.rows.size >= this.limit * 4) this.shrink();
      row = { hits: 0, value: this.make() };
      this.rows.set(key, row);
    }
    row.hits++;
    return row.value;
  }

  top(): [string, V][] {
    return [...this.rows.entries()].sort((a, b) => b[1].hits - a[1].hits).slice(0, this.limit).map(([k, r]) => [k, r.value]);
  }

  private shrink(): void {
    const keep = [...this.rows.entries()].sort((a, b) => b[1].hits - a[1].hits).slice(0, this.limit * 2);
    this.rows = new Map(keep);
  }
}

export function endpoint(addr: string, port: number, family: 4 | 6): string {
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** What the stats engine reads besides the batches (a sink that reads the engine reads these too: src/sinks/sink.ts). */
export const STATS_READS = { finished: true, accepts: true, census: true, totals: true } as const;

export class StatsEngine {
  private readonly active = new Histogram();
  private readonly passive = new Histogram();
  private readonly lifetime = new Histogram();
  private readonly acceptWait = new Histogram();
  private readonly acceptWaitByPort: TopTable<Histogram>;
  private readonly byRemote: TopTable<Histogram>;
  private readonly byListenPort: TopTable<Histogram>;
  private readonly failuresByPeer: TopTable<{ count: number; causes: Record<string, number> }>;
  private readonly stateTime = new Map<number, Histogram>();
  private readonly traffic: TrafficTable;
  private readonly transitions = new Map<number, number>();
  private readonly timeWaitCloses = new Map<number, number>();
  private readonly failedTransitions = new Map<number, number>();
  private readonly intoState = new Map<number, number>();
  /** without a census: the pipeline's connection tracker says which state each socket seen is in */
  private tracker?: ConnectionTracker;
  private readonly failCauses: Record<string, number> = {};
  private readonly closeCauses: Record<string, number> = {};
  private failed = 0;
  private events = 0;
  private since = 0;
  private until = 0;

  /** slow and failed handshakes by listener and diagnosis */
  private readonly handshakes: HandshakeBook;

  constructor(readonly topN = 10, private readonly census?: SocketCensus, pressure?: ListenerPressure) {
    this.handshakes = new HandshakeBook(pressure);
    this.byRemote = new TopTable(topN, () => new Histogram());
    this.byListenPort = new TopTable(topN, () => new Histogram());
    this.acceptWaitByPort = new TopTable(topN, () => new Histogram());
    this.failuresByPeer = new TopTable(topN, () => ({ count: 0, causes: {} }));
    this.traffic = new TrafficTable(topN);
  }

  /** Without a census, `current` counts the sockets this tracker follows (the pipeline's, which feeds it). */
  countStatesOf(tracker: ConnectionTracker): void {
    this.tracker = tracker;
  }

  /** A batch of transitions and the connections that finished in it (the pipeline's one tracker). */
  observe(batch: TcpEvent[], finished: readonly FinishedConnection[]): void {
    if (batch.length === 0) return;
    if (!this.since) this.since = batch[0].time;
    this.until = batch[batch.length - 1].time;
    this.events += batch.length;
    for (const e of batch) this.observeOne(e);
    this.handshakes.observe(batch);
    for (const c of finished) this.finish(c);
  }

  /** Accept records (Tracer 'accepts'): the accept-queue wait, as soon as accept() returns. */
  observeAccepts(batch: TcpEvent[]): void {
    for (const a of batch) {
      if (!a.acceptWaitUs) continue;
      const ms = a.acceptWaitUs / 1000;
      this.acceptWait.record(ms);
      this.acceptWaitByPort.get(String(a.sport)).record(ms);
    }
  }

  private observeOne(e: TcpEvent): void {
    const t = e.oldState * 256 + e.newState; // named only when a snapshot is taken
    this.transitions.set(t, (this.transitions.get(t) ?? 0) + 1);
    this.intoState.set(e.newState, (this.intoState.get(e.newState) ?? 0) + 1);
    if (e.newState === State.CLOSE) {
      if (e.timeWait) this.timeWaitCloses.set(t, (this.timeWaitCloses.get(t) ?? 0) + 1);
      else if (e.cause !== '' && e.cause !== 'normal') this.failedTransitions.set(t, (this.failedTransitions.get(t) ?? 0) + 1);
    }
    if (e.durationNs !== null) {
      let h = this.stateTime.get(e.oldState);
      if (!h) this.stateTime.set(e.oldState, (h = new Histogram()));
      h.record(e.durationNs / 1e6);
    }
    if (e.newState === State.ESTABLISHED && e.handshakeUs) {
      const ms = e.handshakeUs / 1000;
      if (e.oldState === State.SYN_SENT) {
        this.active.record(ms);
        this.byRemote.get(endpoint(e.daddr, e.dport, e.family)).record(ms);
      } else if (e.oldState === State.SYN_RECV) {
        this.passive.record(ms);
        this.byListenPort.get(String(e.sport)).record(ms);
      }
    }
  }

  private finish(c: FinishedConnection): void {
    this.traffic.observe(c);
    if (c.lifetimeMs !== null) this.lifetime.record(c.lifetimeMs);
    const cause = closeLabel(c);
    this.closeCauses[cause] = (this.closeCauses[cause] ?? 0) + 1;
    const why = failedConnectCause(c);
    if (why) {
      this.failed++;
      this.failCauses[why] = (this.failCauses[why] ?? 0) + 1;
      const row = this.failuresByPeer.get(endpoint(c.daddr, c.dport, c.family));
      row.count++;
      row.causes[why] = (row.causes[why] ?? 0) + 1;
    }
  }

  /** `open`: connections still open (open-connections.ts), counted into `traffic` for this snapshot only. */
  snapshot(open?: { connections: readonly FinishedConnection[]; total: number; errors: string[] }): StatsSnapshot {
    let current: Record<string, number> = {};
    let census: StatsSnapshot['census'];
    if (this.census) {
      const { counts, ...rest } = this.census.report();
      current = counts;
      census = rest;
    } else if (this.tracker) {
      for (const [s, n] of this.tracker.states()) current[stateName(s)] = n;
    }
    const stateTime: Record<string, HistogramSummary> = {};
    for (const [s, h] of this.stateTime) stateTime[stateName(s)] = h.summary();
    const intoState: Record<string, number> = {};
    for (const [s, n] of this.intoState) intoState[stateName(s)] = n;
    return {
      since: this.since,
      until: this.until,
      events: this.events,
      transitions: named(this.transitions),
      timeWaitCloses: named(this.timeWaitCloses),
      failedTransitions: named(this.failedTransitions),
      intoState,
      current,
      ...(census ? { census } : {}),
      handshake: {
        active: this.active.summary(),
        passive: this.passive.summary(),
        byRemote: this.byRemote.top().map(([key, h]) => ({ key, handshake: h.summary() })),
        byListenPort: this.byListenPort.top().map(([key, h]) => ({ key, handshake: h.summary() })),
      },
      failedConnects: {
        total: this.failed,
        byCause: { ...this.failCauses },
        byPeer: this.failuresByPeer.top().map(([peer, r]) => ({ peer, count: r.count, causes: { ...r.causes } })),
      },
      closes: { ...this.closeCauses },
      acceptWait: {
        all: this.acceptWait.summary(),
        byListenPort: this.acceptWaitByPort.top().map(([key, h]) => ({ key, wait: h.summary() })),
      },
      lifetime: this.lifetime.summary(),
      stateTime,
      traffic: this.traffic.snapshot(open?.connections),
      ...(open ? { open: { total: open.total, errors: open.errors } } : {}),
      handshakes: this.handshakes.snapshot(),
    };
  }
}

/** old*256+new keys as "OLD->NEW". */
function named(byPair: Map<number, number>): Record<string, number> {
  return Object.fromEntries([...byPair].map(([t, n]) => [`${stateName(t >> 8)}->${stateName(t & 255)}`, n]));
}
