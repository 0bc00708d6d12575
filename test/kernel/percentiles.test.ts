// Known latencies land on the right percentile: handshakes slowed by dropped SYNs (one
// retransmit ~1 s, two ~2-3 s), connections a server holds for a known time, and a server
// that delays each accept by 100 ms (test/helpers/slow-accept.c), through the tracer and the
// stats engine, against the sorted latencies of the same connections.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TcpEvent } from '../../src/decode/event';
import { StatsEngine } from '../../src/derive/stats';
import { withFinished } from '../helpers/derive';
import { State } from '../../src/decode/states';
import { Capture, describeKernel, sleep } from '../helpers/kernel';
import { NetNamespace, startPeer, type Peer } from '../helpers/process';
import { patience } from '../helpers/patience';

function nearestRank(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

function expectWithin(got: number, want: number, relative: number, what: string): void {
  expect(Math.abs(got - want) / want, `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(relative);
}

describeKernel('percentiles of known latencies', () => {
  let ns: NetNamespace;
  let cap: Capture;
  const peers: Peer[] = [];
  beforeAll(() => {
    ns = new NetNamespace();
    cap = new Capture({ filter: { netns: ns.inode }, ringBytes: 32 * 1024 * 1024 });
  });
  afterAll(() => {
    cap.close();
    for (const p of peers) p.stop();
    ns.delete();
  });

  it('handshakes after one and two dropped SYNs (~1 s, ~2-3 s): p50, p90, p99 each within 1 % of the truth', { timeout: patience(60_000) }, async () => {
    // A kernel that hides PID 1's work from BPF may hide a client's SYN_SENT->ESTABLISHED (once in
    // a loaded host run: 9 of 10 arrived): then the tracer counts it as hidden, and the
    // percentiles are held on the handshakes that did arrive.
    const hiddenBefore = cap.tracer.counters().hidden;
    const hidden = () => cap.tracer.counters().hidden - hiddenBefore;
    const server = startPeer(['server', '127.0.0.1', '0'], { netns: ns.name });
    peers.push(server);
    const port = (await server.next('port')).port as number;
    const undrop = ns.dropSyns(port);
    const clients: Peer[] = [];
    const start = (n: number) => { for (let i = 0; i < n; i++) clients.push(startPeer(['client', '127.0.0.1', String(port)], { netns: ns.name })); };
    try {
      start(4); // their first retransmit (~1 s) is dropped too: ~2-3 s
      await cap.waitFor((evs) => evs.filter((e) => e.dport === port && e.newState === State.SYN_SENT).length >= 4, 30_000);
      await sleep(800);
      start(6); // only their first SYN is dropped: ~1 s
      await cap.waitFor((evs) => evs.filter((e) => e.dport === port && e.newState === State.SYN_SENT).length >= 10, 30_000);
      await sleep(300);
    } finally {
      undrop();
    }
    peers.push(...clients);
    for (const c of clients) await c.next('connected', 20_000);
    const opened = (evs: TcpEvent[]) => evs.filter((e) => e.dport === port && e.oldState === State.SYN_SENT && e.newState === State.ESTABLISHED);
    await cap.waitFor((evs) => opened(evs).length + hidden() >= 10);
    const handshakes = opened(cap.events);
    expect(10 - handshakes.length).toBeLessThanOrEqual(hidden());
    const truth = handshakes.map((e) => e.handshakeUs / 1000);
    // A busy machine may start a client late (then more or fewer of its SYNs meet the drop):
    // what matters is that the latencies come in clusters a second or more apart.
    for (const e of handshakes) expect(e.synRetrans, `handshake ${e.handshakeUs / 1000} ms`).toBeGreaterThanOrEqual(1);
    expect(new Set(handshakes.map((e) => e.synRetrans)).size).toBeGreaterThanOrEqual(2);
    for (const ms of truth) expect(ms).toBeGreaterThan(900);

    const stats = new StatsEngine();
    withFinished(stats)(handshakes);
    const active = stats.snapshot().handshake.active;
    expect(active.count).toBe(handshakes.length);
    expectWithin(active.p50, nearestRank(truth, 0.5), 0.01, 'p50');
    expectWithin(active.p90, nearestRank(truth, 0.9), 0.01, 'p90');
    expectWithin(active.p99, nearestRank(truth, 0.99), 0.01, 'p99');
    // each a latency some connection had, not one between two clusters
    for (const p of [active.p50, active.p90, active.p99]) expect(truth.some((ms) => Math.abs(p - ms) / ms < 0.004), `${p} ms`).toBe(true);
    expect([active.min, active.max]).toEqual([Math.min(...truth), Math.max(...truth)]);
  });

  it('lifetimes of connections a server holds 150 ms or 450 ms: each within the span the client saw, on their percentiles within 1 %', async () => {
    // In the test's process: own ports on loopback, held by timers.
    const holds: number[] = [];
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.resume();
      setTimeout(() => s.end(), holds.shift());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const local = new Capture({ filter: { localPorts: [port] }, ringBytes: 32 * 1024 * 1024 });
    try {
      const plan = [150, 450, 150, 150, 450, 150, 150, 450, 150, 150, 450, 150];
      // Each connection's span as this process saw it, on the kernel's clock (CLOCK_MONOTONIC):
      // from before connect() to the client's close. The server side lives within it.
      const spans = new Map<number, [number, number]>();
      /** each connection's planned hold, by client port (one connection at a time: in order) */
      const planned = new Map<number, number>();
      for (const hold of plan) {
        holds.push(hold);
        const t0 = Number(process.hrtime.bigint());
        await new Promise<void>((resolve, reject) => {
          const c = net.connect(port, '127.0.0.1');
          const span: [number, number] = [t0, 0];
          c.on('connect', () => { spans.set(c.localPort!, span); planned.set(c.localPort!, hold); });
          c.on('error', reject);
          c.on('end', () => c.end());
          c.on('close', () => { span[1] = Number(process.hrtime.bigint()); resolve(); });
          c.resume();
        });
      }
      await local.waitForCloses(port, plan.length);
      const stats = new StatsEngine();
      withFinished(stats)(local.events.filter((e) => e.sport === port && e.dport !== 0));
      const byConn = new Map<number, TcpEvent[]>();
      for (const e of local.events) if (e.sport === port && e.dport !== 0) byConn.set(e.dport, [...(byConn.get(e.dport) ?? []), e]);
      expect([...byConn.keys()].sort()).toEqual([...spans.keys()].sort());
      const lifetimes: number[] = [];
      for (const [clientPort, evs] of byConn) {
        const [t0, t1] = spans.get(clientPort)!;
        expect(evs[0].tsNs, `client port ${clientPort}: born after connect()`).toBeGreaterThanOrEqual(t0);
        expect(evs.at(-1)!.tsNs, `client port ${clientPort}: closed before the client saw its close`).toBeLessThanOrEqual(t1);
        const ms = (evs.at(-1)!.tsNs - evs[0].tsNs) / 1e6;
        // held at least as long as its timer (which fires later on a busy machine, never earlier:
        // under emulation a 150 ms hold once lasted past 450)
        expect(ms, `client port ${clientPort}`).toBeGreaterThanOrEqual(planned.get(clientPort)! - 1);
        lifetimes.push(ms);
      }
      const life = stats.snapshot().lifetime;
      expect(life.count).toBe(plan.length);
      for (const [q, got] of [[0.5, life.p50], [0.9, life.p90], [0.99, life.p99]] as const) expectWithin(got, nearestRank(lifetimes, q), 0.01, `lifetime p${q * 100}`);
    } finally {
      local.close();
      await new Promise((r) => server.close(r));
    }
  }, patience(30_000));

  it('a server that delays each accept by 100 ms: lifetimes of 100, 200, ... 1000 ms land on their percentiles', async () => {
    const exe = path.join(mkdtempSync(path.join(tmpdir(), 'tcptrace-slow-accept-')), 'slow-accept');
    execFileSync('cc', ['-O2', '-o', exe, path.resolve(__dirname, '../helpers/slow-accept.c')]);
    const server = spawn(exe, ['10', '100']);
    let printed = '';
    server.stdout.on('data', (d) => (printed += d));
    while (!printed.includes('\n')) await sleep(10);
    const port = Number(printed.split('\n')[0]);
    const local = new Capture({ filter: { localPorts: [port] }, ringBytes: 32 * 1024 * 1024 });
    try {
      // Ten connections at once: the kernel completes each handshake; they then wait in the
      // accept queue 100, 200, ... ms; the server closes each as it accepts it.
      const closed: Promise<void>[] = [];
      await Promise.all(Array.from({ length: 10 }, () => new Promise<void>((connected, reject) => {
        const c = net.connect(port, '127.0.0.1', () => connected());
        c.on('error', reject);
        c.on('end', () => c.end());
        closed.push(new Promise((r) => c.on('close', () => r())));
        c.resume();
      })));
      server.stdin.write('go\n'); // all ten are in the accept queue now
      await Promise.all(closed);
      const accepted = () => local.events.filter((e) => e.sport === port && e.dport !== 0);
      await local.waitFor(() => accepted().filter((e) => e.newState === State.CLOSE).length >= 10);
      const stats = new StatsEngine();
      withFinished(stats)(accepted());
      const bySocket = new Map<string, TcpEvent[]>();
      for (const e of accepted()) bySocket.set(`${e.skaddr}:${e.dport}`, [...(bySocket.get(`${e.skaddr}:${e.dport}`) ?? []), e]);
      const truth = [...bySocket.values()].map((evs) => (evs.at(-1)!.tsNs - evs[0].tsNs) / 1e6).sort((a, b) => a - b);
      expect(truth).toHaveLength(10);
      truth.forEach((ms, i) => expect(ms, `connection ${i + 1}`).toBeGreaterThanOrEqual(100 * (i + 1) - 5));
      const life = stats.snapshot().lifetime;
      expect(life.count).toBe(10);
      for (const [q, got] of [[0.5, life.p50], [0.9, life.p90], [0.99, life.p99]] as const) expectWithin(got, nearestRank(truth, q), 0.01, `lifetime p${q * 100}`);
      // Each close as the server timed it (CLOCK_MONOTONIC around accept+close, tcptrace's clock):
      // the k-th connection to close made its state change within the k-th server bracket.
      while (printed.trim().split('\n').length < 11) await sleep(10);
      const brackets = printed.trim().split('\n').slice(1).map((l) => l.split(' ').map(Number));
      const closes = [...bySocket.values()].map((evs) => evs.find((e) => e.oldState === State.ESTABLISHED || e.oldState === State.CLOSE_WAIT)!.tsNs).sort((a, b) => a - b);
      closes.forEach((ts, k) => {
        expect(ts, `close ${k + 1} after its accept()`).toBeGreaterThanOrEqual(brackets[k][0]);
        expect(ts, `close ${k + 1} before its close() returned`).toBeLessThanOrEqual(brackets[k][1]);
      });
    } finally {
      local.close();
      server.kill();
    }
  }, patience(30_000));
});
