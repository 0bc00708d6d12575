// The CLI's plan → each sink's own options (src/sinks/index.ts SinkOptions): the one place
// that reads the Plan for the sinks, so that no sink sees it.
import type { ListenAddress } from '../http/listen-address';
import type { Plan } from './options';
import type { SinkOptions, TerminalOptions } from '../sinks';

function terminalOptions(plan: Plan): TerminalOptions | undefined {
  if (plan.quiet) return undefined;
  switch (plan.format) {
    case 'csv': return { format: 'csv', csv: { time: plan.time, onCpu: plan.onCpu } };
    case 'json': return { format: 'json' };
    default: return { format: 'table', table: { time: plan.time, wide: plan.wide, onCpu: plan.onCpu } };
  }
}

export function sinkOptions(plan: Plan): SinkOptions {
  const json = plan.format === 'json';
  // /metrics is served on --metrics and on --listen (the dashboard's server) alike.
  const metricsAt = [plan.metrics, plan.listen].filter((a): a is ListenAddress => a !== undefined);
  return {
    terminal: terminalOptions(plan),
    summary: plan.summary ? { json, intervalSec: plan.intervalSec } : undefined,
    lifetimes: plan.lifetimes ? { format: json ? 'json' : plan.format === 'csv' ? 'csv' : 'text', wide: plan.wide } : undefined,
    stream: plan.listen && {
      listen: plan.listen,
      token: plan.token,
      maxClients: plan.maxClients,
      allowHosts: plan.allowHosts,
      options: { filter: plan.filter, attach: plan.attach, perf_buffer: plan.perfBuffer, ring_bytes: plan.ringBytes ?? null,
        ...(plan.replay ? { replay: { file: plan.replay, speed: plan.speed ?? null } } : {}) },
    },
    metrics: metricsAt.length ? {
      addresses: metricsAt,
      ports: plan.metricsPorts,
      access: { openPaths: plan.metricsWithoutToken ? ['/metrics'] : [], allowHosts: plan.allowHosts },
      logAddress: plan.metrics !== undefined,
    } : undefined,
    journal: plan.journal,
    otlp: plan.otlp && { ...plan.otlp, ports: plan.metricsPorts },
    recorder: plan.capture && { ...plan.capture, listen: plan.listen },
  };
}
