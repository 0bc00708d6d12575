// The fleet sinks (docs/FLEET.md): Prometheus /metrics, the systemd journal, OTLP.
import type { ListenAddress } from '../http';
import type { Sink } from './sink';
import type { SinkContext } from './index';
import { MetricsSink } from './metrics';
import { JournalSink } from './journal';
import { OtlpSink } from './otlp';

export async function fleetSinks(ctx: SinkContext): Promise<Sink[]> {
  const { plan, tracer, log } = ctx;
  const sinks: Sink[] = [];
  // /metrics is served on --metrics and on --listen (the dashboard's server) alike.
  const addresses = [plan.metrics, plan.listen].filter((a): a is ListenAddress => a !== undefined);
  if (addresses.length) sinks.push(await MetricsSink.create(tracer, { addresses, ports: plan.metricsPorts }));
  if (plan.journal) sinks.push(JournalSink.open(plan.journal.socket, log));
  if (plan.otlp) sinks.push(new OtlpSink(tracer, { ...plan.otlp, ports: plan.metricsPorts }, log));
  return sinks;
}
