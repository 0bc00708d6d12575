// A connection its client closes while it still waits in the accept queue, on a listener older
// than the tracer (the kernel side never learned its owner): ESTABLISHED->CLOSE_WAIT happens
// before accept(), so it belongs to the listener's holders like SYN_RECV and ESTABLISHED, and an
// owner filter on the process that later accepts it shows the whole connection.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Capture, describeKernel, states } from '../helpers/kernel';
import { NetNamespace, type Peer } from '../helpers/process';
import { acceptOf, runHangups, servedBy, serverSide, startServer } from '../helpers/servers';
import type { TracerOptions } from '../../src/tracer';

const QUEUED = ['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT'];

describeKernel('a connection closed while queued, on a listener older than the tracer', () => {
  let ns: NetNamespace;
  let server: Peer;
  let port: number;
  let pid: number;
  beforeAll(async () => {
    ns = new NetNamespace();
    server = startServer(ns, 'sleepaccept', '300'); // accepts 300 ms after a connection queues
    ({ port, pid } = (await server.next('port')) as { port: number; pid: number });
  });
  afterAll(() => { server.stop(); ns.delete(); });

  async function hangups(filter: TracerOptions['filter']) {
    const cap = new Capture({ filter: { ...filter, netns: ns.inode } });
    try {
      const clients = await runHangups(ns, port, 2);
      await servedBy(server, clients);
      return await Promise.all(clients.map(async (cp) => ({ evs: await serverSide(cap, port, cp), accept: acceptOf(cap, port, cp)! })));
    } finally {
      cap.close();
    }
  }

  it('its close in the queue names the listener\'s holder, not nobody', async () => {
    for (const { evs, accept } of await hangups({})) {
      expect(states(evs).slice(0, 3)).toEqual(QUEUED);
      const closeWait = evs[2];
      expect(closeWait.tsNs).toBeLessThan(accept.tsNs);
      expect([closeWait.ownerSource, closeWait.pid]).toEqual(['listener', pid]);
      expect(evs.filter((e) => e.tsNs > accept.tsNs).every((e) => e.pid === pid)).toBe(true);
    }
  });

  it('-p SERVER: the whole connection, its queued close included', async () => {
    for (const { evs } of await hangups({ pid })) {
      expect(states(evs).slice(0, 3)).toEqual(QUEUED);
    }
  });
});
