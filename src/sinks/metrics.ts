// Prometheus metrics on /metrics (prom-client), fed by the measurement feed it shares with the
// OTLP exporter (src/derive/metrics-feed.ts).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SocketCensus } from '../census';
import type { TcpEvent } from '../event';
import { sharedServer, type ListenAddress, type SharedServer } from '../http';
import type { AccessOptions } from '../http-access';
import type { Counters } from '../status';
import type { TracerStatus } from '../status';
import { ringPeakFraction, type NativeDelivery } from '../delivery';
import type { Sink } from './sink';
import {
  HANDSHAKE_BUCKETS, LIFETIME_BUCKETS, METRIC_PREFIX, MetricsFeed, tracerInfo,
  type MetricsBackend, type PortSelection, type TracerInfo,
} from '../derive/metrics-feed';

/** prom-client metrics in their own registry. */
export class PromMetrics implements MetricsBackend {
  readonly registry = new Registry();
  private readonly transitions: Counter<'old_state' | 'new_state'>;
  /**
   * Counter increments of the current batch, applied once per label set in flush(). Keyed by
   * the label values themselves (constant strings): no key string or label array per event.
   */
  private readonly pendingTransitions = new Map<string, Map<string, number>>();
  private readonly pendingByCause = new Map<Counter<'cause'>, Map<string, number>>();
  private readonly lifetimeBySide = new Map<string, { observe(v: number): void }>();
  private readonly handshakes: Histogram<'direction'>;
  private readonly handshakeByDirection: Record<'active' | 'passive', { observe(v: number): void }>;
  private readonly portHandshakes?: Histogram<'port'>;
  private readonly acceptWaits: Histogram;
  private readonly portAcceptWaits?: Histogram<'port'>;
  private readonly failures: Counter<'cause'>;
  private readonly closes: Counter<'cause'>;
  private readonly lifetimes: Histogram<'side'>;

