// Owners that exit before tcptrace processes their sockets' changes: a listen() caller that
// connects to itself, accepts and exits at once is still named on its connection's pre-accept
// transitions; a socket a forked child leaves behind names the child, marked as exited. The
// oracle is the processes themselves: their pids, and that they had exited (reaped) first.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Capture, describeKernel, sleep, states } from '../helpers/kernel';
import { State } from '../../src/decode/states';
import { patience } from '../helpers/patience';

/** Runs a python3 script; resolves with its stdout lines once it exited. */
function python(script: string, args: string[] = []): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`python3 failed (${code}): ${err}`))));
  });
}

// listen, connect to itself, accept, exit: all within a few ms
const QUICK = `
import os, socket
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(8)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
print(l.getsockname()[1], os.getpid(), flush=True)
os._exit(0)
`;

// connect, fork: the parent closes its copy, then lets the child go on (a pipe orders the two:
// were the child to exit first, the parent's close would be the last and run the FIN itself);
// the child writes more than the peer (not reading) can take, then exits: its close queues the
// FIN behind the data
const ORPHAN = `
import os, socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
go_r, go_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(go_w)
    os.read(go_r, 1)
    s.setblocking(False)
    try:
        while True: s.send(b'x' * 65536)
    except BlockingIOError: pass
    os._exit(0)
s.close()
os.write(go_w, b'.')
os.waitpid(pid, 0)
print(pid, flush=True)
`;

describeKernel('owners that exited before their sockets\' changes were processed', () => {
  let cap: Capture;
  beforeAll(() => { cap = new Capture(); });
  afterAll(() => cap.close());

  it('a listen() caller that accepts and exits at once is named on LISTEN->SYN_RECV and SYN_RECV->ESTABLISHED', async () => {
    for (let round = 0; round < 5; round++) {
      const [port, pid] = (await python(QUICK))[0].split(' ').map(Number);
      await cap.waitFor(() => cap.accepted(port).filter((e) => e.newState === State.ESTABLISHED).length >= 1);
      const pre = cap.accepted(port).filter((e) => e.oldState === State.LISTEN || e.oldState === State.SYN_RECV);
      expect(states(pre)).toEqual(['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED']);
      for (const e of pre) {
        expect([e.pid, e.comm, e.ownerSource]).toEqual([pid, 'python3', 'listener']);
        // marked where the change ran without it (not on loopback, where its own connect() ran it)
        expect(e.ownerExited === true).toBe(e.cpuPid !== pid);
      }
    }
  }, patience(40_000));

  it('a socket a forked child left behind names the child, marked as exited, until it closes', async () => {
    const peers: net.Socket[] = [];
    const server = net.createServer((s) => { s.pause(); peers.push(s); s.on('error', () => {}); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const child = Number((await python(ORPHAN, [String(port)]))[0]);
      // the child has exited and been reaped: now let its FIN through
      await sleep(50);
      for (const p of peers) { p.resume(); p.on('end', () => p.end()); }
      await cap.waitFor(() => cap.client(port).some((e) => e.newState === State.CLOSE));
      const after = cap.client(port).filter((e) => e.oldState === State.FIN_WAIT1 || e.oldState === State.FIN_WAIT2);
      expect(states(after)).toEqual(['FIN_WAIT1->FIN_WAIT2', 'FIN_WAIT2->CLOSE']);
      for (const e of after) {
        expect([e.pid, e.comm, e.ownerExited]).toEqual([child, 'python3', true]);
      }
    } finally {
      for (const p of peers) p.destroy();
      server.close();
    }
  }, patience(20_000));
});
