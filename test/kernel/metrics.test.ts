// /metrics scraped over real HTTP while real connections run, parsed as the Prometheus
// text exposition format. The tracer sees the whole machine, so shared counters are checked
// with ≥; the opt-in per-port histogram on this test's own listening port is exact.
import { release } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Tracer } from '../../src/tracer';
import { parseArgs } from '../../src/command/options';
import { buildSinks } from '../../src/sinks';
import { sinkOptions } from '../../src/command/sink-options';
import { Pipeline } from '../../src/pipeline';
import type { Sink } from '../../src/sinks/sink';
import { StatsEngine } from '../../src/derive/stats';
import { METRICS, promName } from '../../src/derive/metric-catalogue';

const PORT_METRICS = Object.values(METRICS).filter((m) => (m.labels as readonly string[]).includes('port')).map(promName);
import { closedPort, connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';
import { patience } from '../helpers/patience';
import { sampleStatus } from '../helpers/sample';

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Exposition { types: Map<string, string>; help: Map<string, string>; samples: Sample[] }

/** A strict-enough parser of the text format (version 0.0.4). */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(m[3]);
        types.set(m[2], m[3]);
      } else help.set(m[2], m[3]);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    if (!m) throw new Error(`not exposition format: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
      let lm: RegExpExecArray | null;
      let at = 0;
      while ((lm = re.exec(m[2]))) {
        labels[lm[1]] = lm[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        at = re.lastIndex;
      }
      if (at !== m[2].length) throw new Error(`bad labels: ${m[2]}`);
    }
    // Go's ParseFloat, which Prometheus uses, takes NaN and Inf in any letter case.
    const v = m[3].toLowerCase();
    const value = v === '+inf' || v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : Number(m[3]);
    if (Number.isNaN(value) && v !== 'nan') throw new Error(`bad value: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { types, help, samples };
}

function family(name: string): string {
  return name.replace(/_(bucket|sum|count)$/, '');
}

function value(exp: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  return exp.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function scrape(url: string): Promise<{ status: number; type: string | null; exp: Exposition; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), exp: parseExposition(text), text };
}

