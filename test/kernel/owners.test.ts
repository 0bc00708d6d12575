// The real owner of accepted sockets on the server shapes people run (test/fixtures/servers.py):
// pre-forked workers, fork-per-connection, a daemon whose listen() caller exits; the accept-queue
// wait; and --pid/--comm agreeing with the owner shown.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Capture, describeKernel, states } from '../helpers/kernel';
import { NetNamespace, type Peer } from '../helpers/process';
import { acceptOf, pidAlive, runClient, servedBy, serverSide, startServer, tracedCommand } from '../helpers/servers';
import { StatsEngine } from '../../src/derive/stats';
import { formatSummary } from '../../src/sinks/summary/report';
import { ConnectionTracker } from '../../src/derive/connections';
import { PromMetrics } from '../../src/sinks/metrics';
import { MetricsFeed } from '../../src/derive/metrics-feed';
import type { TcpEvent } from '../../src/decode/event';

const SERVER = ['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE'];
const N = 6;

describeKernel('owners of accepted sockets on real server shapes', () => {
  let cap: Capture;
  let ns: NetNamespace;
  const servers: Peer[] = [];
  beforeAll(() => {
    ns = new NetNamespace();
    cap = new Capture({ filter: { netns: ns.inode } });
  });
  afterAll(() => { cap.close(); for (const s of servers) s.stop(); ns.delete(); });

  /** Every connection's transitions, split at its accept record. */
  async function connections(port: number, clients: number[]) {
    return Promise.all(clients.map(async (cp) => {
      const evs = await serverSide(cap, port, cp);
      const accept = acceptOf(cap, port, cp);
      expect(accept, `accept record of client port ${cp}`).toBeDefined();
      return { cp, evs, accept: accept!, before: evs.filter((e) => e.tsNs < accept!.tsNs), after: evs.filter((e) => e.tsNs > accept!.tsNs) };
    }));
  }

  it('pre-forked workers: every transition after accept names the worker that served it', async () => {
    const server = startServer(ns, 'prefork', '2');
    servers.push(server);
    const { port, pid: parent, workers } = (await server.next('port')) as { port: number; pid: number; workers: number[] };
    const clients = await runClient(ns, port, N);
    const served = await servedBy(server, clients);
    for (const c of await connections(port, clients)) {
      expect(states(c.evs)).toEqual(SERVER);
      expect(c.accept.pid).toBe(served.get(c.cp));
      expect(c.after.map((e) => e.pid)).toEqual(c.after.map(() => served.get(c.cp)));
      expect(c.after.length).toBe(3);
      // Before accept: a live holder of the listener, the parent (listen() caller) as master,
      // with the other holders known so far (all of them once a /proc scan saw the listener).
      for (const e of c.before) {
        expect(e.ownerSource).toBe('listener');
        expect(e.pid).toBe(parent);
        for (const h of e.holders ?? []) expect([parent, ...workers]).toContain(h);
      }
    }
  });

  it('fork per connection: the child that served the connection owns it from its first use', async () => {
    const server = startServer(ns, 'forkper');
    servers.push(server);
    const { port, pid: parent } = (await server.next('port')) as { port: number; pid: number };
    const clients = await runClient(ns, port, N);
    const served = await servedBy(server, clients);
    for (const c of await connections(port, clients)) {
      expect(states(c.evs)).toEqual(SERVER);
      expect(c.accept.pid).toBe(parent);
      const child = served.get(c.cp)!;
      expect(child).not.toBe(parent);
      expect(c.after.map((e) => e.pid)).toEqual(c.after.map(() => child));
      // softirq's CLOSE_WAIT names the child from its first read ('use'), the rest are its close
      expect(c.after[0].ownerSource).toBe('use');
      for (const e of c.before) expect(e.pid).toBe(parent);
    }
  });

  it('a daemon whose listen() caller exited: no event names the dead pid', async () => {
    const server = startServer(ns, 'daemon');
    const { listener_pid: dead } = (await server.next('listener_pid')) as { listener_pid: number };
    const { port, pid: daemon } = (await server.next('pid')) as { port: number; pid: number };
    try {
      const clients = await runClient(ns, port, N);
      await servedBy(server, clients);
      expect(pidAlive(dead)).toBe(false);
      for (const c of await connections(port, clients)) {
        expect(states(c.evs)).toEqual(SERVER);
        expect(c.evs.map((e) => e.pid)).toEqual(c.evs.map(() => daemon));
      }
      // only its own listen() names it, made while it was alive
      expect(states(cap.onPort(port).filter((e) => e.pid === dead))).toEqual(['CLOSE->LISTEN']);
    } finally {
      try { process.kill(daemon); } catch { /* gone */ }
    }
  });

  it('accept-queue wait: a server that sleeps 300 ms before accept()', async () => {
    const server = startServer(ns, 'sleepaccept', '300');
    servers.push(server);
    const { port } = (await server.next('port')) as { port: number };
    const clients = await runClient(ns, port, 3);
    await servedBy(server, clients);
    const stats = new StatsEngine();
    const metrics = new PromMetrics(() => cap.tracer.counters(), { version: '0', kernel: '', attach: '', delivery: '' }, { ports: 'all', processMetrics: false });
    const feed = new MetricsFeed([metrics], 'all');
    const lifetimes = new ConnectionTracker();
    for (const c of await connections(port, clients)) {
      const waitMs = c.accept.acceptWaitUs / 1000;
      expect(waitMs).toBeGreaterThanOrEqual(300);
      expect(waitMs).toBeLessThan(340);
      // the later transitions carry it too (JSON accept_wait_ms)
      expect(c.after.map((e) => e.acceptWaitUs)).toEqual(c.after.map(() => c.accept.acceptWaitUs));
      stats.observeAccepts([c.accept]);
      feed.observeAccepts([c.accept]);
      // --lifetimes: the finished connection carries it
      const [done] = lifetimes.observe(c.evs);
      expect(done.acceptWaitMs).toBe(waitMs);
    }
    const row = stats.snapshot().acceptWait.byListenPort.find((r) => r.key === String(port))!;
    expect(row.wait.count).toBe(3);
    expect(row.wait.p50).toBeGreaterThanOrEqual(300);
    expect(row.wait.max).toBeLessThan(340);
    expect(formatSummary(stats.snapshot(), cap.tracer.counters())).toMatch(new RegExp(`port ${port} +3 +3\\d\\d(\\.\\d+)? `)); // an estimate may be a whole ms
    const text = await metrics.render();
    expect(text).toMatch(/^tcptrace_accept_wait_seconds_count 3$/m);
    expect(text).toMatch(new RegExp(`^tcptrace_listen_port_accept_wait_seconds_count\\{port="${port}"\\} 3$`, 'm'));
  });
});

