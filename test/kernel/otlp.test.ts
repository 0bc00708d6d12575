// --otlp against a local receiver: an HTTP server in the test accepting the OTLP/HTTP JSON
// POSTs the OpenTelemetry exporter sends, while real connections run.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Tracer } from '../../src/tracer';
import { parseArgs } from '../../src/command/options';
import { buildSinks } from '../../src/sinks';
import { sinkOptions } from '../../src/command/sink-options';
import { Pipeline } from '../../src/pipeline';
import type { Sink } from '../../src/sinks/sink';
import { StatsEngine } from '../../src/derive/stats';
import { CENSUS_STATES, SocketCensus } from '../../src/census/census';
import { closedPort, connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';
import { patience } from '../helpers/patience';
import { sampleStatus } from '../helpers/sample';

type KeyValue = { key: string; value: { stringValue?: string; intValue?: number | string; doubleValue?: number } };
interface DataPoint { attributes?: KeyValue[]; asInt?: number | string; asDouble?: number; count?: number | string; sum?: number; bucketCounts?: (number | string)[]; explicitBounds?: number[] }
interface Metric { name: string; unit?: string; description?: string; sum?: { dataPoints: DataPoint[]; isMonotonic?: boolean }; gauge?: { dataPoints: DataPoint[] }; histogram?: { dataPoints: DataPoint[] } }
interface ExportRequest { resourceMetrics: { resource: { attributes: KeyValue[] }; scopeMetrics: { scope: { name: string }; metrics: Metric[] }[] }[] }

const attrs = (kvs: KeyValue[] = []) => Object.fromEntries(kvs.map((kv) => [kv.key, kv.value.stringValue ?? kv.value.intValue ?? kv.value.doubleValue]));

describeKernel('OTLP/HTTP export', () => {
  const posts: { path: string; type: string; body: ExportRequest }[] = [];
  let receiver: http.Server;
  let tracer: Tracer;
  let sinks: Sink[] = [];
  let census: SocketCensus;
  const logs: string[] = [];

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push({ path: req.url ?? '', type: String(req.headers['content-type']), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment=tcptrace-test';
    // A bare collector address: the standard /v1/metrics path is added.
    // Each export's deadline is 80 % of the interval: scaled, so an emulated guest at load 10 meets
    // it (at 0.3 s a 240 ms deadline was missed there, rightly logged as a failed export).
    const intervalMs = patience(300);
    const plan = parseArgs(['-q', '--otlp', `http://127.0.0.1:${port}`, '--otlp-interval', String(intervalMs / 1000)]);
    expect(plan.otlp).toEqual({ url: `http://127.0.0.1:${port}/v1/metrics`, intervalMs });
    tracer = Tracer.open({ filter: plan.filter });
    census = new SocketCensus(plan.filter, () => tracer.counters().lost);
    sinks = await buildSinks(sinkOptions(plan), { status: tracer, out: () => {}, log: (l) => logs.push(l), stats: new StatsEngine(), census });
    new Pipeline(tracer, sinks, { census });
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
  });

  afterAll(async () => {
    tracer?.close();
    census?.close();
    await Promise.all(sinks.map((s) => s.end?.(sampleStatus())));
    receiver?.close();
  });

  function latest(): Map<string, Metric> {
    const m = new Map<string, Metric>();
    for (const p of posts) for (const rm of p.body.resourceMetrics) for (const sm of rm.scopeMetrics) for (const metric of sm.metrics) m.set(metric.name, metric);
    return m;
  }

  it('pushes transitions, handshakes, accept waits, failures, lifetimes, loss, ring fill, tracer info and sockets by state', async () => {
    const server = await listen();
    const N = 4;
    for (let i = 0; i < N; i++) await connectAndClose(server.port);
    await expect(connectAndClose(await closedPort())).rejects.toThrow(/ECONNREFUSED/);
    await server.close();

    const deadline = Date.now() + patience(8000);
    let metrics = latest();
    const ready = () => {
      const fails = metrics.get('tcptrace.connect.failures')?.sum?.dataPoints ?? [];
      const hs = metrics.get('tcptrace.handshake.duration')?.histogram?.dataPoints ?? [];
      const listening = (metrics.get('tcptrace.sockets')?.gauge?.dataPoints ?? []).some((d) => attrs(d.attributes).state === 'LISTEN' && Number(d.asInt ?? d.asDouble) > 0);
      const waits = metrics.get('tcptrace.accept.wait')?.histogram?.dataPoints ?? [];
      return fails.some((d) => attrs(d.attributes).cause === 'refused') && hs.some((d) => Number(d.count) >= N) && listening && waits.some((d) => Number(d.count) >= N);
    };
    while (!ready() && Date.now() < deadline) {
      await sleep(100);
      metrics = latest();
    }
    expect(posts.length).toBeGreaterThan(0);
    expect(posts[0].path).toBe('/v1/metrics');
    expect(posts[0].type).toMatch(/application\/json/);

    const resource = attrs(posts[0].body.resourceMetrics[0].resource.attributes);
    expect(resource['service.name']).toBe('tcptrace');
    expect(resource['service.version']).toBe(require('../../package.json').version);
    expect(resource['deployment.environment']).toBe('tcptrace-test');
    expect(posts[0].body.resourceMetrics[0].scopeMetrics[0].scope.name).toBe('tcptrace');

    const transitions = metrics.get('tcptrace.transitions');
    expect(transitions?.sum?.isMonotonic).toBe(true);
    const synEst = transitions?.sum?.dataPoints.find((d) => attrs(d.attributes).old_state === 'SYN_SENT' && attrs(d.attributes).new_state === 'ESTABLISHED');
    expect(Number(synEst?.asInt)).toBeGreaterThanOrEqual(N);

    const hs = metrics.get('tcptrace.handshake.duration');
    expect(hs?.unit).toBe('s');
    for (const direction of ['active', 'passive']) {
      const dp = hs?.histogram?.dataPoints.find((d) => attrs(d.attributes).direction === direction);
      expect(Number(dp?.count)).toBeGreaterThanOrEqual(N);
      expect(dp?.explicitBounds?.[0]).toBe(0.00001);
      expect((dp?.sum as number) / Number(dp?.count)).toBeLessThan(1);
    }
    const failed = metrics.get('tcptrace.connect.failures')?.sum?.dataPoints.find((d) => attrs(d.attributes).cause === 'refused');
    expect(Number(failed?.asInt)).toBeGreaterThanOrEqual(1);
    const life = metrics.get('tcptrace.connection.lifetime');
    expect(life?.unit).toBe('s');
    expect(life?.histogram?.dataPoints.some((d) => attrs(d.attributes).side === 'active' && Number(d.count) >= N)).toBe(true);
    // The accept-queue wait of our N accepted connections (as tcptrace_accept_wait_seconds).
    const waits = metrics.get('tcptrace.accept.wait');
    expect(waits?.unit).toBe('s');
    expect(waits?.histogram?.dataPoints.some((d) => Number(d.count) >= N)).toBe(true);
    expect(metrics.get('tcptrace.ring.high_water')?.gauge?.dataPoints).toHaveLength(1);
    const lost = metrics.get('tcptrace.events.lost')?.sum?.dataPoints[0];
    expect(Number(lost?.asInt ?? lost?.asDouble)).toBeLessThanOrEqual(tracer.counters().lost);
    const info = metrics.get('tcptrace.tracer.info')?.gauge?.dataPoints[0];
    expect(attrs(info?.attributes)).toMatchObject({ attach: tracer.attach, delivery: tracer.delivery, version: require('../../package.json').version });
    // Sockets by state: every state, the receiver's own listener among them.
    const sockets = metrics.get('tcptrace.sockets');
    expect(sockets?.unit).toBe('{socket}');
    const byState = Object.fromEntries((sockets?.gauge?.dataPoints ?? []).map((d) => [attrs(d.attributes).state, Number(d.asInt ?? d.asDouble)]));
    expect(Object.keys(byState).sort()).toEqual([...CENSUS_STATES].sort());
    expect(byState.LISTEN).toBeGreaterThanOrEqual(1);
    expect(logs).toEqual([]); // no export failed
  });
});

describeKernel('OTLP export failures', () => {
  it('are logged once and do not stop tracing', async () => {
    const dead = await closedPort();
    const plan = parseArgs(['-q', '--otlp', `http://127.0.0.1:${dead}/v1/metrics`, '--otlp-interval', '0.2']);
    const tracer = Tracer.open({ filter: plan.filter });
    const logs: string[] = [];
    const sinks = await buildSinks(sinkOptions(plan), { status: tracer, out: () => {}, log: (l) => logs.push(l), stats: new StatsEngine() });
    try {
      const deadline = Date.now() + 5000;
      while (logs.length === 0 && Date.now() < deadline) await sleep(50);
      await sleep(500);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatch(/^otlp: export to http:\/\/127\.0\.0\.1:\d+\/v1\/metrics failed: .* \(will keep trying\)$/);
    } finally {
      tracer.close();
      await Promise.all(sinks.map((s) => s.end?.(sampleStatus())));
    }
  });
});
