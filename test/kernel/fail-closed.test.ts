// Options that used to be accepted and never match (issue 24, item 5), against the real tracer:
// --state TIME_WAIT shows the connections entering TIME_WAIT, and --comm given with the escapes
// tcptrace prints matches a process whose name is not UTF-8.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { describeKernel, listen, sleep } from '../helpers/kernel';
import { patience } from '../helpers/patience';
import { attachedCli, stopAll } from '../helpers/cli';

const run = promisify(execFile);
afterEach(() => stopAll());

async function tracer(args: string[]): Promise<() => Record<string, any>[]> {
  const run = await attachedCli(['-j', ...args]);
  // whole lines only: the machine's other connections may be mid-line
  return () => { const out = run.stdout(); return out.slice(0, out.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l)); };
}

// A client (named by the caller; run asynchronously, the server is in this process) that connects, closes first (so its side enters TIME_WAIT),
// and waits for the server to close too.
const client = (port: number, name: string) => `
import ctypes, socket, time
ctypes.CDLL(None).prctl(15, ${name}, 0, 0, 0)
c = socket.create_connection(('127.0.0.1', ${port}))
print(c.getsockname()[1], flush=True)
c.shutdown(socket.SHUT_WR)
c.recv(1)
c.close()
`;

describeKernel('options that mean what they say', () => {
  it('--state TIME_WAIT: the close of the side that enters TIME_WAIT, and only it', async () => {
    const server = await listen();
    const events = await tracer(['--state', 'TIME_WAIT']);
    const clientPort = Number((await run('python3', ['-c', client(server.port, "b'tw-client'")])).stdout.trim());
    const deadline = Date.now() + patience(10_000);
    while (!events().some((e) => e.sport === clientPort)) {
      if (Date.now() > deadline) throw new Error('no TIME_WAIT close seen');
      await sleep(50);
    }
    await sleep(300); // the server side's close (no TIME_WAIT) would be here by now
    const mine = events().filter((e) => e.sport === clientPort || e.dport === clientPort);
    expect(mine.map((e) => [e.sport, e.newstate, e.time_wait])).toEqual([[clientPort, 'CLOSE', true]]);
    await server.close();
  });

  it('--comm with \\xNN matches a process whose name is not UTF-8', async () => {
    const server = await listen();
    const events = await tracer(['--comm', 'bad\\xffname', '-D', String(server.port)]);
    const clientPort = Number((await run('python3', ['-c', client(server.port, "b'bad\\xffname'")])).stdout.trim());
    const deadline = Date.now() + patience(10_000);
    while (!events().some((e) => e.sport === clientPort && e.newstate === 'CLOSE')) {
      if (Date.now() > deadline) throw new Error(`no event of the client: ${JSON.stringify(events())}`);
      await sleep(50);
    }
    expect(events().filter((e) => e.sport === clientPort).every((e) => e.comm === 'bad\udcffname')).toBe(true);
    await server.close();
  });
});
