// Delivery that rides out stalls (issue 12): the drain thread keeps reading the ring while the
// event loop is blocked, the ring holds a burst while the whole tracer is stopped, and when the
// limits are too small the loss is counted exactly.
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { expect, it } from 'vitest';
import { Capture, describeKernel, sleep } from '../helpers/kernel';
import { State } from '../../src/decode/states';
import { patience } from '../helpers/patience';

const bin = path.resolve(__dirname, '../../bin/tcptrace');

/** A port nobody listens on now (the burst's server takes it next). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Another process serves on `port` and makes n loopback connections to it (100 at a time, each
 * closed at once) and exits; this process is blocked meanwhile. The tracers below filter on
 * this port in the kernel, so what the rest of the machine does (other tests, benchmarks)
 * never reaches their buffers: each test's traffic is exactly its own.
 */
function burst(port: number, n: number): void {
  const script = `const net=require('net');const s=net.createServer(c=>{c.on('error',()=>{});c.destroy()});` +
    `s.listen(${port},'127.0.0.1',()=>{let started=0,done=0;` +
    `const one=()=>{started++;const c=net.connect(${port},'127.0.0.1',()=>c.destroy());c.on('error',()=>{});` +
    `c.on('close',()=>{if(++done===${n})process.exit(0);if(started<${n})one()})};` +
    `for(let i=0;i<100&&i<${n};i++)one()})`;
  execFileSync(process.execPath, ['-e', script], { timeout: patience(30_000) });
}

/** Client-side handshakes completed towards `port` among `events`. */
function handshakes(events: { dport: number; oldState: number; newState: number }[], port: number): number {
  return events.filter((e) => e.dport === port && e.oldState === State.SYN_SENT && e.newState === State.ESTABLISHED).length;
}

describeKernel('delivery through stalls', () => {
  it('a blocked event loop loses nothing: the drain thread holds a burst many times the ring', async () => {
    // 64 KiB of ring holds ~430 records; the burst makes ~5 000 client-side ones while this
    // process's loop is blocked in execFileSync: they all went through the drain thread's backlog.
    const port = await freePort();
    const cap = new Capture({ ringBytes: 64 << 10, filter: { remotePorts: [port] } });
    try {
      burst(port, 1000);
      await cap.waitFor((evs) => handshakes(evs, port) >= 1000);
      const c = cap.close();
      const d = cap.tracer.deliveryStats();
      expect(d.thread).toBe(true);
      expect(d.backlogPeakBytes).toBeGreaterThan(64 << 10);
      expect(c.lost).toBe(0);
      expect(c.seen).toBe(c.delivered + c.filtered);
      expect(handshakes(cap.events, port)).toBe(1000);
    } finally {
      if (!cap.tracer.closed) cap.close();
    }
  });

  it('a tracer stopped (SIGSTOP) for 300 ms during a burst that fits its ring loses nothing', async () => {
    // 1 500 connections are ~7 500 client-side records, ~1.1 MiB: half of a 2 MiB ring.
    const port = await freePort();
    const child = spawn(bin, ['--json', '--ring-size', '2M', '-D', String(port)]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    try {
      for (const end = Date.now() + patience(15_000); !err.includes('tracing TCP state changes'); await sleep(20)) {
        if (Date.now() > end) throw new Error(`tcptrace did not attach: ${err}`);
      }
      const stoppedAt = Date.now();
      child.kill('SIGSTOP');
      burst(port, 1500);
      await sleep(Math.max(0, 300 - (Date.now() - stoppedAt)));
      child.kill('SIGCONT');
      const mine = () => out.split('\n').filter((l) => l.includes(`"dport":${port},"oldstate":"SYN_SENT","newstate":"ESTABLISHED"`)).length;
      for (const end = Date.now() + patience(15_000); mine() < 1500 && Date.now() < end; await sleep(50)) { /* wait */ }
      child.kill('SIGINT');
      await exited;
      const summary = err.match(/(\d+) events seen, (\d+) delivered, (\d+) lost/);
      expect(summary, err).not.toBeNull();
      const [seen, delivered, lost] = summary!.slice(1).map(Number);
      expect(lost).toBe(0);
      expect(seen).toBe(delivered);
      expect(mine()).toBe(1500);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('overflow past both the ring and the backlog limit is counted exactly', async () => {
    // A 16 KiB ring and a one-chunk backlog while the loop is blocked: the drain thread stops
    // reading, the ring fills, and the kernel counts every record it could not reserve.
    const port = await freePort();
    const cap = new Capture({ ringBytes: 16 << 10, backlogBytes: 4096, batchBytes: 4096, filter: { remotePorts: [port] } });
    try {
      burst(port, 300);
      await sleep(100);
      const c = cap.close();
      expect(c.lost).toBeGreaterThan(0);
      expect(c.seen).toBe(c.delivered + c.filtered + c.lost);
      expect(cap.events.length).toBe(c.delivered);
      expect(cap.tracer.deliveryStats().backlogFull).toBeGreaterThan(0);
    } finally {
      if (!cap.tracer.closed) cap.close();
    }
  });
});
