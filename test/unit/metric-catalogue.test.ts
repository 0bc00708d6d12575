// Prometheus and OTLP both register exactly the metric catalogue (src/derive/metric-catalogue.ts),
// named by each one's rules, and the names dashboards and alerts use stay as they were.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SocketCensus } from '../../src/census/census';
import type { NativeDelivery } from '../../src/probe/delivery';
import { METRICS, otelName, promName, type MetricSpec } from '../../src/derive/metric-catalogue';
import { PromMetrics } from '../../src/sinks/metrics';
import { OtelMetrics, type MeterSource } from '../../src/sinks/otlp';
import { sampleCounters } from '../helpers/sample';

const census = { report: () => ({ counts: { ESTABLISHED: 1 }, exact: true, notes: [], sampledAt: 0 }) } as unknown as SocketCensus;
const counters = () => sampleCounters();
const delivery = () => ({}) as NativeDelivery;
const info = { version: 'v', kernel: 'k', attach: 'tp_btf', delivery: 'ringbuf' };
const catalogue: MetricSpec[] = Object.values(METRICS);

describe('metric catalogue', () => {
  it('names every metric by the Prometheus and OTel rules, and keeps the names dashboards use', () => {
    expect(catalogue.map(promName).sort()).toEqual([
      'tcptrace_accept_wait_seconds', 'tcptrace_backlog_high_water_bytes', 'tcptrace_connect_failures_total',
      'tcptrace_connection_lifetime_seconds', 'tcptrace_connections_closed_total', 'tcptrace_events_delivered_total',
      'tcptrace_events_lost_total', 'tcptrace_events_missed_total', 'tcptrace_events_seen_total',
      'tcptrace_handshake_diagnoses_total', 'tcptrace_handshake_duration_seconds',
      'tcptrace_listen_port_accept_queue_full_seconds_total', 'tcptrace_listen_port_accept_queue_peak',
      'tcptrace_listen_port_accept_wait_seconds', 'tcptrace_listen_port_drops_total',
      'tcptrace_listen_port_handshake_duration_seconds', 'tcptrace_ring_high_water_ratio', 'tcptrace_sockets',
      'tcptrace_sockets_exact', 'tcptrace_tracer_info', 'tcptrace_transitions_total',
      'tcptrace_transferred_bytes_total', 'tcptrace_retransmitted_segments_total', 'tcptrace_retransmitted_bytes_total',
      'tcptrace_listen_port_transferred_bytes_total', 'tcptrace_listen_port_retransmitted_segments_total',
    ].sort());
    for (const m of catalogue) {
      const name = promName(m);
      expect(name.endsWith('_total'), name).toBe(m.kind === 'counter');
      if (m.unit === 's') expect(name).toMatch(/_seconds(_total)?$/);
      expect(otelName(m)).toMatch(/^tcptrace(\.[a-z_]+)+$/);
      if (m.kind === 'histogram') expect(m.buckets?.length, name).toBeGreaterThan(5);
    }
    expect(otelName(METRICS.handshake)).toBe('tcptrace.handshake.duration');
    expect(otelName(METRICS.connectFailures)).toBe('tcptrace.connect.failures');
  });

  it('Prometheus registers exactly the catalogue: names, types, help, labels, buckets', async () => {
    const prom = new PromMetrics(counters, info, { ports: 'all', census, delivery, processMetrics: false, portPressure: () => new Map() });
    const registered = new Map(prom.registry.getMetricsAsArray().map((m) => [m.name, m as unknown as { type: string; help: string; labelNames: string[]; upperBounds?: number[] }]));
    expect([...registered.keys()].sort()).toEqual(catalogue.map(promName).sort());
    for (const m of catalogue) {
      const r = registered.get(promName(m))!;
      expect(String(r.type), promName(m)).toBe(m.kind);
      expect(r.help).toBe(m.help);
      expect(r.labelNames ?? []).toEqual(m.labels);
      if (m.buckets) expect(r.upperBounds).toEqual(m.buckets);
    }
  });

  it('OTLP creates exactly the catalogue: names, kinds, units, descriptions, buckets', () => {
    const created: { kind: string; name: string; options: { description?: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } } }[] = [];
    const record = (kind: string) => (name: string, options = {}) => (created.push({ kind, name, options }), { add() {}, record() {}, addCallback() {} });
    const meter = {
      createCounter: record('counter'), createHistogram: record('histogram'),
      createObservableCounter: record('counter'), createObservableGauge: record('gauge'), addBatchObservableCallback() {},
    };
    new OtelMetrics({ getMeter: () => meter } as unknown as MeterSource, info, { counters, delivery, census, portPressure: () => new Map() }, 'all');
    expect(created.map((c) => c.name).sort()).toEqual(catalogue.map(otelName).sort());
    for (const m of catalogue) {
      const c = created.find((x) => x.name === otelName(m))!;
      expect(c.kind, c.name).toBe(m.kind);
      expect(c.options.description).toBe(m.help);
      expect(c.options.unit ?? '').toBe(m.unit);
      if (m.buckets) expect(c.options.advice?.explicitBucketBoundaries).toEqual(m.buckets);
    }
  });

  it('docs/FLEET.md lists exactly the catalogue, with each metric\'s labels', () => {
    const fleet = readFileSync(path.join(__dirname, '..', '..', 'docs', 'FLEET.md'), 'utf8');
    const rows = fleet.split('\n').filter((l) => l.startsWith('| `tcptrace_') && !l.includes('tcptrace_process_'));
    const documented = new Map<string, string[]>();
    for (const row of rows) {
      const [, names, , labels] = row.split('|').map((c) => c.trim());
      const labelNames = [...labels.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).filter((l) => !/^(active|passive)$/.test(l));
      for (const n of names.matchAll(/`(tcptrace_[a-z_]+)`/g)) documented.set(n[1], labelNames);
    }
    expect([...documented.keys()].sort()).toEqual(catalogue.map(promName).sort());
    for (const m of catalogue) expect(documented.get(promName(m)), promName(m)).toEqual([...m.labels]);
  });
});