describeKernel('Prometheus /metrics', () => {
  let tracer: Tracer;
  let sinks: Sink[] = [];
  let metricsPort = 0;
  let listenPort = 0;
  let server: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    server = await listen();
    metricsPort = await closedPort();
    listenPort = await closedPort();
    // The CLI's path: options → plan → sinks, fed like cli.ts feeds them.
    const plan = parseArgs(['-q', '--metrics', `127.0.0.1:${metricsPort}`, '--metrics-ports', String(server.port), '--listen', `127.0.0.1:${listenPort}`]);
    tracer = Tracer.open({ filter: plan.filter });
    sinks = await buildSinks(sinkOptions(plan), { status: tracer, out: () => {}, log: () => {}, stats: new StatsEngine() });
    new Pipeline(tracer, sinks);
  });

  afterAll(async () => {
    tracer?.close();
    for (const s of sinks) s.end?.(sampleStatus());
    await server?.close();
  });

  it('counts transitions, handshakes, failures and lifetimes of real connections', async () => {
    const before = (await scrape(`http://127.0.0.1:${metricsPort}/metrics`)).exp;
    const refusedBefore = value(before, 'tcptrace_connect_failures_total', { cause: 'refused' }) ?? 0;
    const N = 5;
    for (let i = 0; i < N; i++) await connectAndClose(server.port);
    const dead = await closedPort();
    await expect(connectAndClose(dead)).rejects.toThrow(/ECONNREFUSED/);

    let got: Awaited<ReturnType<typeof scrape>> | undefined;
    const deadline = Date.now() + 5000;
    for (;;) {
      got = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
      const n = value(got.exp, 'tcptrace_listen_port_handshake_duration_seconds_count', { port: String(server.port) }) ?? 0;
      const refused = value(got.exp, 'tcptrace_connect_failures_total', { cause: 'refused' }) ?? 0;
      if ((n >= N && refused > refusedBefore) || Date.now() > deadline) break;
      await sleep(50);
    }
    const { status, type, exp } = got;
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);

    // Every family is ours, typed, documented, in base units.
    for (const s of exp.samples) {
      expect(s.name.startsWith('tcptrace_')).toBe(true);
      const fam = exp.types.has(s.name) ? s.name : family(s.name);
      expect(exp.types.has(fam), `TYPE for ${s.name}`).toBe(true);
      expect(exp.help.get(fam)).toBeTruthy();
      expect(fam).not.toMatch(/_(ms|milliseconds|us|microseconds)(_|$)/);
    }

    // The opt-in per-port series for this test's port: exactly our N accepts (unless a flood
    // from another test overflowed the kernel buffer, which the loss counter then shows).
    expect(exp.types.get('tcptrace_listen_port_handshake_duration_seconds')).toBe('histogram');
    const accepted = value(exp, 'tcptrace_listen_port_handshake_duration_seconds_count', { port: String(server.port) });
    if (tracer.counters().lost === 0) expect(accepted).toBe(N);
    else expect(accepted).toBeLessThanOrEqual(N);
    const portSum = value(exp, 'tcptrace_listen_port_handshake_duration_seconds_sum', { port: String(server.port) }) as number;
    expect(portSum).toBeGreaterThan(0);
    expect(portSum / N).toBeLessThan(1); // seconds, not µs: a loopback handshake is far below a second

    // Bytes per listening port, from each accepted connection's totals at its CLOSE: these carry no
    // data, only the client's FIN, which the kernel counts as one byte received.
    const port = String(server.port);
    let received = value(exp, 'tcptrace_listen_port_transferred_bytes_total', { port, direction: 'received' }) ?? 0;
    for (const until = Date.now() + 5000; received < N && Date.now() < until; await sleep(50)) {
      received = value((await scrape(`http://127.0.0.1:${metricsPort}/metrics`)).exp, 'tcptrace_listen_port_transferred_bytes_total', { port, direction: 'received' }) ?? 0;
    }
    if (tracer.counters().lost === 0) expect(received).toBe(N);
    expect(value(exp, 'tcptrace_transferred_bytes_total', { direction: 'received', side: 'passive' })).toBeGreaterThanOrEqual(0);

    // Shared counters: at least what this test did.
    expect(value(exp, 'tcptrace_transitions_total', { old_state: 'SYN_SENT', new_state: 'ESTABLISHED' })).toBeGreaterThanOrEqual(N);
    expect(value(exp, 'tcptrace_transitions_total', { old_state: 'SYN_RECV', new_state: 'ESTABLISHED' })).toBeGreaterThanOrEqual(N);
    expect(value(exp, 'tcptrace_transitions_total', { old_state: 'SYN_SENT', new_state: 'CLOSE' })).toBeGreaterThanOrEqual(1);
    expect(exp.types.get('tcptrace_handshake_duration_seconds')).toBe('histogram');
    for (const direction of ['active', 'passive']) {
      expect(value(exp, 'tcptrace_handshake_duration_seconds_count', { direction })).toBeGreaterThanOrEqual(N);
      const inf = value(exp, 'tcptrace_handshake_duration_seconds_bucket', { direction, le: '+Inf' });
      expect(inf).toBe(value(exp, 'tcptrace_handshake_duration_seconds_count', { direction }));
    }
    expect(value(exp, 'tcptrace_connect_failures_total', { cause: 'refused' })).toBeGreaterThan(refusedBefore);
    expect(value(exp, 'tcptrace_connection_lifetime_seconds_count', { side: 'active' })).toBeGreaterThanOrEqual(N);
    expect(value(exp, 'tcptrace_connection_lifetime_seconds_count', { side: 'passive' })).toBeGreaterThanOrEqual(N);
    expect(value(exp, 'tcptrace_connections_closed_total', { cause: 'time-wait' })).toBeGreaterThanOrEqual(N);

    // Loss accounting and tracer facts.
    expect(exp.types.get('tcptrace_events_lost_total')).toBe('counter');
    // Other test files may flood the machine meanwhile: the scrape can only trail the tracer.
    expect(value(exp, 'tcptrace_events_lost_total')).toBeLessThanOrEqual(tracer.counters().lost);
    expect(value(exp, 'tcptrace_events_seen_total')).toBeGreaterThanOrEqual(6 * N);
    const info = exp.samples.find((s) => s.name === 'tcptrace_tracer_info');
    expect(info?.value).toBe(1);
    expect(info?.labels).toEqual({ version: require('../../package.json').version, kernel: release(), attach: tracer.attach, delivery: tracer.delivery });

    // No addresses, and ports only in the opt-in family.
    for (const s of exp.samples) {
      for (const k of Object.keys(s.labels)) expect(['saddr', 'daddr', 'addr', 'address', 'sport', 'dport', 'pid', 'comm']).not.toContain(k);
      // a port label only on the metrics the catalogue declares with one (bounded: --metrics-ports)
      if ('port' in s.labels) expect(PORT_METRICS).toContain(family(s.name));
    }
  });

  it('is also served on the --listen address', async () => {
    const got = await scrape(`http://127.0.0.1:${listenPort}/metrics`);
    expect(got.status).toBe(200);
    expect(got.exp.types.get('tcptrace_transitions_total')).toBe('counter');
  });

  it('answers HEAD, and refuses other methods', async () => {
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});

