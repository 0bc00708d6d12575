// The command as users run it: a subprocess, real output, real signals.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { afterEach, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';
import { patience } from '../helpers/patience';
import { PING_INTERVAL_MS } from '../../src/sinks/ws/liveness';
import { bin, startCli, stopAll } from '../helpers/cli';

async function freePort(): Promise<number> {
  const probe = await listen();
  await probe.close();
  return probe.port;
}

async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + patience(ms);
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Up to `max` connections while a WebSocket client does not read. A client silent for two pings
 * is gone, not behind (liveness.ts, docs/STREAM.md), so the silence ends within one ping
 * interval: 3 000 connections take 0.6 s on the host but 30 s under QEMU (5.10, TCG), where
 * the ping cut the client off mid-test. Returns how many were made.
 */
async function connectWhileSilent(port: number, max: number): Promise<number> {
  const until = Date.now() + PING_INTERVAL_MS - 3000; // the rest: the test's pause, SIGINT, resume
  let made = 0;
  while (made < max && Date.now() < until) {
    await connectAndClose(port);
    made++;
  }
  return made;
}

afterEach(() => stopAll('SIGKILL'));

describeKernel('tcptrace command', () => {
  it('prints the header, a line per transition of a known connection, and a summary on SIGINT', async () => {
    const r = startCli(['-T']);
    await until(() => r.stderr().includes('tracing TCP state changes'), 'attach');
    expect(r.stdout().split('\n')[0]).toMatch(/^TIME {5}SKADDR {11}PID {5}COMM {7}LADDR {11}LPORT RADDR {11}RPORT OLDSTATE {4}-> NEWSTATE {4}MS$/);
    const srv = await listen();
    await connectAndClose(srv.port);
    const mine = () => r.stdout().split('\n').filter((l) => l.includes(` ${srv.port} `));
    await until(() => mine().some((l) => /LAST_ACK +-> CLOSE/.test(l)), 'the connection to close');
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);
    const lines = mine();
    const connected = new RegExp(`^\\d\\d:\\d\\d:\\d\\d [0-9a-f]{16} ${process.pid} +.{10} 127\\.0\\.0\\.1 +\\d+ +127\\.0\\.0\\.1 +${srv.port} +SYN_SENT +-> ESTABLISHED +\\d+\\.\\d{3}$`);
    expect(lines.filter((l) => connected.test(l))).toHaveLength(1);
    expect(lines.some((l) => /FIN_WAIT2 +-> CLOSE +\d+\.\d{3} normal,time-wait$/.test(l))).toBe(true);
    // Whole-machine tracing: a busy host may overflow the ring; the line must say so exactly.
    expect(r.stderr()).toMatch(/tcptrace: \d+ events seen, \d+ delivered, \d+ lost( \(\+\d+ not seen: [^)]*\))?\n$/);
    await srv.close();
  });

  it('NDJSON lines parse and carry the schema fields', async () => {
    const srv = await listen();
    const r = startCli(['-j', '-L', String(srv.port)]);
    await until(() => r.stderr().includes('tracing'), 'attach');
    await connectAndClose(srv.port);
    await until(() => r.stdout().includes('"LAST_ACK","newstate":"CLOSE"'), 'close');
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    const lines = r.stdout().trim().split('\n').map((l) => JSON.parse(l));
    const events = lines.filter((l) => l.type === undefined);
    // a capture (docs/SCHEMA.md, "Captures"): the tracer's facts first, the accept, the end last
    expect(lines[0]).toMatchObject({ type: 'capture', v: 2, attach: expect.any(String), filter: { localPorts: [srv.port] } });
    expect(lines.at(-1)).toMatchObject({ type: 'end', counters: { delivered: 5, lost: 0 } });
    expect(events.map((e) => `${e.oldstate}->${e.newstate}`)).toEqual([
      'LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE',
    ]);
    for (const e of events) expect(e).toMatchObject({ v: 2, sport: srv.port, family: 4, saddr: '127.0.0.1' });
    await srv.close();
  });

  it('a reader that falls behind still gets every line intact (queued output is never reused)', async () => {
    const srv = await listen();
    const r = startCli(['-j', '-L', String(srv.port)]);
    await until(() => r.stderr().includes('tracing'), 'attach');
    r.child.stdout!.pause(); // the pipe fills and tcptrace's stream has to queue what it writes
    const connections = 300;
    for (let i = 0; i < connections; i++) await connectAndClose(srv.port);
    await sleep(300);
    r.child.stdout!.resume();
    const closes = () => r.stdout().split('"LAST_ACK","newstate":"CLOSE"').length - 1;
    await until(() => closes() === connections, 'every close');
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    const events = r.stdout().trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === undefined);
    expect(events).toHaveLength(connections * 5);
    for (const e of events) expect(e).toMatchObject({ v: 2, sport: srv.port, family: 4, saddr: '127.0.0.1' });
    // A reused buffer could put one batch's lines in place of another's with the count intact.
    expect(new Set(events.map((e) => `${e.skaddr} ${e.ts_ns} ${e.newstate}`)).size).toBe(events.length);
    await srv.close();
  });

  it('a WebSocket client that fell behind still gets every delivered event (or its sample), or a loss notice, before tcptrace exits', async () => {
    const srv = await listen();
    const probe = await listen();
    const port = probe.port; // a free port for the stream
    await probe.close();
    const r = startCli(['-q', '-L', String(srv.port), '--listen', `127.0.0.1:${port}`]);
    await until(() => r.stderr().includes('dashboard at'), 'the stream');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    let hello = false;
    // What it got and what it lost, each counted as the events they stand for (`of`: the
    // server may have sampled it, docs/STREAM.md).
    let events = 0;
    let missed = 0;
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'hello') hello = true;
      if (m.type === 'events') events += m.of;
      if (m.type === 'lost' && m.source === 'client') missed += m.of;
    });
    const closed = new Promise((resolve) => ws.on('close', resolve));
    await until(() => hello, 'hello');
    // Stop reading: the socket buffers fill, then the server queues (up to its cap) and counts
    // the rest as missed. What it still holds when told to stop must reach us before it exits.
    const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const connections = await connectWhileSilent(srv.port, 3000);
    await sleep(300);
    r.child.kill('SIGINT');
    await sleep(300);
    socket.resume();
    await closed;
    expect(await r.exited).toBe(0);
    const delivered = Number(/(\d+) delivered/.exec(r.stderr())![1]);
    expect(delivered).toBe(connections * 5);
    expect(events + missed).toBe(delivered);
    await srv.close();
  });

  it('exits quietly when the reader of a pipe goes away (| head)', async () => {
    const r = startCli([], `"${bin}" | head -3`);
    await until(() => r.stderr().includes('tracing'), 'attach');
    const srv = await listen();
    let exited: number | null | undefined;
    void r.exited.then((code) => (exited = code));
    // Keep making transitions until tcptrace notices its reader is gone (at most 10 s).
    for (let i = 0; i < 100 && exited === undefined; i++) {
      await connectAndClose(srv.port);
      await sleep(100);
    }
    expect(await Promise.race([r.exited, sleep(5_000).then(() => 'hung')])).toBe(0);
    expect(r.stdout().split('\n').filter(Boolean)).toHaveLength(3);
    expect(r.stderr()).not.toMatch(/Error|at .*\.js/);
    await srv.close();
  });

  it('shuts down within 2 s when a WebSocket client stopped reading for good', async () => {
    const srv = await listen();
    const port = await freePort();
    const r = startCli(['-q', '-L', String(srv.port), '--listen', `127.0.0.1:${port}`]);
    await until(() => r.stderr().includes('dashboard at'), 'the stream');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.on('error', () => {});
    await new Promise((resolve) => ws.once('message', resolve));
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await connectWhileSilent(srv.port, 2000);
    await sleep(300);
    const asked = Date.now();
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);
    // 2 s is the promise, on the machine's own clock: an emulated guest runs the shutdown's
    // work several times slower (5.10 under QEMU with two more guests took 4.6-5.5 s), so
    // there the 2 s scale too; the 400 ms are for measuring from another process.
    expect(Date.now() - asked).toBeLessThan(patience(2_000) + 400);
    ws.terminate();
    await srv.close();
  });

  it('a failing stderr does not stop the tracing while stdout works', async () => {
    const srv = await listen();
    // A collector that is not there makes tcptrace write a line to stderr after a moment.
    const r = startCli(['-j', '-L', String(srv.port), '--otlp', `http://127.0.0.1:${await freePort()}`, '--otlp-interval', '0.3']);
    await until(() => r.stderr().includes('tracing'), 'attach');
    r.child.stderr!.destroy(); // the reader of stderr is gone: writes to it fail with EPIPE
    await sleep(patience(1500)); // the failed export has been reported (into the closed pipe)
    await connectAndClose(srv.port);
    await until(() => r.stdout().includes('"LAST_ACK","newstate":"CLOSE"'), 'the first close');
    await connectAndClose(srv.port);
    await until(() => r.stdout().split('"LAST_ACK","newstate":"CLOSE"').length === 3, 'the second close');
    r.child.kill('SIGINT'); // the exit summary goes to the dead stderr: still a clean exit
    expect(await r.exited).toBe(0);
    await srv.close();
  });

  it('a token the operator gave never reaches stderr (often a log others read)', async () => {
    const port = await freePort();
    const r = startCli([], `TCPTRACE_TOKEN=given-secret-1 exec ${bin} -q --listen 127.0.0.1:${port}`);
    await until(() => r.stderr().includes('dashboard at') && r.stderr().includes('tracing TCP'), 'the server');
    expect(r.stderr()).toContain(`dashboard at http://127.0.0.1:${port}/?token=… (your token; WebSocket at /ws)`);
    expect(r.stderr()).not.toContain('given-secret-1');
    expect((await fetch(`http://127.0.0.1:${port}/?token=given-secret-1`)).status).toBe(200);
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);
  });

  it('--metrics says where it serves; on a non-loopback --listen, /metrics needs the token like every path', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const r = startCli(['-q', '--listen', `0.0.0.0:${port}`, '--metrics', `127.0.0.1:${metricsPort}`]);
    await until(() => r.stderr().includes('generated access token') && r.stderr().includes('metrics at'), 'the servers');
    expect(r.stderr()).toContain(`metrics at http://127.0.0.1:${metricsPort}/metrics\n`);
    const token = /generated access token for a non-loopback address: (\S+)/.exec(r.stderr())![1];
    const get = (p: number, path: string, headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${p}${path}`, { headers });
    for (const path of ['/metrics', '/', '/app.js', '/nope']) {
      const res = await get(port, path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const scraped = await get(port, '/metrics', { authorization: `Bearer ${token}` });
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await scraped.text()).toContain('tcptrace_');
    // --metrics on its own (loopback) port keeps Prometheus conventions: no token.
    expect((await get(metricsPort, '/metrics')).status).toBe(200);
    // fetch() may not set Host; a DNS-rebinding page's request carries its own name there.
    const rebound = await new Promise<number>((resolve, reject) => http.get(
      { host: '127.0.0.1', port: metricsPort, path: '/metrics', headers: { host: 'rebound.example' } },
      (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject));
    expect(rebound).toBe(403);
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);

    const open = startCli(['-q', '--listen', `0.0.0.0:${port}`, '--metrics-without-token']);
    await until(() => open.stderr().includes('dashboard at'), 'the server');
    expect((await get(port, '/metrics')).status).toBe(200);
    expect((await get(port, '/')).status).toBe(401);
    open.child.kill('SIGINT');
    expect(await open.exited).toBe(0);
  });

  it('usage errors: one line, exit 2', () => {
    const env = { ...process.env, TCPTRACE_TOKEN: 'x' };
    for (const args of [['--nope'], ['-L', 'x'], ['--state', 'WAT'], ['--state', ''], ['-L', '80,,81'], ['-L', '80,'], ['--listen', '0', '--token', 'a b'],
      ['--journal-socket', '/tmp/x'], ['--listen', '0']]) {
      const r = spawnSync(bin, args, { encoding: 'utf8', env });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^tcptrace: /);
    }
  });

  it('without privileges: one actionable line, no stack trace', () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', bin], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    const [major, minor] = os.release().split('.').map(Number);
    if (major > 5 || (major === 5 && minor >= 11)) {
      expect(r.stderr.trim()).toBe('tcptrace: permission denied loading BPF: run as root (sudo) or grant CAP_BPF and CAP_PERFMON');
    } else {
      // BPF memory is charged to RLIMIT_MEMLOCK there: the two capabilities alone load nothing
      expect(r.stderr.trim()).toMatch(new RegExp('^tcptrace: permission denied loading BPF: run as root \\(sudo\\) or grant CAP_BPF, CAP_PERFMON ' +
        `and CAP_SYS_RESOURCE; Linux ${major}\\.${minor} charges BPF memory to RLIMIT_MEMLOCK \\(\\d+ [KM]iB here\\), [^\n]+$`));
    }
  });
});
