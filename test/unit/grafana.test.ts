// deploy/grafana-dashboard.json asks only for what tcptrace exports: every metric a query
// names, and every label it groups by, is in the catalogue of the code itself (a PromMetrics
// with every optional part on), not in a list kept by hand.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SocketCensus } from '../../src/census/census';
import { PromMetrics } from '../../src/sinks/metrics';
import { sampleCounters } from '../helpers/sample';

const dashboard = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'deploy', 'grafana-dashboard.json'), 'utf8'));

/** metric name as queried → its labels, from the registry (histograms also as _bucket/_sum/_count). */
function catalogue(): Map<string, Set<string>> {
  const census = { report: () => ({ counts: { ESTABLISHED: 1 }, exact: true, notes: [], sampledAt: 0 }) } as unknown as SocketCensus;
  const prom = new PromMetrics(() => sampleCounters(),
    { version: 'v', kernel: 'k', attach: 'tp_btf', delivery: 'ringbuf' }, { ports: 'all', census, portPressure: () => new Map() });
  const names = new Map<string, Set<string>>();
  for (const m of prom.registry.getMetricsAsArray()) {
    const labels = new Set((m as unknown as { labelNames: string[] }).labelNames ?? []);
    names.set(m.name, labels);
    if (String((m as unknown as { type: string }).type) === 'histogram') {
      names.set(`${m.name}_bucket`, new Set([...labels, 'le']));
      for (const suffix of ['_sum', '_count']) names.set(m.name + suffix, labels);
    }
  }
  return names;
}

/** Every PromQL expression in the dashboard: panel targets and template variables. */
function expressions(): string[] {
  const exprs: string[] = [];
  for (const p of dashboard.panels) for (const t of p.targets ?? []) exprs.push(t.expr);
  for (const v of dashboard.templating.list) if (v.type === 'query') exprs.push(v.definition, v.query.query);
  return exprs;
}

describe('Grafana dashboard', () => {
  const known = catalogue();

  it('every query names metrics tcptrace exports, and groups only by their labels', () => {
    const exprs = expressions();
    expect(exprs.length).toBeGreaterThan(8);
    for (const expr of exprs) {
      const metrics = [...expr.matchAll(/\b(tcptrace_[a-z_]+)\b/g)].map((m) => m[1]);
      expect(metrics.length, expr).toBeGreaterThan(0);
      for (const name of metrics) expect(known.has(name), `${name} in: ${expr}`).toBe(true);
      const labels = new Set(metrics.flatMap((name) => [...known.get(name)!]));
      for (const [, list] of expr.matchAll(/\bby \(([^)]*)\)/g)) {
        for (const label of list.split(',').map((l) => l.trim())) expect(labels.has(label), `label ${label} in: ${expr}`).toBe(true);
      }
      // label_values(metric, instance): `instance` is Prometheus' own target label
      for (const [, label] of expr.matchAll(/\{\{(\w+)\}\}/g)) expect(labels.has(label), expr).toBe(true);
    }
  });

  it('shows what the fleet needs: sockets by state, transitions, failures by cause, handshake and accept-wait percentiles per port', () => {
    const all = expressions().join('\n');
    for (const name of ['tcptrace_sockets', 'tcptrace_transitions_total', 'tcptrace_connect_failures_total',
      'tcptrace_handshake_duration_seconds_bucket', 'tcptrace_listen_port_handshake_duration_seconds_bucket',
      'tcptrace_accept_wait_seconds_bucket', 'tcptrace_listen_port_accept_wait_seconds_bucket']) {
      expect(all).toContain(name);
    }
    const legends = dashboard.panels.flatMap((p: { targets: { legendFormat: string; expr: string }[] }) => p.targets);
    for (const t of legends) {
      for (const [, label] of t.legendFormat.matchAll(/\{\{(\w+)\}\}/g)) {
        expect(t.expr, `legend {{${label}}} needs a 'by (${label})'`).toMatch(new RegExp(`by \\([^)]*\\b${label}\\b`));
      }
    }
  });

  it('is a dashboard Grafana can import: unique ids, a datasource variable, panels on the grid', () => {
    expect(dashboard.uid).toBe('tcptrace');
    expect(dashboard.templating.list.some((v: { type: string }) => v.type === 'datasource')).toBe(true);
    for (const p of dashboard.panels) {
      expect(p.datasource.uid).toBe('${datasource}');
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      expect(new Set(p.targets.map((t: { refId: string }) => t.refId)).size).toBe(p.targets.length);
    }
  });
});
