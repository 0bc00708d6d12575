// Output into a pipe whose reader is behind when tcptrace is stopped: what is queued still
// reaches the reader within the shutdown time, and what cannot is said on the exit line
// (before, the process exited with the queue unwritten and the last line cut, silently).
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { expect, it } from 'vitest';
import { describeKernel, sleep } from '../helpers/kernel';
import { patience } from '../helpers/patience';

const bin = path.resolve(__dirname, '../../bin/tcptrace');
const CONNECTIONS = 1500;

/** A server on a port of its own that closes every connection at once. */
async function server(): Promise<number> {
  const server = net.createServer((c) => { c.on('error', () => {}); c.destroy(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return port;
}

/** `n` connections to `port`, 50 at a time. */
function churn(port: number, n: number): Promise<void> {
  return new Promise((resolve) => {
    let started = 0;
    let done = 0;
    const one = (): void => {
      started++;
      const c = net.connect(port, '127.0.0.1', () => c.end());
      c.on('error', () => {});
      c.on('close', () => { if (++done === n) resolve(); else if (started < n) one(); });
    };
    for (let i = 0; i < 50; i++) one();
  });
}

/** Runs `--lifetimes --json` on `port`; the reader takes nothing until `readAfterMs` after SIGINT. */
async function run(readAfterMs: number): Promise<{ lines: string[]; stderr: string }> {
  const port = await server();
  const child = spawn(bin, ['--lifetimes', '--json', '-D', String(port)]);
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  // paused with a listener: Node would drain (and discard) a listener-less pipe at the child's exit
  child.stdout.pause();
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const outClosed = new Promise((r) => child.stdout.on('close', r));
  for (const end = Date.now() + patience(15_000); !err.includes('tracing TCP state changes'); await sleep(20)) {
    if (Date.now() > end) throw new Error(`tcptrace did not attach: ${err}`);
  }
  await churn(port, CONNECTIONS);
  await sleep(patience(300));
  child.kill('SIGINT');
  await sleep(readAfterMs);
  child.stdout.resume();
  await exited;
  await outClosed;
  return { lines: out.split('\n').slice(0, -1), stderr: err + (out.endsWith('\n') ? '' : `[cut: ${out.slice(-40)}]`) };
}

describeKernel('stdout at exit', () => {
  it('a reader that is behind when tcptrace stops still gets every line', async () => {
    const { lines, stderr } = await run(500);
    expect(lines.length, stderr).toBe(CONNECTIONS);
    for (const l of lines) expect(JSON.parse(l).type).toBe('connection');
    expect(stderr).not.toMatch(/not written|cut at exit/);
  });

  it('a reader that stays behind past the shutdown time: the exit line says the output was cut', async () => {
    const { lines, stderr } = await run(3000);
    const cut = stderr.match(/output cut at exit: up to (\d+) lines/);
    expect(cut, stderr).not.toBeNull();
    // an upper bound: the reader may have part of the oldest queued chunk
    expect(lines.length + Number(cut![1]), stderr).toBeGreaterThanOrEqual(CONNECTIONS);
    expect(lines.length).toBeLessThan(CONNECTIONS);
  });
});