  constructor(
    counters: () => Counters,
    info: TracerInfo,
    options: { ports?: PortSelection; processMetrics?: boolean; delivery?: () => NativeDelivery; census?: SocketCensus } = {},
  ) {
    const registers = [this.registry];
    const census = options.census;
    if (census) {
      // Read when scraped, as the stream and --summary read it: the same numbers.
      let report: ReturnType<SocketCensus['report']> | undefined;
      new Gauge({
        name: `${METRIC_PREFIX}sockets`,
        help: 'TCP sockets in each state now, as `ss -tan` counts them (TIME_WAIT and SYN_RECV sampled each second).',
        labelNames: ['state'],
        registers,
        collect() {
          report = census.report();
          for (const [state, n] of Object.entries(report.counts)) this.set({ state }, n);
        },
      });
      new Gauge({
        name: `${METRIC_PREFIX}sockets_exact`,
        help: '1 when tcptrace_sockets is exact; 0 when it may be off (lost events, unreadable namespaces, owner or state filters).',
        registers,
        collect() {
          this.set((report ?? census.report()).exact ? 1 : 0);
        },
      });
    }
    this.transitions = new Counter({
      name: `${METRIC_PREFIX}transitions_total`,
      help: 'TCP state transitions, by old and new state.',
      labelNames: ['old_state', 'new_state'],
      registers,
    });
    this.handshakes = new Histogram({
      name: `${METRIC_PREFIX}handshake_duration_seconds`,
      help: 'TCP handshake time: SYN sent to ESTABLISHED (active) or SYN received to ESTABLISHED (passive).',
      labelNames: ['direction'],
      buckets: HANDSHAKE_BUCKETS,
      registers,
    });
    this.handshakeByDirection = { active: this.handshakes.labels('active'), passive: this.handshakes.labels('passive') };
    if (options.ports) {
      const perPort = (name: string, help: string) =>
        new Histogram({ name: `${METRIC_PREFIX}${name}`, help, labelNames: ['port'], buckets: HANDSHAKE_BUCKETS, registers });
      this.portHandshakes = perPort('listen_port_handshake_duration_seconds', 'Passive handshake time per listening port (opt-in with --metrics-ports).');
      this.portAcceptWaits = perPort('listen_port_accept_wait_seconds', 'Accept-queue wait per listening port (opt-in with --metrics-ports).');
    }
    this.acceptWaits = new Histogram({
      name: `${METRIC_PREFIX}accept_wait_seconds`,
      help: 'Time accepted connections waited in the accept queue: ESTABLISHED to accept() returning them.',
      buckets: HANDSHAKE_BUCKETS,
      registers,
    });
    this.failures = new Counter({
      name: `${METRIC_PREFIX}connect_failures_total`,
      help: 'Active opens that closed without reaching ESTABLISHED, by cause (refused, timeout, reset, aborted, ...).',
      labelNames: ['cause'],
      registers,
    });
    this.closes = new Counter({
      name: `${METRIC_PREFIX}connections_closed_total`,
      help: 'Sockets that reached CLOSE, by cause.',
      labelNames: ['cause'],
      registers,
    });
    this.lifetimes = new Histogram({
      name: `${METRIC_PREFIX}connection_lifetime_seconds`,
      help: 'Time from a connection\'s open (SYN_SENT or SYN_RECV) to CLOSE, for connections whose open was seen.',
      labelNames: ['side'],
      buckets: LIFETIME_BUCKETS,
      registers,
    });
    // Tracer counters are read when scraped.
    const counterFrom = (name: string, help: string, pick: (c: Counters) => number) => {
      let last = 0;
      new Counter({
        name: `${METRIC_PREFIX}${name}`,
        help,
        registers,
        collect() {
          const now = pick(counters());
          if (now > last) this.inc(now - last);
          last = Math.max(last, now);
        },
      });
    };
    counterFrom('events_seen_total', 'Transitions that passed the kernel filters.', (c) => c.seen);
    counterFrom('events_delivered_total', 'Transitions delivered to user space.', (c) => c.delivered);
    counterFrom('events_lost_total', 'Transitions lost because the kernel buffer was full.', (c) => c.lost);
    counterFrom('events_missed_total', 'State changes the kernel skipped: the BPF program was already running on that CPU.', (c) => c.missed);
    const delivery = options.delivery;
    if (delivery) {
      new Gauge({
        name: `${METRIC_PREFIX}ring_high_water_ratio`,
        help: 'Highest fill of the kernel ring buffer since start, as a fraction of its size (at 1, events are lost).',
        registers,
        collect() { this.set(ringPeakFraction(delivery()) ?? 0); },
      });
      new Gauge({
        name: `${METRIC_PREFIX}backlog_high_water_bytes`,
        help: 'Most bytes the drain thread held read from the ring but not yet processed (lost past its limit).',
        registers,
        collect() { this.set(delivery().backlogPeakBytes ?? 0); },
      });
    }
    new Gauge({
      name: `${METRIC_PREFIX}tracer_info`,
      help: 'The running tracer: tcptrace version, kernel release, attach mode and delivery.',
      labelNames: ['version', 'kernel', 'attach', 'delivery'],
      registers,
    }).set({ ...info }, 1);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  private countCause(counter: Counter<'cause'>, cause: string): void {
    let byCause = this.pendingByCause.get(counter);
    if (!byCause) this.pendingByCause.set(counter, (byCause = new Map()));
    byCause.set(cause, (byCause.get(cause) ?? 0) + 1);
  }

  flush(): void {
    for (const [oldState, byNew] of this.pendingTransitions) {
      for (const [newState, n] of byNew) this.transitions.labels(oldState, newState).inc(n);
    }
    this.pendingTransitions.clear();
    for (const [counter, byCause] of this.pendingByCause) {
      for (const [cause, n] of byCause) counter.labels(cause).inc(n);
    }
    this.pendingByCause.clear();
  }

  transition(oldState: string, newState: string): void {
    let byNew = this.pendingTransitions.get(oldState);
    if (!byNew) this.pendingTransitions.set(oldState, (byNew = new Map()));
    byNew.set(newState, (byNew.get(newState) ?? 0) + 1);
  }

  handshake(direction: 'active' | 'passive', seconds: number): void {
    this.handshakeByDirection[direction].observe(seconds);
  }

  listenPortHandshake(port: string, seconds: number): void {
    this.portHandshakes?.labels(port).observe(seconds);
  }

  connectFailed(cause: string): void {
    this.countCause(this.failures, cause);
  }

  acceptWait(seconds: number, port: string | undefined): void {
    this.acceptWaits.observe(seconds);
    if (port) this.portAcceptWaits?.labels(port).observe(seconds);
  }

  closed(cause: string, side: string, lifetimeSeconds: number | null): void {
    this.countCause(this.closes, cause);
    if (lifetimeSeconds === null) return;
    let bySide = this.lifetimeBySide.get(side);
    if (!bySide) this.lifetimeBySide.set(side, (bySide = this.lifetimes.labels(side)));
    bySide.observe(lifetimeSeconds);
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface MetricsSinkOptions {
  /** Serve /metrics on each of these addresses (--metrics, --listen). */
  addresses: ListenAddress[];
  ports?: PortSelection;
  processMetrics?: boolean;
  /** adds to the servers' access rules (src/http-access.ts) */
  access?: AccessOptions;
  census?: SocketCensus;
}

/** Feeds PromMetrics and serves them on /metrics. */
export class MetricsSink implements Sink {
  private constructor(readonly metrics: PromMetrics, private readonly feed: MetricsFeed, readonly servers: SharedServer[]) {}

  static async create(tracer: TracerStatus, options: MetricsSinkOptions): Promise<MetricsSink> {
    const metrics = new PromMetrics(() => tracer.counters(), tracerInfo(tracer), { ...options, delivery: () => tracer.deliveryStats() });
    const servers: SharedServer[] = [];
    for (const address of options.addresses) {
      const server = await sharedServer(address, options.access);
      server.route('/metrics', (req, res) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD' }).end();
          return;
        }
        metrics.render().then(
          (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${err.message}\n`),
        );
      });
      servers.push(server);
    }
    const feed = new MetricsFeed([metrics], options.ports);
    return new MetricsSink(metrics, feed, servers);
  }

  write(batch: TcpEvent[]): void {
    this.feed.observe(batch);
  }

  accepts(batch: TcpEvent[]): void {
    this.feed.observeAccepts(batch);
  }
}
