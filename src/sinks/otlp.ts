// --otlp URL: the same measurements as /metrics, pushed with the OpenTelemetry metrics SDK
// over OTLP/HTTP (JSON) every interval. Names are the Prometheus ones in OTel style
// (dots, units in metadata): tcptrace.transitions, tcptrace.handshake.duration (s), ...
import { hostname } from 'node:os';
import { ValueType, type Attributes, type Counter, type Histogram } from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import type { SocketCensus } from '../census';
import type { TcpEvent } from '../event';
import type { Counters } from '../status';
import type { TracerStatus } from '../status';
import { HANDSHAKE_BUCKETS, LIFETIME_BUCKETS, MetricsFeed, tracerInfo, type MetricsBackend, type PortSelection, type TracerInfo } from '../derive/metrics-feed';
import type { Sink, Writer } from './sink';

export interface OtlpOptions {
  url: string;
  intervalMs: number;
  ports?: PortSelection;
  /** extra resource attributes (tests; k8s.node.name from the DaemonSet's env) */
  resource?: Attributes;
  /** sockets in each state now, as tcptrace.sockets */
  census?: SocketCensus;
}

class OtelMetrics implements MetricsBackend {
  private readonly transitions: Counter;
  private readonly handshakes: Histogram;
  private readonly portHandshakes?: Histogram;
  private readonly failures: Counter;
  private readonly closes: Counter;
  private readonly lifetimes: Histogram;
  private readonly attrs = new Map<string, Attributes>();

  constructor(provider: MeterProvider, counters: () => Counters, info: TracerInfo, ports?: PortSelection, census?: SocketCensus) {
    const meter = provider.getMeter('tcptrace', info.version);
    this.transitions = meter.createCounter('tcptrace.transitions', { description: 'TCP state transitions, by old and new state.', unit: '{transition}', valueType: ValueType.INT });
    this.handshakes = meter.createHistogram('tcptrace.handshake.duration', {
      description: 'TCP handshake time, by direction (active: SYN sent; passive: SYN received).',
      unit: 's',
      advice: { explicitBucketBoundaries: HANDSHAKE_BUCKETS },
    });
    if (ports) {
      this.portHandshakes = meter.createHistogram('tcptrace.listen_port.handshake.duration', {
        description: 'Passive handshake time per listening port (opt-in).',
        unit: 's',
        advice: { explicitBucketBoundaries: HANDSHAKE_BUCKETS },
      });
    }
    this.failures = meter.createCounter('tcptrace.connect.failures', { description: 'Active opens that closed without reaching ESTABLISHED, by cause.', unit: '{connection}', valueType: ValueType.INT });
    this.closes = meter.createCounter('tcptrace.connections.closed', { description: 'Sockets that reached CLOSE, by cause.', unit: '{connection}', valueType: ValueType.INT });
    this.lifetimes = meter.createHistogram('tcptrace.connection.lifetime', {
      description: 'Time from a connection\'s open to CLOSE.',
      unit: 's',
      advice: { explicitBucketBoundaries: LIFETIME_BUCKETS },
    });
    const seen = meter.createObservableCounter('tcptrace.events.seen', { description: 'Transitions that passed the kernel filters.', unit: '{event}', valueType: ValueType.INT });
    const delivered = meter.createObservableCounter('tcptrace.events.delivered', { description: 'Transitions delivered to user space.', unit: '{event}', valueType: ValueType.INT });
    const lost = meter.createObservableCounter('tcptrace.events.lost', { description: 'Transitions lost because the kernel buffer was full.', unit: '{event}', valueType: ValueType.INT });
    const infoGauge = meter.createObservableGauge('tcptrace.tracer.info', { description: 'The running tracer (always 1; facts in the attributes).' });
    meter.addBatchObservableCallback((r) => {
      const c = counters();
      r.observe(seen, c.seen);
      r.observe(delivered, c.delivered);
      r.observe(lost, c.lost);
      r.observe(infoGauge, 1, { ...info });
    }, [seen, delivered, lost, infoGauge]);
    if (census) {
      const sockets = meter.createObservableGauge('tcptrace.sockets', { description: 'TCP sockets in each state now, as `ss -tan` counts them.', unit: '{socket}', valueType: ValueType.INT });
      sockets.addCallback((r) => {
        for (const [state, n] of Object.entries(census.report().counts)) r.observe(n, this.a(`state:${state}`, () => ({ state })));
      });
    }
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

  connectFailed(cause: string): void {
    this.failures.add(1, this.a(`f|${cause}`, () => ({ cause })));
  }

  closed(cause: string, side: string, lifetimeSeconds: number | null): void {
    this.closes.add(1, this.a(`c|${cause}`, () => ({ cause })));
    if (lifetimeSeconds !== null) this.lifetimes.record(lifetimeSeconds, this.a(`s|${side}`, () => ({ side })));
  }
}

/** Pushes metrics to an OTLP/HTTP endpoint; export failures are logged once, not fatal. */
export class OtlpSink implements Sink {
  private readonly provider: MeterProvider;
  private readonly feed: MetricsFeed;
  private ended?: Promise<void>;

  constructor(tracer: Pick<TracerStatus, 'attach' | 'delivery' | 'counters'>, options: OtlpOptions, private readonly log: Writer) {
    const info = tracerInfo(tracer);
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
    const backend = new OtelMetrics(this.provider, () => tracer.counters(), info, options.ports, options.census);
    this.feed = new MetricsFeed([backend], options.ports);
  }

  write(batch: TcpEvent[]): void {
    this.feed.observe(batch);
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
