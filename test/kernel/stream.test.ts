// The WebSocket stream against the real tracer: real `ws` clients on loopback, connections the
// test makes on its own ports, and the server's refusals and error replies.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import { StreamSink } from '../../src/sinks/ws';
import { StatsEngine } from '../../src/derive/stats';
import { Pipeline } from '../../src/pipeline';
import { statusReport } from '../../src/status';
import { SCHEMA_VERSION, type JsonEvent } from '../../src/format/schema';
import { Tracer } from '../../src/tracer';
import { connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';
import { Client } from '../helpers/ws-client';
import { patience } from '../helpers/patience';

/** Resolves with the HTTP status of a refused upgrade (or 101). */
function upgradeStatus(url: string, options: ClientOptions = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); });
    ws.on('open', () => { resolve(101); ws.terminate(); });
    ws.on('error', () => resolve(-1));
  });
}

const touches = (port: number) => (e: JsonEvent) => e.sport === port || e.dport === port;
const myComm = fs.readFileSync('/proc/self/comm', 'utf8').trim();

describeKernel('WebSocket stream (--listen)', () => {
  let tracer: Tracer;
  let open: StreamSink; // loopback, no token
  let guarded: StreamSink; // loopback with a token and a small client limit
  let url: string;
  let guardedUrl: string;
  const TOKEN = 'test-token-0123456789';
  const CAP = 64 * 1024;

  beforeAll(async () => {
    // A large ring: whatever else the machine runs, the test's own events must arrive.
    tracer = Tracer.open({ ringBytes: 32 * 1024 * 1024 });
    const stats = new StatsEngine();
    open = await StreamSink.start(statusReport(tracer), stats, {
      // maxSample 1: a stopped reader here is dropped and counted, not sampled (that is
      // stream-sampling.test.ts). Its reader stays silent until its kernel buffers and the cap
      // fill: seconds here, over a minute under QEMU, where the liveness ping (a client silent
      // for two pings is gone, liveness.ts) cut it off first; pings are not what this tests.
      listen: { host: '127.0.0.1', port: 0 }, statsIntervalMs: 200, bufferCap: CAP, chunkEvents: 64, maxSample: 1, pingIntervalMs: 3_600_000,
      options: { test: true },
    });
    guarded = await StreamSink.start(statusReport(tracer), stats, {
      listen: { host: '127.0.0.2', port: 0 }, token: TOKEN, maxClients: 2, statsIntervalMs: 200,
    });
    new Pipeline(tracer, [open, guarded], { stats });
    url = `ws://127.0.0.1:${open.address.port}/ws`;
    guardedUrl = `ws://127.0.0.2:${guarded.address.port}/ws`;
  });

  afterAll(async () => {
    await open?.close();
    await guarded?.close();
    tracer?.close();
  });

  it('greets with hello: schema version, host, kernel, attach mode, options, limits', async () => {
    const c = await Client.open(url);
    const hello = c.messages[0];
    expect(hello).toMatchObject({
      type: 'hello', protocol: 1, schema: SCHEMA_VERSION, host: os.hostname(), kernel: os.release(),
      attach: tracer.attach, delivery: tracer.delivery, options: { test: true },
      limits: { buffer_cap: CAP, max_payload: 16 * 1024, stats_interval_ms: 200 },
    });
    expect(['tp_btf', 'tracepoint']).toContain(hello.attach);
    c.close();
  });

  it('streams the events of a connection the test makes, in the --json schema', async () => {
    const server = await listen();
    const c = await Client.open(`${url}?ports=${server.port}`);
    expect(c.messages[0].filter).toEqual({ ports: [server.port] });
    await connectAndClose(server.port);
    // Both sockets to their CLOSE (5 events each), in whatever order the two interleave.
    const closed = (e: JsonEvent) => touches(server.port)(e) && e.newstate === 'CLOSE';
    await c.waitForEvents(closed, 2);
    const evs = c.events();
    expect(evs.every(touches(server.port))).toBe(true);
    await server.close();
    const connect = evs.find((e) => e.dport === server.port && e.newstate === 'SYN_SENT');
    expect(connect).toBeDefined();
    expect(connect).toMatchObject({ v: SCHEMA_VERSION, family: 4, daddr: '127.0.0.1', oldstate: 'CLOSE', pid: process.pid, comm: myComm, owner: 'kernel' });
    expect(Object.keys(connect!)).toEqual(expect.arrayContaining(['time', 'ts_ns', 'skaddr', 'handshake_ms', 'cause', 'time_wait']));
    const established = evs.find((e) => e.dport === server.port && e.newstate === 'ESTABLISHED');
    expect(established?.handshake_ms).toBeGreaterThan(0);
    expect(evs.some((e) => e.sport === server.port && e.newstate === 'CLOSE')).toBe(true);
    c.close();
  });

  it('sends periodic stats: rates, per-state counts, handshake histogram, lost counters', async () => {
    const server = await listen();
    const c = await Client.open(`${url}?ports=${server.port}`);
    const from = c.messages.length;
    await connectAndClose(server.port);
    const stats = await c.waitFor((m) => m.type === 'stats' && m.handshake.active.count > 0 && m.events > 0, 5000, from);
    await server.close();
    expect(stats).toMatchObject({ kernel: { lost: expect.any(Number), seen: expect.any(Number) }, client: { missed: 0, filter: { ports: [server.port] } } });
    expect(from).toBeGreaterThan(0);
    expect(await upgradeStatus(`${url}?ports=http`)).toBe(400);
    expect(await upgradeStatus(`${url}?states=NOPE`)).toBe(400);
    expect(await upgradeStatus(`${url}?colour=red`)).toBe(400);
    expect(await upgradeStatus(`${url}?ports=1&ports=2`)).toBe(400);
    expect(typeof stats.rate).toBe('number');
    expect(stats.into_state.ESTABLISHED).toBeGreaterThan(0);
    expect(typeof stats.current).toBe('object');
    expect(stats.handshake.active.buckets.length).toBeGreaterThan(0);
    expect(stats.failed_connects).toMatchObject({ total: expect.any(Number), by_cause: expect.any(Object) });
    c.close();
  });

  it('applies each client\'s subscribe filter to that client only', async () => {
    // Each starts quiet (a port nobody uses, given in the URL), then subscribes by message.
    const a = await Client.open(`${url}?ports=1`);
    const b = await Client.open(`${url}?ports=1`);
    const all = await Client.open(`${url}?ports=1`);
    const sa = await listen();
    const sb = await listen();
    const fromA = await a.subscribe({ ports: [sa.port] });
    const fromB = await b.subscribe({ ports: [sb.port], states: ['established'], family: 4 });
    const fromAll = await all.subscribe({ ports: [sa.port, sb.port] });
    await connectAndClose(sa.port);
    await connectAndClose(sb.port);
    await all.waitForEvents(touches(sb.port), 6, 5000, fromAll);
    await a.waitForEvents(touches(sa.port), 6, 5000, fromA);
    await b.waitForEvents(touches(sb.port), 2, 5000, fromB);
    await sleep(300);
    expect(a.events(fromA).every(touches(sa.port))).toBe(true);
    expect(b.events(fromB).every((e) => touches(sb.port)(e) && e.newstate === 'ESTABLISHED')).toBe(true);
    expect(all.events(fromAll).some(touches(sa.port)) && all.events(fromAll).some(touches(sb.port))).toBe(true);
    // The server echoes the normalized filter, and a bad one is refused without changing it.
    expect(b.messages.find((m) => m.type === 'subscribed')?.filter).toEqual({ ports: [sb.port], states: ['ESTABLISHED'], family: 4 });
    await expect(a.subscribe({ ports: ['http'] })).rejects.toThrow(/ports/);
    await sa.close();
    await sb.close();
    for (const c of [a, b, all]) c.close();
  });

  it('drops events for a client that stopped reading, tells it how many, and keeps the others flowing', async () => {
    const server = await listen();
    const slow = await Client.open(url);
    const fast = await Client.open(`${url}?ports=${server.port}`);
    const fromFast = 0;
    const socketOf = (c: Client) => (c.ws as unknown as { _socket: net.Socket })._socket;
    const slowPeer = `127.0.0.1:${socketOf(slow).localPort}`;
    const fastPeer = `127.0.0.1:${socketOf(fast).localPort}`;
    const mine = () => open.clientStats().find((s) => s.peer === slowPeer && s.missedTotal > 0);
    (slow.ws as unknown as { _socket: net.Socket })._socket.pause();
    // Keep making connections until the slow client's send buffer passes the cap.
    let made = 0;
    const deadline = Date.now() + 60_000;
    while (!mine() && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 100 }, () => connectAndClose(server.port)));
      made += 100;
    }
    const stalled = mine();
    expect(stalled, `no client dropped anything after ${made} connections`).toBeDefined();
    // Memory stays bounded: the buffer never holds much more than the cap plus one frame.
    for (let i = 0; i < 3; i++) {
      await Promise.all(Array.from({ length: 100 }, () => connectAndClose(server.port)));
      made += 100;
    }
    // those connections' events reach the stream a drain and a batch later than their close
    const grown = Date.now() + patience(5_000);
    while (mine()!.missedTotal <= stalled!.missedTotal && Date.now() < grown) await sleep(50);
    const now = mine()!;
    expect(open.clientStats().find((s) => s.peer === fastPeer)?.missedTotal).toBe(0);
    expect(now.buffered).toBeLessThan(CAP + 256 * 1024);
    expect(now.missedTotal).toBeGreaterThan(stalled!.missedTotal);
    // The fast client saw every connection's SYN_SENT.
    await fast.waitForEvents((e) => e.dport === server.port && e.newstate === 'SYN_SENT', made, 10_000, fromFast);
    // Once the slow client reads again it is told what it missed, then gets events again.
    (slow.ws as unknown as { _socket: net.Socket })._socket.resume();
    const lost = await slow.waitFor((m) => m.type === 'lost' && m.source === 'client', 10_000);
    expect(lost.count).toBeGreaterThan(0);
    expect(lost.total).toBeGreaterThanOrEqual(lost.count);
    const after = slow.messages.indexOf(lost);
    const again = await listen();
    await connectAndClose(again.port);
    await slow.waitForEvents(touches(again.port), 1, 10_000, after);
    await server.close();
    await again.close();
    slow.close();
    fast.close();
  }, patience(120_000));

  it('refuses a missing or wrong token and admits the right one (query or Bearer header)', async () => {
    expect(await upgradeStatus(guardedUrl)).toBe(401);
    expect(await upgradeStatus(`${guardedUrl}?token=wrong-token-000000000`)).toBe(401);
    expect(await upgradeStatus(`${guardedUrl}?token=${TOKEN}`)).toBe(101);
    expect(await upgradeStatus(guardedUrl, { headers: { authorization: `Bearer ${TOKEN}` } })).toBe(101);
  });

  it('refuses foreign browser origins and DNS-rebinding hosts; over the limit, the quietest client makes room', async () => {
    const port = open.address.port;
    expect(await upgradeStatus(url, { origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(url, { origin: 'null' })).toBe(403);
    expect(await upgradeStatus(url, { origin: `http://rebind.example:${port}`, headers: { host: `rebind.example:${port}` } })).toBe(403);
    expect(await upgradeStatus(url, { origin: `http://127.0.0.1:${port}` })).toBe(101);
    const one = await Client.open(`${guardedUrl}?token=${TOKEN}`);
    const two = await Client.open(`${guardedUrl}?token=${TOKEN}`);
    await two.subscribe({}); // two has spoken since; one never did
    const evicted = new Promise<number>((r) => one.ws.on('close', (code) => r(code)));
    const three = await Client.open(`${guardedUrl}?token=${TOKEN}`); // never refused for want of a slot
    expect(await evicted).toBe(1013);
    expect(two.ws.readyState).toBe(WebSocket.OPEN);
    two.close();
    three.close();
  });

  it('answers junk frames with an error message and keeps serving', async () => {
    const c = await Client.open(`${url}?ports=1`); // keep other traffic on this machine out of the way
    const junk: (string | Buffer)[] = ['not json', '[]', '42', 'null', '{"type":"nope"}', '{"type":7}',
      '{"type":"subscribe","filter":{"ports":[70000]}}', '{"type":"subscribe","filter":{"states":["BOGUS"]}}',
      '{"type":"subscribe","filter":{"evil":1}}', '{"type":"subscribe","filter":"x"}', '{"__proto__":{"type":"subscribe"}}',
      Buffer.from([0, 1, 2, 3])];
    const from = c.messages.length;
    for (const j of junk) c.ws.send(j);
    c.ws.send(JSON.stringify({ type: 'ping', id: 'after-junk' }));
    await c.waitFor((m) => m.type === 'pong' && m.id === 'after-junk', 5000, from);
    const errors = c.messages.slice(from).filter((m) => m.type === 'error');
    expect(errors).toHaveLength(junk.length);
    for (const e of errors) expect(typeof e.message).toBe('string');

    // A frame over maxPayload closes that connection (1009) and nothing else.
    const big = await Client.open(url);
    const code = await new Promise<number>((r) => { big.ws.on('close', (n) => r(n)); big.ws.send('x'.repeat(64 * 1024)); });
    expect(code).toBe(1009);

    // Raw garbage after the upgrade (an unmasked frame, then noise) only ends that socket.
    await new Promise<void>((resolve) => {
      const s = net.connect(open.address.port, '127.0.0.1', () => {
        s.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
        setTimeout(() => s.write(Buffer.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0xff, 0xff, 0xff])), 100);
      });
      s.on('error', () => {});
      s.on('close', () => resolve());
      s.resume();
    });
    // A non-websocket request to /ws, and a bad HTTP request line.
    expect((await fetch(url.replace('ws:', 'http:'))).status).toBe(426);
    expect(await upgradeStatus(url.replace('/ws', '/nope'))).toBe(404);
    await new Promise<void>((resolve) => {
      const s = net.connect(open.address.port, '127.0.0.1', () => s.write('\x00\x01garbage\r\n\r\n'));
      s.on('error', () => {});
      s.on('close', () => resolve());
      s.resume();
    });

    // Still serving.
    c.ws.send(JSON.stringify({ type: 'ping', id: 'still-alive' }));
    await c.waitFor((m) => m.type === 'pong' && m.id === 'still-alive');
    const d = await Client.open(url);
    expect(d.messages[0].type).toBe('hello');
    c.close();
    d.close();
  });

  it('serves the dashboard with a strict Content-Security-Policy, and uPlot from node_modules', async () => {
    const base = `http://127.0.0.1:${open.address.port}`;
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
    expect(await page.text()).toContain('app.js');
    for (const p of ['/app.js', '/style.css', '/vendor/uPlot.iife.min.js', '/vendor/uPlot.min.css']) {
      const r = await fetch(base + p);
      expect(r.status, p).toBe(200);
    }
    expect((await fetch(`${base}/../package.json`)).status).toBe(404);
    expect((await fetch(`${base}/vendor/../../package.json`)).status).toBe(404);
    expect((await fetch(`${base}/web/app.js`)).status).toBe(404);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
  });
});

