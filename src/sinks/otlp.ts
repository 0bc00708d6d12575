// --otlp URL: the same measurements as /metrics, pushed with the OpenTelemetry metrics SDK
// over OTLP/HTTP (JSON) every interval. The metrics are the catalogue's
// (src/derive/metric-catalogue.ts) in OTel style (dots, units in metadata):
// tcptrace.transitions, tcptrace.handshake.duration (s), ...
import { hostname } from 'node:os';
import { ValueType, type Attributes, type Counter, type Histogram, type Meter, type ObservableCounter, type ObservableGauge } from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import type { SocketCensus } from '../census/census';
import type { ListenerPressure } from '../derive/listener-pressure';
import type { FinishedConnection } from '../derive/connections';
import type { ConnTotals, TcpEvent } from '../decode/event';
import type { Counters } from '../status';
import type { TracerStatus } from '../status';
import { MetricsFeed, tracerInfo, type MetricsBackend, type PortSelection, type TracerInfo } from '../derive/metrics-feed';
import { METRICS, otelName, type MetricSpec } from '../derive/metric-catalogue';
import { ringPeakFraction, type NativeDelivery } from '../probe/delivery';
import type { Sink, Writer } from './sink';

export interface OtlpOptions {
  url: string;
  intervalMs: number;
  ports?: PortSelection;
  /** extra resource attributes (tests; k8s.node.name from the DaemonSet's env) */
  resource?: Attributes;
  /** sockets in each state now, as tcptrace.sockets */
  census?: SocketCensus;
  /** listeners sampled under pressure (handshake diagnosis) */
  pressure?: ListenerPressure;
}

/** What OtelMetrics needs of the SDK's MeterProvider (a recording one in tests). */
export type MeterSource = Pick<MeterProvider, 'getMeter'>;

/** Facts read at export time; `delivery` and `census` add their metrics when given. */
export interface OtelSources {
  counters: () => Counters;
  delivery?: () => NativeDelivery;
  census?: SocketCensus;
  /** per port label, the listeners sampled under pressure */
  portPressure?: () => Map<string, { peak: number; fullSeconds: number; drops: number }>;
}

/** The catalogue's metrics as OpenTelemetry instruments (src/derive/metric-catalogue.ts). */
export class OtelMetrics implements MetricsBackend {
  private readonly meter: Meter;
  private readonly transitions: Counter;
  private readonly handshakes: Histogram;
  private readonly portHandshakes?: Histogram;
  private readonly acceptWaits: Histogram;
  private readonly portAcceptWaits?: Histogram;
  private readonly failures: Counter;
  private readonly closes: Counter;
  private readonly lifetimes: Histogram;
  private readonly transferred: Counter;
  private readonly retransSegs: Counter;
  private readonly retransBytes: Counter;
  private readonly portTransferred?: Counter;
  private readonly portRetrans?: Counter;
  private readonly diagnoses: Counter;
  private readonly attrs = new Map<string, Attributes>();

