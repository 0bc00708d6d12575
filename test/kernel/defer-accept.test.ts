// TCP_DEFER_ACCEPT (nginx `listen ... deferred`): the listener drops a client's bare final ACK,
// marks the request acked, and resends its SYN-ACK when the deferral ends. That SYN-ACK
// retransmit is the deferral at work: no packet was lost and no queue was full, so the
// connection gets no handshake verdict (bpf/handshake.bpf.h). The oracle is the namespace's
// own counters: a SYN-ACK retransmit, and no drop or overflow anywhere.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Capture, describeKernel, sleep } from '../helpers/kernel';
import { NetNamespace } from '../helpers/process';
import { patience } from '../helpers/patience';
import { State } from '../../src/decode/states';
import { diagnose } from '../../src/derive/handshake-diagnosis';

const PORT = 7120;

// The client connects, stays silent past the deferral, then sends a byte; the server accepts
// only then (the byte completes the deferred handshake or follows the SYN-ACK retransmit).
const SCRIPT = `
import socket, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
srv.bind(('127.0.0.1', ${PORT}))
srv.listen(8)
c = socket.create_connection(('127.0.0.1', ${PORT}))
time.sleep(2.5)
c.sendall(b'x')
a, _ = srv.accept()
a.recv(1)
c.close()
a.close()
srv.close()
`;

describeKernel('TCP_DEFER_ACCEPT', () => {
  let cap: Capture;
  let ns: NetNamespace;
  beforeAll(async () => {
    cap = new Capture();
    ns = new NetNamespace();
    await sleep(300);
  });
  afterAll(() => {
    cap?.close();
    ns?.delete();
  });

  it('the deferral\'s SYN-ACK retransmit of an acked request is no verdict: nothing was lost', async () => {
    const child = spawn('ip', ['netns', 'exec', ns.name, 'python3', '-c', SCRIPT], { stdio: 'inherit' });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const mine = () => cap.events.filter((e) => e.netns === ns.inode && (e.sport === PORT || e.dport === PORT) && e.dport !== 0);
    await cap.waitFor(() => mine().filter((e) => e.newState === State.CLOSE).length >= 2, patience(10_000));
    const counters = ns.counters();
    const passive = mine().filter((e) => e.side === 'passive' && (e.newState === State.ESTABLISHED || e.newState === State.CLOSE));
    console.log('defer accept:', passive.map((e) => [e.newState, e.synackRetrans, diagnose(e)?.why ?? null]),
      { synRetrans: counters.TcpExtTCPSynRetrans, listenDrops: counters.TcpExtListenDrops, deferAccept: counters.TcpExtTCPDeferAcceptDrop });
    // the oracle: the kernel resent a SYN-ACK and dropped nothing a full queue would
    expect(counters.TcpExtTCPSynRetrans ?? 0).toBeGreaterThan(0);
    expect(counters.TcpExtListenDrops ?? 0).toBe(0);
    expect(counters.TcpExtListenOverflows ?? 0).toBe(0);
    expect(passive.some((e) => e.synackRetrans > 0)).toBe(true);
    expect(mine().filter((e) => diagnose(e) && diagnose(e)!.why !== 'slow-accept')).toEqual([]);
  }, patience(30_000));
});
