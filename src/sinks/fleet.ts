// The fleet sinks (docs/FLEET.md): Prometheus /metrics, the systemd journal, OTLP. Each is
// loaded only when asked for: their libraries (prom-client, OpenTelemetry) cost memory and
// start-up time that a plain `tcptrace` should not pay.
import { hostPort } from '../http/server';
import type { Sink } from './sink';
import type { SinkInputs } from './context';
import type { MetricsSinkOptions } from './metrics';
import type { OtlpOptions } from './otlp';

export interface FleetOptions {
  /** /metrics; `logAddress`: say on stderr where the first address is served (--metrics) */
  metrics?: Omit<MetricsSinkOptions, 'census' | 'pressure'> & { logAddress: boolean };
  journal?: { socket: string };
  otlp?: Omit<OtlpOptions, 'census' | 'pressure'>;
}

export async function fleetSinks(options: FleetOptions, inputs: SinkInputs): Promise<Sink[]> {
  const { status, log, census, pressure } = inputs;
  const sinks: Sink[] = [];
  if (options.metrics) {
    const { MetricsSink } = await import('./metrics');
    const { logAddress, ...metrics } = options.metrics;
    const sink = await MetricsSink.create(status, { ...metrics, census, pressure });
    if (logAddress) log(`metrics at http://${hostPort(metrics.addresses[0].host, sink.servers[0].address.port)}/metrics`);
    sinks.push(sink);
  }
  if (options.journal) {
    const { JournalSink } = await import('./journal');
    sinks.push(JournalSink.open(options.journal.socket, log));
  }
  if (options.otlp) {
    const { OtlpSink } = await import('./otlp');
    sinks.push(new OtlpSink(status, { ...options.otlp, census, pressure }, log));
  }
  return sinks;
}