  constructor(provider: MeterSource, info: TracerInfo, sources: OtelSources, ports?: PortSelection) {
    const meter = (this.meter = provider.getMeter('tcptrace', info.version));
    this.transitions = this.counter(METRICS.transitions);
    this.handshakes = this.histogram(METRICS.handshake);
    if (ports) {
      this.portHandshakes = this.histogram(METRICS.portHandshake);
      this.portAcceptWaits = this.histogram(METRICS.portAcceptWait);
    }
    this.acceptWaits = this.histogram(METRICS.acceptWait);
    this.failures = this.counter(METRICS.connectFailures);
    this.closes = this.counter(METRICS.closes);
    this.lifetimes = this.histogram(METRICS.lifetime);
    this.transferred = this.counter(METRICS.transferred);
    this.retransSegs = this.counter(METRICS.retransmittedSegments);
    this.retransBytes = this.counter(METRICS.retransmittedBytes);
    if (ports) {
      this.portTransferred = this.counter(METRICS.portTransferred);
      this.portRetrans = this.counter(METRICS.portRetransmitted);
    }
    this.diagnoses = this.counter(METRICS.handshakeDiagnoses);
    const observed: [ObservableCounter | ObservableGauge, (c: Counters) => number][] = [
      [this.observed(METRICS.eventsSeen), (c) => c.seen],
      [this.observed(METRICS.eventsDelivered), (c) => c.delivered],
      [this.observed(METRICS.eventsLost), (c) => c.lost],
      [this.observed(METRICS.eventsMissed), (c) => c.missed],
    ];
    const infoGauge = this.observed(METRICS.tracerInfo);
    const all = [...observed.map(([m]) => m), infoGauge];
    const { delivery, census } = sources;
    const ring = delivery ? this.observed(METRICS.ringHighWater) : undefined;
    const backlog = delivery ? this.observed(METRICS.backlogHighWater) : undefined;
    if (ring && backlog) all.push(ring, backlog);
    meter.addBatchObservableCallback((r) => {
      const c = sources.counters();
      for (const [m, pick] of observed) r.observe(m, pick(c));
      r.observe(infoGauge, 1, { ...info });
      if (delivery && ring && backlog) {
        const d = delivery();
        r.observe(ring, ringPeakFraction(d) ?? 0);
        r.observe(backlog, d.backlogPeakBytes ?? 0);
      }
    }, all);
    if (census) {
      const sockets = this.observed(METRICS.sockets);
      const exact = this.observed(METRICS.socketsExact);
      meter.addBatchObservableCallback((r) => {
        const report = census.report();
        for (const [state, n] of Object.entries(report.counts)) r.observe(sockets, n, this.a(`state:${state}`, () => ({ state })));
        r.observe(exact, report.exact ? 1 : 0);
      }, [sockets, exact]);
    }
    const portPressure = sources.portPressure;
    if (portPressure) {
      const peak = this.observed(METRICS.portAcceptQueuePeak);
      const full = this.observed(METRICS.portAcceptQueueFull);
      const drops = this.observed(METRICS.portDrops);
      meter.addBatchObservableCallback((r) => {
        for (const [port, m] of portPressure()) {
          const attrs = this.a(`p|${port}`, () => ({ port }));
          r.observe(peak, m.peak, attrs);
          r.observe(full, m.fullSeconds, attrs);
          r.observe(drops, m.drops, attrs);
        }
      }, [peak, full, drops]);
    }
  }

  private options(m: MetricSpec) {
    return { description: m.help, ...(m.unit ? { unit: m.unit } : {}), ...(m.unit.startsWith('{') ? { valueType: ValueType.INT } : {}) };
  }

  private counter(m: MetricSpec): Counter {
    return this.meter.createCounter(otelName(m), this.options(m));
  }

  private histogram(m: MetricSpec): Histogram {
    return this.meter.createHistogram(otelName(m), { ...this.options(m), advice: { explicitBucketBoundaries: [...(m.buckets ?? [])] } });
  }

  /** Read at export time: counters as observable counters, gauges as observable gauges. */
  private observed(m: MetricSpec): ObservableCounter | ObservableGauge {
    return m.kind === 'counter' ? this.meter.createObservableCounter(otelName(m), this.options(m)) : this.meter.createObservableGauge(otelName(m), this.options(m));
  }

  /** Interned attribute objects: the SDK hashes them per call. */
  private a(key: string, make: () => Attributes): Attributes {
    let v = this.attrs.get(key);
    if (!v) this.attrs.set(key, (v = make()));
    return v;
  }

  transition(oldState: string, newState: string): void {
    this.transitions.add(1, this.a(`t|${oldState}|${newState}`, () => ({ old_state: oldState, new_state: newState })));
  }

  handshake(direction: 'active' | 'passive', seconds: number): void {
    this.handshakes.record(seconds, this.a(`d|${direction}`, () => ({ direction })));
  }

  listenPortHandshake(port: string, seconds: number): void {
    this.portHandshakes?.record(seconds, this.a(`p|${port}`, () => ({ port })));
  }

  acceptWait(seconds: number, port: string | undefined): void {
    this.acceptWaits.record(seconds);
    if (port) this.portAcceptWaits?.record(seconds, this.a(`p|${port}`, () => ({ port })));
  }

  handshakeDiagnosis(why: string, port: string): void {
    this.diagnoses.add(1, this.a(`h|${why}|${port}`, () => ({ why, port })));
  }

