// The fleet sinks' options (docs/FLEET.md): Prometheus /metrics, the systemd journal, OTLP, and
// the building of /metrics. Their modules are loaded only when asked for (src/sinks/index.ts).
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

/** --metrics (and /metrics on --listen): says on stderr where the first address is served. */
export async function metricsSink(options: NonNullable<FleetOptions['metrics']>, inputs: SinkInputs): Promise<Sink> {
  const { MetricsSink } = await import('./metrics');
  const { logAddress, ...metrics } = options;
  const sink = await MetricsSink.create(inputs.status, { ...metrics, census: inputs.census, pressure: inputs.pressure });
  if (logAddress) inputs.log(`metrics at http://${hostPort(metrics.addresses[0].host, sink.servers[0].address.port)}/metrics`);
  return sink;
}
