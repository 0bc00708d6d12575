// A socket its acceptor hands over unread (ForkingTCPServer: fork, then the parent closes its
// copy; Node's cluster: the primary passes it to a worker) and the client closes before the
// new holder reads: ESTABLISHED->CLOSE_WAIT must name the
// child that holds it. The oracle is `ss -tanp` at that moment, and the child's own report.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Capture, describeKernel, sleep } from '../helpers/kernel';
import { State } from '../../src/decode/states';
import { patience } from '../helpers/patience';

// each child reports (its pid, the client port), then waits before it reads
const FORKING = `
import os, socketserver, sys, time
class H(socketserver.BaseRequestHandler):
    def handle(self):
        os.write(1, f"{os.getpid()} {self.client_address[1]}\\n".encode())
        time.sleep(5)
        self.request.recv(10)
s = socketserver.ForkingTCPServer(('127.0.0.1', 0), H)
os.write(1, f"{s.server_address[1]}\\n".encode())
s.serve_forever()
`;

// Node's cluster, round-robin: the primary accepts and passes each connection to a worker,
// which does not read it (pauseOnConnect) but reports (its pid, the client port)
const CLUSTER = `
const cluster = require('node:cluster');
const net = require('node:net');
cluster.schedulingPolicy = cluster.SCHED_RR;
if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork().on('message', (m) => process.stdout.write(m + '\\n'));
  cluster.on('listening', (w, a) => { if (!process.announced) { process.announced = 1; process.stdout.write(a.port + '\\n'); } });
} else {
  net.createServer({ pauseOnConnect: true }, (s) => { process.send(process.pid + ' ' + s.remotePort); s.on('error', () => {}); })
    .listen(0, '127.0.0.1');
}
`;

/** pids `ss -tanp` shows holding the socket in `state` from `clientPort` to `port`. */
function ssHolders(port: number, clientPort: number, state = 'close-wait'): number[] {
  const out = execFileSync('ss', ['-tanpH', 'state', state, 'sport', '=', `:${port}`, 'and', 'dport', '=', `:${clientPort}`], { encoding: 'utf8' });
  return [...new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))];
}

/** Until the acceptor has closed its copy: ss shows `holder` alone. */
async function handedTo(port: number, clientPort: number, holder: number): Promise<void> {
  const until = Date.now() + patience(5_000);
  while (Date.now() < until && ssHolders(port, clientPort, 'established').join() !== String(holder)) await sleep(20);
}

describeKernel('a socket handed over unread and closed by the client', () => {
  let cap: Capture;
  beforeAll(() => { cap = new Capture(); });
  afterAll(() => cap.close());

  /**
   * `rounds` connections to a server that prints "PORT" first, then "HOLDER CLIENTPORT" per
   * connection once the holder has it: each is closed by the client while the holder has not
   * read it, and ESTABLISHED->CLOSE_WAIT must name the holder, as `ss -tanp` does.
   */
  async function handOvers(server: ChildProcess, rounds: number, comm?: string): Promise<void> {
    const lines: string[] = [];
    let buf = '';
    server.stdout!.on('data', (d) => { buf += d; const parts = buf.split('\n'); buf = parts.pop()!; lines.push(...parts); });
    while (!lines.length) await sleep(20);
    const port = Number(lines[0]);
    for (let round = 0; round < rounds; round++) {
      const c = net.connect(port, '127.0.0.1');
      await new Promise((r) => c.on('connect', r));
      const clientPort = c.localPort!;
      // the holder has it (its report), the acceptor has closed its copy: then the client hangs up
      let holder = 0;
      while (!holder) {
        holder = Number(lines.find((l) => l.endsWith(` ${clientPort}`))?.split(' ')[0] ?? 0);
        await sleep(10);
      }
      await handedTo(port, clientPort, holder);
      c.end();
      const mine = (e: { sport: number; dport: number; newState: number }) => e.sport === port && e.dport === clientPort && e.newState === State.CLOSE_WAIT;
      await cap.waitFor((evs) => evs.some(mine));
      expect(ssHolders(port, clientPort)).toEqual([holder]);
      const ev = cap.events.find(mine)!;
      expect(ev.pid).toBe(holder);
      if (comm) expect(ev.comm).toBe(comm);
      c.destroy();
    }
  }

  it('ForkingTCPServer: ESTABLISHED->CLOSE_WAIT names the child holding it, as ss -tanp does', async () => {
    const server = spawn('python3', ['-c', FORKING], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await handOvers(server, 3, 'python3');
    } finally {
      server.kill();
    }
  }, patience(30_000));

  it('Node cluster (round-robin): ESTABLISHED->CLOSE_WAIT names the worker holding it, as ss -tanp does', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tcptrace-cluster-')), 'cluster.js');
    writeFileSync(file, CLUSTER);
    const server = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    try {
      await handOvers(server, 4);
    } finally {
      process.kill(-server.pid!, 'SIGKILL');
    }
  }, patience(30_000));
});