  connectFailed(cause: string): void {
    this.failures.add(1, this.a(`f|${cause}`, () => ({ cause })));
  }

  closed(cause: string, side: string, lifetimeSeconds: number | null): void {
    this.closes.add(1, this.a(`c|${cause}`, () => ({ cause })));
    if (lifetimeSeconds !== null) this.lifetimes.record(lifetimeSeconds, this.a(`s|${side}`, () => ({ side })));
  }

  totals(side: string, port: string | undefined, t: ConnTotals): void {
    this.transferred.add(t.bytesAcked, this.a(`ts|${side}`, () => ({ direction: 'sent', side })));
    this.transferred.add(t.bytesReceived, this.a(`tr|${side}`, () => ({ direction: 'received', side })));
    this.retransSegs.add(t.retransSegs, this.a(`s|${side}`, () => ({ side })));
    this.retransBytes.add(t.bytesRetrans, this.a(`s|${side}`, () => ({ side })));
    if (!port) return;
    this.portTransferred?.add(t.bytesAcked, this.a(`ps|${port}`, () => ({ port, direction: 'sent' })));
    this.portTransferred?.add(t.bytesReceived, this.a(`pr|${port}`, () => ({ port, direction: 'received' })));
    this.portRetrans?.add(t.retransSegs, this.a(`p|${port}`, () => ({ port })));
  }
}

/** Pushes metrics to an OTLP/HTTP endpoint; export failures are logged once, not fatal. */
export class OtlpSink implements Sink {
  private readonly provider: MeterProvider;
  private readonly feed: MetricsFeed;
  private ended?: Promise<void>;

  constructor(status: Pick<TracerStatus, 'attach' | 'delivery' | 'counters'> & Partial<Pick<TracerStatus, 'deliveryStats'>>, options: OtlpOptions, private readonly log: Writer) {
    const info = tracerInfo(status);
    let warned = false;
    // The exporter's own deadline (retries included) ends before the reader gives up on it,
    // so a failing collector is reported through the callback below.
    const exporter = new OTLPMetricExporter({ url: options.url, timeoutMillis: Math.max(50, Math.round(Math.min(options.intervalMs * 0.8, 10_000))) });
    // Report a failing collector once instead of on every interval.
    const send = exporter.export.bind(exporter);
    exporter.export = (metrics, done) => send(metrics, (result) => {
      if (result.error && !warned) {
        warned = true;
        this.log(`otlp: export to ${options.url} failed: ${result.error.message} (will keep trying)`);
      }
      done(result);
    });
    this.provider = new MeterProvider({
      resource: resourceFromAttributes({
        'service.name': 'tcptrace',
        'service.version': info.version,
        'host.name': hostname(),
        'os.type': 'linux',
        'os.version': info.kernel,
        ...(process.env.NODE_NAME ? { 'k8s.node.name': process.env.NODE_NAME } : {}),
        ...options.resource,
      }).merge(detectResources({ detectors: [envDetector] })), // $OTEL_RESOURCE_ATTRIBUTES, $OTEL_SERVICE_NAME win
      readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: options.intervalMs, exportTimeoutMillis: Math.min(options.intervalMs, 30_000) })],
    });
    const deliveryStats = status.deliveryStats?.bind(status);
    const pressure = options.pressure;
    let feed: MetricsFeed | undefined;
    const portPressure = pressure && options.ports ? () => feed!.portPressure(pressure.rows()) : undefined;
    const sources = { counters: () => status.counters(), delivery: deliveryStats, census: options.census, portPressure };
    const backend = new OtelMetrics(this.provider, info, sources, options.ports);
    this.feed = feed = new MetricsFeed([backend], options.ports);
  }

  write(batch: TcpEvent[], finished: readonly FinishedConnection[]): void {
    this.feed.observe(batch, finished);
  }

  accepts(batch: TcpEvent[]): void {
    this.feed.observeAccepts(batch);
  }

  /** Exports now (tests; before exit). */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Final export and shutdown; the returned promise settles when the collector answered. */
  end(): Promise<void> {
    return (this.ended ??= this.provider.shutdown().catch((err: Error) => this.log(`otlp: final export failed: ${err.message}`)));
  }
}
