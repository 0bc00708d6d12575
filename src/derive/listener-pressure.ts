// Per listener, its accept queue while it is under pressure (docs/HANDSHAKE.md): a connection of
// the listener diagnosed accept-queue-full, syn-dropped, syn-cookie or slow-accept starts
// sampling it (sock_diag of the namespace's LISTEN sockets, as `ss -ltnm` reads them) every
// SAMPLE_MS; it stops QUIET_MS after the last such diagnosis once the queue is below its limit.
// Nothing runs while no listener is under pressure. Keeps, per listener: the fill now, its peak,
// the time seen full, the drops the kernel counted meanwhile (sk_drops) and a bounded series.
import type { TcpEvent } from '../decode/event';
import { State } from '../decode/states';
import { diagnose, type Why } from './handshake-diagnosis';
import { pathOf, scanNamespaces, type NamespaceScan } from '../census/netns';
import { loadBinding } from '../native/binding';

/** One listener's queue as sock_diag reports it (src/native/listen-queues.cc). */
export interface ListenQueue { port: number; family: 4 | 6; backlog: number; limit: number; drops: number }
/** Reads the listeners of the namespace at a path ('' = ours); a string says why it failed. */
export type ReadQueues = (netnsPath: string) => ListenQueue[] | string;

export const SAMPLE_MS = 100;
export const QUIET_MS = 5000;
/** points kept per listener: a minute of samples */
const SERIES_POINTS = 600;
const PRESSURE: ReadonlySet<Why> = new Set<Why>(['accept-queue-full', 'syn-dropped', 'syn-cookie', 'slow-accept']);

export interface ListenerPressureRow {
  netns: number;
  port: number;
  /** accept queue now and its limit (sk_ack_backlog / sk_max_ack_backlog) */
  fill: number;
  limit: number;
  peak: number;
  /** ms the queue was seen over its limit (sampled: a multiple of SAMPLE_MS) */
  fullMs: number;
  /** drops the kernel counted for this listener while it was sampled (SYNs and final ACKs) */
  drops: number;
  sampling: boolean;
  /** why the listener could not be read, when it could not */
  error?: string;
  /** [wall ms, fill] per sample, the last SERIES_POINTS */
  series: [number, number][];
}

interface Tracked extends ListenerPressureRow {
  lastPressure: number;
  lastDrops?: number;
}

export class ListenerPressure {
  private readonly listeners = new Map<string, Tracked>();
  private timer?: NodeJS.Timeout;
  private scan?: NamespaceScan;

  constructor(private readonly read: ReadQueues, private readonly now: () => number = Date.now) {}

  /** Each ->ESTABLISHED or ->CLOSE whose diagnosis says its listener is under pressure. */
  observe(batch: readonly TcpEvent[]): void {
    for (const e of batch) {
      if (e.newState !== State.ESTABLISHED && e.newState !== State.CLOSE) continue;
      if (!e.diagnosis && e.acceptWaitUs === 0) continue; // the common case, before diagnose()
      const d = diagnose(e);
      if (d && PRESSURE.has(d.why)) this.press(e.netns, d.listenerPort);
    }
  }

  press(netns: number, port: number): void {
    const key = `${netns}:${port}`;
    let t = this.listeners.get(key);
    if (!t) {
      t = { netns, port, fill: 0, limit: 0, peak: 0, fullMs: 0, drops: 0, sampling: true, series: [], lastPressure: 0 };
      this.listeners.set(key, t);
    }
    t.lastPressure = this.now();
    t.sampling = true;
    if (!this.timer) {
      this.timer = setInterval(() => this.sample(), SAMPLE_MS);
      this.timer.unref();
      this.sample();
    }
  }

  /** One round: every namespace with a listener under pressure, one dump each. */
  sample(): void {
    const byNetns = new Map<number, Tracked[]>();
    for (const t of this.listeners.values()) if (t.sampling) byNetns.set(t.netns, [...(byNetns.get(t.netns) ?? []), t]);
    const now = this.now();
    for (const [netns, tracked] of byNetns) {
      const queues = this.readNamespace(netns);
      for (const t of tracked) this.update(t, queues, now);
    }
    if (![...this.listeners.values()].some((t) => t.sampling)) this.stop();
  }

  private readNamespace(netns: number): ListenQueue[] | string {
    this.scan ??= scanNamespaces();
    const path = netns === this.scan.own ? '' : pathOf(netns, this.scan);
    if (path === undefined) return `no process or mount opens network namespace ${netns}`;
    return this.read(path);
  }

  private update(t: Tracked, queues: ListenQueue[] | string, now: number): void {
    if (typeof queues === 'string') {
      t.error = queues;
      t.sampling = false;
      return;
    }
    // the IPv4 and IPv6 listeners of one port, when both exist, count together
    const mine = queues.filter((q) => q.port === t.port);
    if (mine.length === 0) {
      t.sampling = false;
      return;
    }
    t.error = undefined;
    t.fill = mine.reduce((n, q) => n + q.backlog, 0);
    t.limit = mine.reduce((n, q) => n + q.limit, 0);
    const drops = mine.reduce((n, q) => n + q.drops, 0);
    if (t.lastDrops !== undefined && drops >= t.lastDrops) t.drops += drops - t.lastDrops;
    t.lastDrops = drops;
    t.peak = Math.max(t.peak, t.fill);
    if (t.fill > t.limit) t.fullMs += SAMPLE_MS;
    t.series.push([now, t.fill]);
    if (t.series.length > SERIES_POINTS) t.series.shift();
    if (now - t.lastPressure > QUIET_MS && t.fill <= t.limit) {
      t.sampling = false;
      t.lastDrops = undefined; // drops while not sampled are not ours to count
    }
  }

  rows(): ListenerPressureRow[] {
    return [...this.listeners.values()].map(({ lastPressure: _p, lastDrops: _d, ...row }) => ({ ...row, series: [...row.series] }));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The sampler reading the kernel through the native addon's sock_diag dump. */
export function listenerPressure(): ListenerPressure {
  const binding = loadBinding();
  return new ListenerPressure((path) => binding.listenQueues(path));
}
