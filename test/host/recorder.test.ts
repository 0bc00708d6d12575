// The flight recorder (--capture DIR) with the real tracer: its files stay within the size bound
// while connections keep coming; a full disk (a small tmpfs this test mounts) is said once on
// stderr while tracing and the other outputs go on; SIGUSR2 saves the last minutes as one file;
// and `--replay DIR` gives the transitions the live table showed.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';

const bin = path.join(__dirname, '../../bin/tcptrace');

function start(args: string[]) {
  const child = spawn(bin, args);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, out: () => out, err: () => err };
}

async function until(ok: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const closes = (text: string) => text.split('\n').filter((l) => / LAST_ACK +-> CLOSE /.test(l)).length;

describeKernel('the flight recorder', () => {
  let mnt: string;
  beforeAll(() => {
    mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'recorder-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tcptrace-test', mnt]);
  });
  afterAll(() => { execFileSync('umount', ['-l', mnt]); fs.rmSync(mnt, { recursive: true, force: true }); });

  it('a full disk: said once, the table and the tracing go on, the capture replays up to where it stopped', async () => {
    const srv = await listen();
    fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(200 << 10)); // leaves ~56 KiB
    const dir = path.join(mnt, 'capture');
    const r = start(['-L', String(srv.port), '--capture', dir, '--capture-size', '1M']);
    await until(() => r.err().includes('tracing TCP'), 'attach');
    for (let round = 0; round < 40 && !r.err().includes('disk is full'); round++) {
      for (let i = 0; i < 50; i++) await connectAndClose(srv.port);
      await sleep(1100); // the recorder writes once a second
    }
    expect(r.err()).toMatch(/capture: cannot write to .*: the disk is full; lines are counted and dropped from the capture, tracing goes on/);
    const before = closes(r.out());
    for (let i = 0; i < 20; i++) await connectAndClose(srv.port);
    await until(() => closes(r.out()) >= before + 20, 'the table after the disk filled');
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);
    expect(r.err().match(/the disk is full/g)).toHaveLength(2); // said when it happened and in the exit report
    expect(r.err()).toMatch(/\d+ events seen, \d+ delivered, 0 lost/);
    expect(r.err()).toMatch(/capture: \d+ files, .* \d+ lines not captured \(cannot write to .*: the disk is full\)/);
    // what reached the disk replays (a file cut inside a gzip member says so)
    const replayed = execFileSync(bin, ['-r', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(closes(replayed)).toBeGreaterThan(0);
    expect(r.out().startsWith(replayed.split('\n').slice(0, 2).join('\n'))).toBe(true);
    await srv.close();
  });

  it('bounded: many times the bound of events, the files stay within it; SIGUSR2 saves the recent ones as one capture', async () => {
    const srv = await listen();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recorder-bound-'));
    const bound = 1 << 20;
    const r = start(['-q', '-L', String(srv.port), '--capture', dir, '--capture-size', '1M', '--capture-last', '1']);
    await until(() => r.err().includes('tracing TCP'), 'attach');
    const files = () => fs.readdirSync(dir).filter((f) => f.endsWith('.gz'));
    // newest first: only the newest file grows and older ones only go, so the sum is at most what
    // the directory held at the first stat (a file gone meanwhile throws: that reading is skipped)
    const size = () => files().sort().reverse().reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    let peak = 0;
    let rotated = 0;
    // the size read every few ms while connections come (a file may go between list and stat)
    const watch = setInterval(() => { try { peak = Math.max(peak, size()); } catch { /* removed meanwhile */ } }, 5);
    // files are 256 KiB here (the least share of the bound): 6 of them is more than the bound
    for (let round = 0; round < 100 && rotated < 6; round++) {
      await Promise.all(Array.from({ length: 8 }, async () => { for (let i = 0; i < 100; i++) await connectAndClose(srv.port); }));
      await sleep(200);
      rotated = Math.max(rotated, ...files().map((f) => Number(/-(\d+)\.ndjson\.gz$/.exec(f)![1])));
    }
    clearInterval(watch);
    expect(rotated).toBeGreaterThanOrEqual(6); // more than the bound was written
    expect(peak).toBeLessThanOrEqual(bound); // the bound, exactly: the disk thread removes the oldest before an append would pass it
    r.child.kill('SIGUSR2');
    await until(() => /capture: saved the last 1 min/.test(r.err()), 'the save');
    const saved = /to (\S+\.ndjson\.gz)/.exec(r.err())![1];
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);
    expect(r.err()).not.toMatch(/not captured/);
    // each connection's totals are in the capture, as in -j's (a replay's --lifetimes shows them)
    const lastAcks = gunzipSync(fs.readFileSync(saved)).toString().split('\n').filter((l) => l.includes('"oldstate":"LAST_ACK","newstate":"CLOSE"'));
    expect(lastAcks.length).toBeGreaterThan(0);
    expect(lastAcks.filter((l) => !l.includes('"totals":{"'))).toEqual([]);
    const summary = execFileSync(bin, ['-r', saved, '--summary'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(summary).toMatch(/tcptrace summary .* \d+ transitions/);
    fs.rmSync(dir, { recursive: true, force: true });
    await srv.close();
  }, 180_000);
});
