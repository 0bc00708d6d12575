// The metrics feed on made-up connections (no kernel), and the fleet options.
import { describe, expect, it } from 'vitest';
import type { TcpEvent } from '../../src/decode/event';
import { PromMetrics } from '../../src/sinks/metrics';
import { MAX_LABELLED_PORTS, MetricsFeed } from '../../src/derive/metrics-feed';
import { parseArgs } from '../../src/command/options';
import { State } from '../../src/decode/states';
import { withFinished } from '../helpers/derive';
import { recordZeros } from '../helpers/sample';
import { sampleCounters } from '../helpers/sample';

let clock = 1_000_000_000;
function ev(skaddr: string, oldState: number, newState: number, over: Partial<TcpEvent> = {}): TcpEvent {
  clock += 1_000_000; // 1 ms apart
  return {
    ...recordZeros(),
    tsNs: clock, time: 0, skaddr, pid: 1, comm: 'x', ownerSource: 'kernel', cgroupId: 0, cpuPid: 0, cpuTid: 0, cpuComm: '',
    family: 4, saddr: '10.0.0.1', sport: 40000, daddr: '10.0.0.2', dport: 80, oldState, newState, durationNs: null,
    netns: 1, sockIno: 0, rttUs: 0, handshakeUs: 0, error: 0, cause: '', timeWait: false, side: 'active', synRetrans: 0, synackRetrans: 0, acceptWaitUs: 0, holders: null, isAccept: false, totals: null, ...over,
  };
}

function setup(ports?: 'all' | number[]) {
  const prom = new PromMetrics(() => sampleCounters({ seen: 10, delivered: 9, lost: 1 }), { version: '9.9.9', kernel: 'k', attach: 'tp_btf', delivery: 'ringbuf' }, { ports, processMetrics: false });
  return { prom, feed: { observe: withFinished(new MetricsFeed([prom], ports)) } };
}

const line = (text: string, prefix: string) => text.split('\n').find((l) => l.startsWith(prefix));

