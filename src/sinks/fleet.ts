// The fleet sinks (docs/FLEET.md): Prometheus /metrics, the systemd journal, OTLP. Each is
// loaded only when asked for: their libraries (prom-client, OpenTelemetry) cost memory and
// start-up time that a plain `tcptrace` should not pay.
import { hostPort, type ListenAddress } from '../http';
import type { Sink } from './sink';
import type { SinkContext } from './context';

export async function fleetSinks(ctx: SinkContext): Promise<Sink[]> {
  const { plan, status, log } = ctx;
  const sinks: Sink[] = [];
  // /metrics is served on --metrics and on --listen (the dashboard's server) alike.
  const addresses = [plan.metrics, plan.listen].filter((a): a is ListenAddress => a !== undefined);
  if (addresses.length) {
    const { MetricsSink } = await import('./metrics');
    const openPaths = plan.metricsWithoutToken ? ['/metrics'] : [];
    const sink = await MetricsSink.create(status, { addresses, ports: plan.metricsPorts, census: ctx.census, access: { openPaths, allowHosts: plan.allowHosts } });
    if (plan.metrics) log(`metrics at http://${hostPort(plan.metrics.host, sink.servers[0].address.port)}/metrics`);
    sinks.push(sink);
  }
  if (plan.journal) {
    const { JournalSink } = await import('./journal');
    sinks.push(JournalSink.open(plan.journal.socket, log));
  }
  if (plan.otlp) {
    const { OtlpSink } = await import('./otlp');
    sinks.push(new OtlpSink(status, { ...plan.otlp, ports: plan.metricsPorts, census: ctx.census }, log));
  }
  return sinks;
}
