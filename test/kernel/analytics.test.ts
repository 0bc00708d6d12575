// --summary and --lifetimes as users run them: the counts equal the connections made.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { expect, it } from 'vitest';
import { closedPort, connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';
import { patience } from '../helpers/patience';

const bin = path.resolve(__dirname, '../../bin/tcptrace');
const N = 20;
const REFUSED = 3;

async function traceWhile(args: string[], work: () => Promise<void>): Promise<string> {
  const child = spawn(bin, args);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const end = Date.now() + patience(10_000);
  while (!err.includes('tracing')) {
    if (Date.now() > end) throw new Error(`tcptrace did not attach: ${err}`);
    await sleep(20);
  }
  await work();
  await sleep(300);
  child.kill('SIGINT');
  await new Promise((r) => child.on('exit', r));
  return out;
}

async function makeTraffic(port: number, refusedPort: number): Promise<void> {
  for (let i = 0; i < N; i++) await connectAndClose(port);
  for (let i = 0; i < REFUSED; i++) {
    await new Promise<void>((r) => net.connect(refusedPort, '127.0.0.1').on('error', () => r()));
  }
}

describeKernel('analytics', () => {
  it('--summary --json: handshakes, failures and lifetimes count what the test did', async () => {
    const srv = await listen();
    const refused = await closedPort();
    const out = await traceWhile(['--summary', '--json', '--top', '1000'], () => makeTraffic(srv.port, refused));
    await srv.close();
    const report = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(report.type).toBe('summary');
    const remote = report.handshake.byRemote.find((r: { key: string }) => r.key === `127.0.0.1:${srv.port}`);
    const local = report.handshake.byListenPort.find((r: { key: string }) => r.key === String(srv.port));
    expect(remote.handshake.count).toBe(N);
    expect(local.handshake.count).toBe(N);
    for (const h of [remote.handshake, local.handshake]) {
      expect(h.p50).toBeGreaterThan(0);
      expect(h.p50).toBeLessThanOrEqual(h.p90);
      expect(h.p90).toBeLessThanOrEqual(h.p99);
      expect(h.p99).toBeLessThanOrEqual(h.max);
      expect(h.max).toBeLessThan(1000);
    }
    const failed = report.failedConnects.byPeer.find((p: { peer: string }) => p.peer === `127.0.0.1:${refused}`);
    expect(failed).toEqual({ peer: `127.0.0.1:${refused}`, count: REFUSED, causes: { refused: REFUSED } });
    expect(report.counters.lost).toBe(0);
    expect(report.lifetime.count).toBeGreaterThanOrEqual(2 * N + REFUSED);
  });

  it('--summary text report is readable and has the sections', async () => {
    const srv = await listen();
    const refused = await closedPort();
    const out = await traceWhile(['--summary'], () => makeTraffic(srv.port, refused));
    await srv.close();
    expect(out).toMatch(/^tcptrace summary /);
    for (const section of ['Handshake latency (ms)', 'active  SYN_SENT→ESTABLISHED', 'passive SYN_RECV→ESTABLISHED',
      'Failed connects:', 'Connection lifetime (ms)', 'Time in state (ms)']) expect(out).toContain(section);
    expect(out).toMatch(new RegExp(`127\\.0\\.0\\.1:${refused} +${REFUSED} +refused ${REFUSED}`));
  });

  it('--lifetimes: one record per finished connection, both sides', async () => {
    const srv = await listen();
    const refused = await closedPort();
    const out = await traceWhile(['--lifetimes', '--json'], () => makeTraffic(srv.port, refused));
    await srv.close();
    // connections still open at exit follow, marked open (test/kernel/conn-totals checks those)
    const rows = out.trim().split('\n').map((l) => JSON.parse(l)).filter((r) => !r.open);
    const active = rows.filter((r) => r.dport === srv.port);
    const passive = rows.filter((r) => r.sport === srv.port);
    const failed = rows.filter((r) => r.dport === refused);
    expect(active).toHaveLength(N);
    expect(passive).toHaveLength(N);
    expect(failed).toHaveLength(REFUSED);
    for (const r of active) {
      expect(r).toMatchObject({ type: 'connection', side: 'active', pid: process.pid, established: true, cause: 'normal', time_wait: true });
      expect(r.handshake_ms).toBeGreaterThan(0);
      expect(r.lifetime_ms).toBeGreaterThanOrEqual(r.handshake_ms);
    }
    for (const r of passive) expect(r).toMatchObject({ side: 'passive', pid: process.pid, established: true, cause: 'normal', time_wait: false });
    for (const r of failed) expect(r).toMatchObject({ side: 'active', established: false, cause: 'refused', handshake_ms: null, error: 'ECONNREFUSED' });
  });
});