describe('metrics feed', () => {
  it('an active connection: transitions, handshake in seconds, lifetime', async () => {
    const { prom, feed } = setup();
    feed.observe([
      ev('a', State.CLOSE, State.SYN_SENT),
      ev('a', State.SYN_SENT, State.ESTABLISHED, { handshakeUs: 2500 }),
      ev('a', State.ESTABLISHED, State.FIN_WAIT1),
      ev('a', State.FIN_WAIT1, State.FIN_WAIT2),
      ev('a', State.FIN_WAIT2, State.CLOSE, { cause: 'normal', timeWait: true }),
    ]);
    const text = await prom.render();
    expect(line(text, 'tcptrace_transitions_total{old_state="CLOSE",new_state="SYN_SENT"}')).toMatch(/ 1$/);
    expect(line(text, 'tcptrace_handshake_duration_seconds_sum{direction="active"}')).toBe('tcptrace_handshake_duration_seconds_sum{direction="active"} 0.0025');
    expect(line(text, 'tcptrace_handshake_duration_seconds_bucket{le="0.0025",direction="active"}')).toMatch(/ 1$/);
    expect(line(text, 'tcptrace_handshake_duration_seconds_bucket{le="0.001",direction="active"}')).toMatch(/ 0$/);
    expect(line(text, 'tcptrace_connection_lifetime_seconds_sum{side="active"}')).toBe('tcptrace_connection_lifetime_seconds_sum{side="active"} 0.004');
    expect(line(text, 'tcptrace_connections_closed_total{cause="time-wait"}')).toMatch(/ 1$/);
    expect(text).not.toContain('tcptrace_connect_failures_total{');
    expect(line(text, 'tcptrace_events_lost_total')).toBe('tcptrace_events_lost_total 1');
    expect(line(text, 'tcptrace_tracer_info')).toBe('tcptrace_tracer_info{version="9.9.9",kernel="k",attach="tp_btf",delivery="ringbuf"} 1');
  });

  it('failed connects by cause; a connect closed by its owner is "aborted"', async () => {
    const { prom, feed } = setup();
    feed.observe([
      ev('r', State.CLOSE, State.SYN_SENT), ev('r', State.SYN_SENT, State.CLOSE, { cause: 'refused', error: 111 }),
      ev('t', State.CLOSE, State.SYN_SENT), ev('t', State.SYN_SENT, State.CLOSE, { cause: 'timeout', error: 110 }),
      ev('n', State.CLOSE, State.SYN_SENT), ev('n', State.SYN_SENT, State.CLOSE, { cause: 'normal' }),
    ]);
    const text = await prom.render();
    for (const cause of ['refused', 'timeout', 'aborted']) expect(line(text, `tcptrace_connect_failures_total{cause="${cause}"}`)).toMatch(/ 1$/);
  });

  it('accepted connections: passive handshake and lifetime from LISTEN->SYN_RECV', async () => {
    const { prom, feed } = setup();
    const p = { side: 'passive' as const, sport: 80, dport: 50000 };
    feed.observe([
      ev('c', State.LISTEN, State.SYN_RECV, p),
      ev('c', State.SYN_RECV, State.ESTABLISHED, { ...p, handshakeUs: 100 }),
      ev('c', State.ESTABLISHED, State.CLOSE_WAIT, p),
      ev('c', State.CLOSE_WAIT, State.LAST_ACK, p),
      ev('c', State.LAST_ACK, State.CLOSE, { ...p, cause: 'normal' }),
    ]);
    const text = await prom.render();
    expect(line(text, 'tcptrace_handshake_duration_seconds_count{direction="passive"}')).toMatch(/ 1$/);
    expect(line(text, 'tcptrace_connection_lifetime_seconds_count{side="passive"}')).toMatch(/ 1$/);
    expect(text).not.toContain('listen_port');
  });

  it('per-port series only for selected listening ports', async () => {
    const { prom, feed } = setup([443]);
    for (const sport of [443, 8080]) feed.observe([ev(`s${sport}`, State.SYN_RECV, State.ESTABLISHED, { sport, side: 'passive', handshakeUs: 50 })]);
    const text = await prom.render();
    expect(line(text, 'tcptrace_listen_port_handshake_duration_seconds_count{port="443"}')).toMatch(/ 1$/);
    expect(text).not.toContain('port="8080"');
  });

  it(`'all' labels at most ${MAX_LABELLED_PORTS} ports, then port="other"`, async () => {
    const { prom, feed } = setup('all');
    const batch: TcpEvent[] = [];
    for (let i = 0; i < MAX_LABELLED_PORTS + 10; i++) batch.push(ev(`p${i}`, State.SYN_RECV, State.ESTABLISHED, { sport: 1000 + i, side: 'passive', handshakeUs: 50 }));
    feed.observe(batch);
    const text = await prom.render();
    const ports = new Set([...text.matchAll(/listen_port_handshake_duration_seconds_count\{port="([^"]+)"\}/g)].map((m) => m[1]));
    expect(ports.size).toBe(MAX_LABELLED_PORTS + 1);
    expect(line(text, 'tcptrace_listen_port_handshake_duration_seconds_count{port="other"}')).toMatch(/ 10$/);
  });
});

describe('fleet options', () => {
  it('--metrics takes [HOST:]PORT', () => {
    expect(parseArgs(['--metrics', '9464']).metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseArgs(['--metrics', '0.0.0.0:9464']).metrics).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseArgs(['--metrics', '[::1]:9464']).metrics).toEqual({ host: '::1', port: 9464 });
    expect(() => parseArgs(['--metrics', '99999'])).toThrow(/bad address '99999' for --metrics/);
  });

  it('--metrics-ports: all, or a list; only with a metrics output', () => {
    expect(parseArgs(['--metrics', '1', '--metrics-ports']).metricsPorts).toBe('all');
    expect(parseArgs(['--metrics', '1', '--metrics-ports', '80,443']).metricsPorts).toEqual([80, 443]);
    expect(parseArgs(['--listen', '1', '--metrics-ports', 'all']).metricsPorts).toBe('all');
    expect(() => parseArgs(['--metrics-ports', '80'])).toThrow(/--metrics-ports needs --metrics, --listen or --otlp/);
    expect(() => parseArgs(['--metrics', '1', '--metrics-ports', '0'])).toThrow(/bad port '0'/);
  });

  it('--otlp takes an http(s) URL, adding /v1/metrics to a bare one', () => {
    expect(parseArgs(['--otlp', 'http://collector:4318']).otlp).toEqual({ url: 'http://collector:4318/v1/metrics', intervalMs: 10_000 });
    expect(parseArgs(['--otlp', 'https://c.example/custom/path', '--otlp-interval', '2.5']).otlp).toEqual({ url: 'https://c.example/custom/path', intervalMs: 2500 });
    expect(() => parseArgs(['--otlp', 'collector:4318'])).toThrow(/--otlp/);
    expect(() => parseArgs(['--otlp', 'ftp://x'])).toThrow(/use http:\/\/ or https:\/\//);
    expect(() => parseArgs(['--otlp-interval', '5'])).toThrow(/--otlp-interval needs --otlp/);
    expect(() => parseArgs(['--otlp', 'http://c:4318', '--otlp-interval', '0'])).toThrow(/--otlp-interval/);
  });
});