describeKernel('metrics without the opt-in', () => {
  it('has no per-port family', async () => {
    const port = await closedPort();
    const plan = parseArgs(['-q', '--metrics', String(port)]);
    expect(plan.metrics).toEqual({ host: '127.0.0.1', port });
    const tracer = Tracer.open({ filter: plan.filter });
    try {
      const sinks = await buildSinks(sinkOptions(plan), { status: tracer, out: () => {}, log: () => {}, stats: new StatsEngine() });
      new Pipeline(tracer, sinks);
      const got = await scrape(`http://127.0.0.1:${port}/metrics`);
      expect([...got.exp.types.keys()].some((n) => n.includes('listen_port'))).toBe(false);
      expect(got.exp.samples.some((s) => 'port' in s.labels)).toBe(false);
    } finally {
      tracer.close();
    }
  });
});

describeKernel('the tcptrace command with --metrics', () => {
  it('serves /metrics while tracing, and stops cleanly on SIGINT', async () => {
    const { spawn } = await import('node:child_process');
    const bin = require('node:path').resolve(__dirname, '../../bin/tcptrace');
    const port = await closedPort();
    const server = await listen();
    // -L keeps other test files' floods out of this exact count.
    const child = spawn(bin, ['-q', '-L', String(server.port), '--metrics', `127.0.0.1:${port}`, '--metrics-ports', String(server.port)]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + patience(10_000); // start-up: over 10 s on 5.10 under QEMU on a busy machine
      while (!/tracing/.test(stderr) && Date.now() < deadline) await sleep(50);
      for (let i = 0; i < 3; i++) await connectAndClose(server.port);
      let n = 0;
      let got: Awaited<ReturnType<typeof scrape>> | undefined;
      while (n < 3 && Date.now() < deadline) {
        got = await scrape(`http://127.0.0.1:${port}/metrics`);
        n = value(got.exp, 'tcptrace_listen_port_handshake_duration_seconds_count', { port: String(server.port) }) ?? 0;
        if (n < 3) await sleep(50);
      }
      expect(n).toBe(3);
      expect(got?.exp.samples.find((s) => s.name === 'tcptrace_tracer_info')?.labels.kernel).toBe(release());
    } finally {
      child.kill('SIGINT');
      await server.close();
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/events seen, \d+ delivered, \d+ lost/);
  });

  it('refuses a bad --metrics address and a missing journal in one line', async () => {
    const { spawnSync } = await import('node:child_process');
    const bin = require('node:path').resolve(__dirname, '../../bin/tcptrace');
    const bad = spawnSync(bin, ['--metrics', 'nope:x'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/bad address 'nope:x' for --metrics/);
    const journal = spawnSync(bin, ['-q', '-Y', '--journal-socket', '/nonexistent/journal.sock'], { encoding: 'utf8' });
    expect(journal.status).toBe(1);
    expect(journal.stderr.trim().split('\n')).toEqual(['tcptrace: cannot send to the journal at /nonexistent/journal.sock: ENOENT']);
  });
});
