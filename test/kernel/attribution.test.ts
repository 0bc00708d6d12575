// The owner of each socket, not whatever task the softirq interrupted: client and server in
// separate processes, and sockets opened before the tracer started.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Capture, describeKernel, states } from '../helpers/kernel';
import { startPeer, type Peer } from '../helpers/process';
import { State } from '../../src/decode/states';

const CLIENT = ['CLOSE->SYN_SENT', 'SYN_SENT->ESTABLISHED', 'ESTABLISHED->FIN_WAIT1', 'FIN_WAIT1->FIN_WAIT2', 'FIN_WAIT2->CLOSE'];
const SERVER = ['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE'];

describeKernel('owner attribution', () => {
  let cap: Capture;
  const peers: Peer[] = [];
  beforeAll(() => { cap = new Capture(); });
  afterAll(() => { cap.close(); for (const p of peers) p.stop(); });

  for (const host of ['127.0.0.1', '::1']) {
    it(`${host}: every event names its socket's owner, softirq ones included`, async () => {
      const server = startPeer(['server', host]);
      peers.push(server);
      const port = (await server.next('port')).port as number;
      const client = startPeer(['client', host, String(port)]);
      peers.push(client);
      await client.next('connected');
      client.send('close');
      await client.next('closed');
      await cap.waitForCloses(port, 2);

      const c = cap.client(port);
      const s = cap.accepted(port);
      expect(states(c)).toEqual(CLIENT);
      expect(states(s)).toEqual(SERVER);
      expect(c.map((e) => [e.pid, e.comm])).toEqual(c.map(() => [client.pid, 'node']));
      expect(s.map((e) => e.pid)).toEqual(s.map(() => server.pid));
      // The server's socket was inherited from its listener in the kernel, not guessed later.
      expect(s[0].ownerSource).toBe('listener');
      // Proof the on-CPU task is a different matter: somewhere a softirq ran in the peer.
      const wrongCpu = [...c, ...s].filter((e) => e.cpuPid !== e.pid);
      expect(wrongCpu.length).toBeGreaterThan(0);
    });
  }

  it('sockets opened before the tracer started get their owners from /proc', async () => {
    const server = startPeer(['server', '127.0.0.1']);
    peers.push(server);
    const port = (await server.next('port')).port as number;
    const client = startPeer(['client', '127.0.0.1', String(port)]);
    peers.push(client);
    await client.next('connected');

    const late = new Capture();
    try {
      client.send('close');
      await client.next('closed');
      await late.waitForCloses(port, 2);
      const c = late.client(port);
      const s = late.accepted(port);
      expect(states(c)).toEqual(['ESTABLISHED->FIN_WAIT1', 'FIN_WAIT1->FIN_WAIT2', 'FIN_WAIT2->CLOSE']);
      expect(states(s)).toEqual(['ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE']);
      expect(c.map((e) => [e.pid, e.ownerSource])).toEqual(c.map((e) => [client.pid, e.ownerSource]));
      expect(s.map((e) => [e.pid, e.ownerSource])).toEqual(s.map((e) => [server.pid, e.ownerSource]));
      // The server's first event ran in softirq: the kernel could not know, /proc did.
      expect(s[0]).toMatchObject({ ownerSource: 'proc', newState: State.CLOSE_WAIT });
      expect(c[0].ownerSource).toBe('kernel');
      expect(c[0].durationNs).toBeNull(); // its ESTABLISHED began before we looked
    } finally {
      late.close();
    }
  });
});
