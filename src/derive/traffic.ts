// Bytes and retransmits per listening port (accepted connections) and per remote endpoint
// (connections we opened), from the totals each connection's CLOSE carries; connections still
// open can be added at report time with their figures so far (open-connections.ts). Bounded:
// at most 4 × topN keys per table, the smallest by bytes dropped first.
import type { FinishedConnection } from './connections';

export interface TrafficFigures {
  connections: number;
  bytesAcked: number;
  bytesReceived: number;
  bytesRetrans: number;
  retransSegs: number;
}

export interface TrafficRow extends TrafficFigures {
  /** `port N` for a listening port, `addr:port` for a remote endpoint */
  key: string;
  /** of those figures, what connections still open contributed so far (only when open ones were read) */
  open?: TrafficFigures;
}

export interface TrafficSnapshot {
  /** every connection with totals, finished (and open, when read) */
  all: TrafficFigures;
  /** most bytes (acked + received) first */
  byListenPort: TrafficRow[];
  byRemote: TrafficRow[];
  /** the connections that carried the most bytes (finished ones since start, and open ones when read) */
  topConnections: FinishedConnection[];
  /** the most retransmitted segments first */
  topRetransmitting: FinishedConnection[];
}

const zero = (): TrafficFigures => ({ connections: 0, bytesAcked: 0, bytesReceived: 0, bytesRetrans: 0, retransSegs: 0 });
const bytes = (f: { bytesAcked: number; bytesReceived: number }) => f.bytesAcked + f.bytesReceived;

function add(f: TrafficFigures, c: FinishedConnection): void {
  const t = c.totals!;
  f.connections++;
  f.bytesAcked += t.bytesAcked;
  f.bytesReceived += t.bytesReceived;
  f.bytesRetrans += t.bytesRetrans;
  f.retransSegs += t.retransSegs;
}

function remoteKey(c: FinishedConnection): string {
  return c.family === 6 ? `[${c.daddr}]:${c.dport}` : `${c.daddr}:${c.dport}`;
}

/** Which table a connection counts in: accepted ones by listening port, the rest by remote endpoint. */
function keyOf(c: FinishedConnection): ['port' | 'remote', string] {
  return c.side === 'passive' ? ['port', `port ${c.sport}`] : ['remote', remoteKey(c)];
}

/** Keeps the `limit` largest connections by a measure, in a small sorted array. */
class Largest {
  readonly items: FinishedConnection[] = [];
  constructor(private readonly limit: number, private readonly measure: (c: FinishedConnection) => number) {}
  offer(c: FinishedConnection): void {
    const m = this.measure(c);
    if (m <= 0) return;
    if (this.items.length >= this.limit && m <= this.measure(this.items[this.items.length - 1])) return;
    let i = this.items.length;
    while (i > 0 && this.measure(this.items[i - 1]) < m) i--;
    this.items.splice(i, 0, c);
    if (this.items.length > this.limit) this.items.pop();
  }
}

export class TrafficTable {
  private readonly all = zero();
  private readonly tables = { port: new Map<string, TrafficFigures>(), remote: new Map<string, TrafficFigures>() };
  private readonly largest: Largest;
  private readonly retransmitting: Largest;

  constructor(private readonly topN = 10) {
    this.largest = new Largest(topN, (c) => (c.totals ? bytes(c.totals) : 0));
    this.retransmitting = new Largest(topN, (c) => c.totals?.retransSegs ?? 0);
  }

  observe(c: FinishedConnection): void {
    if (!c.totals) return;
    add(this.all, c);
    const [table, key] = keyOf(c);
    const rows = this.tables[table];
    let row = rows.get(key);
    if (!row) {
      if (rows.size >= this.topN * 4) this.shrink(rows);
      rows.set(key, (row = zero()));
    }
    add(row, c);
    this.largest.offer(c);
    this.retransmitting.offer(c);
  }

  /** The figures now; `open`: connections still open to count in, figures so far. */
  snapshot(open: readonly FinishedConnection[] = []): TrafficSnapshot {
    const all = { ...this.all };
    const rows = { port: copyRows(this.tables.port), remote: copyRows(this.tables.remote) };
    const largest = new Largest(this.topN, (c) => (c.totals ? bytes(c.totals) : 0));
    const retransmitting = new Largest(this.topN, (c) => c.totals?.retransSegs ?? 0);
    for (const c of [...this.largest.items]) largest.offer(c);
    for (const c of [...this.retransmitting.items]) retransmitting.offer(c);
    for (const c of open) {
      if (!c.totals) continue;
      add(all, c);
      const [table, key] = keyOf(c);
      let row = rows[table].get(key);
      if (!row) rows[table].set(key, (row = { key, ...zero() }));
      add(row, c);
      add((row.open ??= zero()), c);
      largest.offer(c);
      retransmitting.offer(c);
    }
    return {
      all,
      byListenPort: this.top(rows.port),
      byRemote: this.top(rows.remote),
      topConnections: largest.items,
      topRetransmitting: retransmitting.items,
    };
  }

  private top(rows: Map<string, TrafficRow>): TrafficRow[] {
    return [...rows.values()].sort((a, b) => bytes(b) - bytes(a) || b.retransSegs - a.retransSegs).slice(0, this.topN);
  }

  private shrink(rows: Map<string, TrafficFigures>): void {
    const keep = [...rows.entries()].sort((a, b) => bytes(b[1]) - bytes(a[1])).slice(0, this.topN * 2);
    rows.clear();
    for (const [k, v] of keep) rows.set(k, v);
  }
}

function copyRows(rows: Map<string, TrafficFigures>): Map<string, TrafficRow> {
  return new Map([...rows].map(([key, f]) => [key, { key, ...f }]));
}
