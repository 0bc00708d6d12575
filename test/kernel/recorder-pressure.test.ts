// A listener under pressure, captured and replayed: a listen(fd, 1) server that accepts only
// once 100 clients have come, in a network namespace of this test; the live `--summary` shows
// its accept queue sampled under pressure (sock_diag, as `ss -ltn` reads it), and a replay of the
// flight recorder's capture shows the same block, figure for figure (docs/REPLAY.md).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeKernel, sleep } from '../helpers/kernel';
import { NetNamespace } from '../helpers/process';
import { patience } from '../helpers/patience';

const bin = path.join(__dirname, '../../bin/tcptrace');
const fixture = path.resolve(__dirname, '../fixtures/handshakes.py');
const PORT = 7121;

function run(cmd: string, args: string[]) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, out: () => out, err: () => err };
}

async function until(ok: () => boolean, what: string, ms = patience(30_000)): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The summary's block of listeners sampled under pressure. */
const pressureBlock = (summary: string) => /\n( *Accept queues sampled under pressure[^\n]*\n(?: {4}.*\n)+)/.exec(summary)?.[1];

const namespaces: NetNamespace[] = [];
afterAll(() => { for (const ns of namespaces) ns.delete(); });

describeKernel('listener pressure in a capture', () => {
  it('the replay of the capture shows the accept queue the live summary sampled', async () => {
    const ns = new NetNamespace();
    namespaces.push(ns);
    ns.run('sysctl', '-q', 'net.ipv4.tcp_syncookies=0'); // a full queue drops SYNs instead of answering with cookies
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recorder-pressure-'));
    const live = run(bin, ['--netns', String(ns.inode), '-q', '--summary', '--capture', path.join(dir, 'cap')]);
    await until(() => live.err().includes('tracing TCP'), 'attach');
    const srv = run('ip', ['netns', 'exec', ns.name, 'python3', fixture, 'server', String(PORT), '1', '-1', '0']);
    await until(() => srv.out().includes('listening'), 'the server');
    const clients = run('ip', ['netns', 'exec', ns.name, 'python3', fixture, 'clients', String(PORT), '100', '10']);
    await until(() => clients.out().includes('started'), 'the clients');
    await sleep(patience(1500));
    srv.child.stdin!.write('go\n'); // the server accepts from now on
    await until(() => clients.out().includes('connected'), 'the clients to finish', patience(90_000));
    await sleep(patience(1500)); // a few more samples, and the counters record of their tick
    live.child.kill('SIGINT');
    expect(await live.exited).toBe(0);
    srv.child.stdin!.end();
    srv.child.kill();
    const block = pressureBlock(live.out());
    expect(block, live.out()).toMatch(new RegExp(`:${PORT} \\(netns ${ns.inode}\\) now \\d+/1, peak \\d+/1, full [\\d.]+ s, [1-9]\\d* drops`));
    expect(live.err()).toMatch(/capture: 1 files, .* MB in \S+\n/); // every line kept
    const replayed = execFileSync(bin, ['-r', path.join(dir, 'cap'), '--summary'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(pressureBlock(replayed)).toBe(block);
    // and the JSON summary of the replay carries the same listener with its series
    const json = JSON.parse(execFileSync(bin, ['-r', path.join(dir, 'cap'), '--summary', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!);
    expect(JSON.stringify(json)).toContain(`"port":${PORT}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }, patience(150_000));
});