describeKernel('tcptrace --listen (the command)', () => {
  it('streams to a WebSocket client while NDJSON goes to the terminal, with the same event objects', async () => {
    const bin = path.resolve(__dirname, '../../bin/tcptrace');
    // Only the accepted side of the test's own port, filtered in the kernel.
    const server = await listen();
    const child = spawn(bin, ['-j', '-L', String(server.port), '--listen', '127.0.0.1:0']);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    try {
      const deadline = Date.now() + patience(10_000);
      let m: RegExpExecArray | null = null;
      while (!(m = /dashboard at (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(err)) || !err.includes('tracing TCP')) {
        if (Date.now() > deadline) throw new Error(`no dashboard line on stderr: ${err}`);
        await sleep(20);
      }
      const page = await fetch(m![1]);
      expect(page.status).toBe(200);
      const c = await Client.open(`ws://127.0.0.1:${m![2]}/ws`);
      expect(c.messages[0].options.filter).toEqual({ localPorts: [server.port] });
      await connectAndClose(server.port);
      const streamed = await c.waitForEvents(touches(server.port), 3);
      expect(streamed.every((e) => e.sport === server.port)).toBe(true);
      const deadline2 = Date.now() + 5000;
      const printed = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as JsonEvent).filter(touches(server.port));
      while (printed().length < streamed.length && Date.now() < deadline2) await sleep(20);
      for (const e of streamed) {
        expect(printed()).toContainEqual(e);
      }
      c.close();
      await server.close();
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.on('exit', r));
    }
    expect(err).toMatch(/events seen/);
  });
});