describeKernel('the command: accept-queue wait in --summary and --lifetimes', () => {
  let ns: NetNamespace;
  let server: Peer;
  let port: number;
  beforeAll(async () => {
    ns = new NetNamespace();
    server = startServer(ns, 'sleepaccept', '300');
    ({ port } = (await server.next('port')) as { port: number });
  });
  afterAll(() => { server.stop(); ns.delete(); });

  /** tcptrace ARGS --json -q in the test's namespace while two clients connect; its JSON lines. */
  function traced(args: string[]): Promise<Record<string, any>[]> {
    return tracedCommand(ns, [...args, '--json', '-q'], async () => { await servedBy(server, await runClient(ns, port, 2)); });
  }

  it('--summary --json: the wait per listening port (server sleeps 300 ms before accept)', async () => {
    const summary = (await traced(['--summary'])).find((r) => r.type === 'summary')!;
    const wait = summary.acceptWait.byListenPort.find((r: { key: string }) => r.key === String(port)).wait;
    expect(wait.count).toBe(2);
    expect(wait.p50).toBeGreaterThanOrEqual(300);
    expect(wait.max).toBeLessThan(340);
  });

  it('--lifetimes --json: the wait of each passive connection', async () => {
    const passive = (await traced(['--lifetimes'])).filter((r) => r.type === 'connection' && r.sport === port);
    expect(passive.length).toBe(2);
    for (const c of passive) expect(c.accept_wait_ms).toBeGreaterThanOrEqual(300);
  });
});

describeKernel('--pid and --comm agree with the owner shown (pre-forked server)', () => {
  let server: Peer;
  let ns: NetNamespace;
  let port: number;
  let workers: number[];
  beforeAll(async () => {
    ns = new NetNamespace();
    server = startServer(ns, 'prefork', '2');
    ({ port, workers } = (await server.next('port')) as { port: number; workers: number[] });
  });
  afterAll(() => { server.stop(); ns.delete(); });

  async function filtered(filter: { pid?: number; comm?: string }, worker: number) {
    const cap = new Capture({ filter: { ...filter, netns: ns.inode } });
    try {
      const clients = await runClient(ns, port, N);
      const served = await servedBy(server, clients);
      const mine = clients.filter((cp) => served.get(cp) === worker);
      // the connections of the other worker must not show up at all: wait for ours, then settle
      for (const cp of mine) await serverSide(cap, port, cp);
      await new Promise((r) => setTimeout(r, 300));
      const shown = cap.events.filter((e) => e.sport === port && clients.includes(e.dport));
      const byClient = new Map<number, TcpEvent[]>();
      for (const e of shown) byClient.set(e.dport, [...(byClient.get(e.dport) ?? []), e]);
      expect([...byClient.keys()].sort()).toEqual([...mine].sort());
      for (const cp of mine) expect(states(byClient.get(cp)!.sort((a, b) => a.tsNs - b.tsNs))).toEqual(SERVER);
      // nothing of the client, nothing of the other worker
      expect(cap.events.filter((e) => e.dport === port).length).toBe(0);
      return mine.length;
    } finally {
      cap.close();
    }
  }

  it('-p WORKER: all of that worker\'s connections (with their pre-accept transitions), nothing else', async () => {
    await filtered({ pid: workers[0] }, workers[0]);
  });

  it('--comm WORKER: the same by name', async () => {
    await filtered({ comm: 'pfw-2' }, workers[1]);
  });
});
