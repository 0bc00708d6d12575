// Prometheus metrics on /metrics (prom-client), fed by the measurement feed it shares with the
// OTLP exporter (src/derive/metrics-feed.ts); names, help, labels and buckets come from the
// metric catalogue (src/derive/metric-catalogue.ts).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SocketCensus } from '../census/census';
import type { ListenerPressure } from '../derive/listener-pressure';
import type { FinishedConnection } from '../derive/connections';
import type { ConnTotals, TcpEvent } from '../decode/event';
import { sharedServer, type ListenAddress, type SharedServer } from '../http/server';
import type { AccessOptions } from '../http/access';
import type { Counters } from '../status';
import type { TracerStatus } from '../status';
import { ringPeakFraction, type NativeDelivery } from '../probe/delivery';
import type { Sink } from './sink';
import { MetricsFeed, tracerInfo, type MetricsBackend, type PortSelection, type TracerInfo } from '../derive/metrics-feed';
import { METRIC_PREFIX, METRICS, promName, type MetricSpec } from '../derive/metric-catalogue';

/** prom-client's configuration of a catalogue metric, in these registries. */
function spec<T extends string>(m: MetricSpec, registers: Registry[]) {
  return { name: promName(m), help: m.help, labelNames: m.labels as readonly T[], registers, ...(m.buckets ? { buckets: [...m.buckets] } : {}) };
}

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
  private readonly transferred: Counter<'direction' | 'side'>;
  private readonly retransSegs: Counter<'side'>;
  private readonly retransBytes: Counter<'side'>;
  private readonly portTransferred?: Counter<'port' | 'direction'>;
  private readonly portRetrans?: Counter<'port'>;
  private readonly diagnoses: Counter<'why' | 'port'>;

  constructor(
    counters: () => Counters,
    info: TracerInfo,
    options: {
      ports?: PortSelection; processMetrics?: boolean; delivery?: () => NativeDelivery; census?: SocketCensus;
      /** per port label, the listeners sampled under pressure (read when scraped) */
      portPressure?: () => Map<string, { peak: number; fullSeconds: number; drops: number }>;
    } = {},
  ) {
    const registers = [this.registry];
    const census = options.census;
    if (census) {
      // Read when scraped, as the stream and --summary read it: the same numbers.
      let report: ReturnType<SocketCensus['report']> | undefined;
      new Gauge({
        ...spec(METRICS.sockets, registers),
        collect() {
          report = census.report();
          for (const [state, n] of Object.entries(report.counts)) this.set({ state }, n);
        },
      });
      new Gauge({
        ...spec(METRICS.socketsExact, registers),
        collect() {
          this.set((report ?? census.report()).exact ? 1 : 0);
        },
      });
    }
    this.transitions = new Counter(spec(METRICS.transitions, registers));
    this.handshakes = new Histogram(spec(METRICS.handshake, registers));
    this.handshakeByDirection = { active: this.handshakes.labels('active'), passive: this.handshakes.labels('passive') };
    if (options.ports) {
      this.portHandshakes = new Histogram(spec(METRICS.portHandshake, registers));
      this.portAcceptWaits = new Histogram(spec(METRICS.portAcceptWait, registers));
    }
    this.acceptWaits = new Histogram(spec(METRICS.acceptWait, registers));
    this.failures = new Counter(spec(METRICS.connectFailures, registers));
    this.closes = new Counter(spec(METRICS.closes, registers));
    this.lifetimes = new Histogram(spec(METRICS.lifetime, registers));
    this.transferred = new Counter(spec(METRICS.transferred, registers));
    this.retransSegs = new Counter(spec(METRICS.retransmittedSegments, registers));
    this.retransBytes = new Counter(spec(METRICS.retransmittedBytes, registers));
    if (options.ports) {
      this.portTransferred = new Counter(spec(METRICS.portTransferred, registers));
      this.portRetrans = new Counter(spec(METRICS.portRetransmitted, registers));
    }
    this.diagnoses = new Counter(spec(METRICS.handshakeDiagnoses, registers));
    const portPressure = options.portPressure;
    if (portPressure) {
      let now: ReturnType<typeof portPressure> | undefined;
      new Gauge({
        ...spec(METRICS.portAcceptQueuePeak, registers),
        collect() {
          now = portPressure();
          for (const [port, m] of now) this.set({ port }, m.peak);
        },
      });
      // sums since start: each scrape adds what grew since the last
      const total = (m: MetricSpec, pick: (v: { fullSeconds: number; drops: number }) => number) => {
        const last = new Map<string, number>();
        new Counter({
          ...spec(m, registers),
          collect() {
            for (const [port, v] of now ?? portPressure()) {
              const grew = pick(v) - (last.get(port) ?? 0);
              if (grew > 0) this.inc({ port }, grew);
              last.set(port, pick(v));
            }
          },
        });
      };
      total(METRICS.portAcceptQueueFull, (v) => v.fullSeconds);
      total(METRICS.portDrops, (v) => v.drops);
    }
    // Tracer counters are read when scraped.
    const counterFrom = (m: MetricSpec, pick: (c: Counters) => number) => {
      let last = 0;
      new Counter({
        ...spec(m, registers),
        collect() {
          const now = pick(counters());
          if (now > last) this.inc(now - last);
          last = Math.max(last, now);
        },
      });
    };
    counterFrom(METRICS.eventsSeen, (c) => c.seen);
    counterFrom(METRICS.eventsDelivered, (c) => c.delivered);
    counterFrom(METRICS.eventsLost, (c) => c.lost);
    counterFrom(METRICS.eventsMissed, (c) => c.missed);
    const delivery = options.delivery;
    if (delivery) {
      new Gauge({
        ...spec(METRICS.ringHighWater, registers),
        collect() { this.set(ringPeakFraction(delivery()) ?? 0); },
      });
      new Gauge({
        ...spec(METRICS.backlogHighWater, registers),
        collect() { this.set(delivery().backlogPeakBytes ?? 0); },
      });
    }
    new Gauge(spec<keyof TracerInfo>(METRICS.tracerInfo, registers)).set({ ...info }, 1);
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

  handshakeDiagnosis(why: string, port: string): void {
    this.diagnoses.labels(why, port).inc();
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

  totals(side: string, port: string | undefined, t: ConnTotals): void {
    this.transferred.labels('sent', side).inc(t.bytesAcked);
    this.transferred.labels('received', side).inc(t.bytesReceived);
    this.retransSegs.labels(side).inc(t.retransSegs);
    this.retransBytes.labels(side).inc(t.bytesRetrans);
    if (!port) return;
    this.portTransferred?.labels(port, 'sent').inc(t.bytesAcked);
    this.portTransferred?.labels(port, 'received').inc(t.bytesReceived);
    this.portRetrans?.labels(port).inc(t.retransSegs);
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
  /** adds to the servers' access rules (src/http/access.ts) */
  access?: AccessOptions;
  census?: SocketCensus;
  pressure?: ListenerPressure;
}

/** Feeds PromMetrics and serves them on /metrics. */
export class MetricsSink implements Sink {
  private constructor(readonly metrics: PromMetrics, private readonly feed: MetricsFeed, readonly servers: SharedServer[]) {}

  static async create(status: TracerStatus, options: MetricsSinkOptions): Promise<MetricsSink> {
    const pressure = options.pressure;
    let feed: MetricsFeed | undefined;
    const portPressure = pressure && options.ports ? () => feed!.portPressure(pressure.rows()) : undefined;
    const metrics = new PromMetrics(() => status.counters(), tracerInfo(status), { ...options, delivery: () => status.deliveryStats(), portPressure });
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
    feed = new MetricsFeed([metrics], options.ports);
    return new MetricsSink(metrics, feed, servers);
  }

  write(batch: TcpEvent[], finished: readonly FinishedConnection[]): void {
    this.feed.observe(batch, finished);
  }

  accepts(batch: TcpEvent[]): void {
    this.feed.observeAccepts(batch);
  }
}
