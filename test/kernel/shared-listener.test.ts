// A pre-forked server traced with plain --json (no accept records): once a worker has accepted,
// the kernel marks the listener shared, and every pre-accept event lists the holders instead of
// naming the listen() caller alone (docs/ATTRIBUTION.md, "Before accept").
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeKernel } from '../helpers/kernel';
import { NetNamespace, type Peer } from '../helpers/process';
import { runClient, servedBy, startServer, tracedCommand } from '../helpers/servers';

const N = 6;

describeKernel('a pre-forked server on a plain event stream (no accept records)', () => {
  let ns: NetNamespace;
  let server: Peer | undefined;
  beforeAll(() => { ns = new NetNamespace(); });
  afterAll(() => { server?.stop(); ns.delete(); });

  it('after the first accept by a worker, every pre-accept event lists the holders, never the master alone', async () => {
    let port = 0;
    let master = 0;
    let workers: number[] = [];
    let clients: number[] = [];
    // tracing starts first, so tcptrace sees the master's listen() (a live caller it trusts)
    const events = await tracedCommand(ns, ['--json'], async () => {
      server = startServer(ns, 'prefork', '2');
      ({ port, pid: master, workers } = (await server.next('port')) as { port: number; pid: number; workers: number[] });
      clients = await runClient(ns, port, N);
      await servedBy(server, clients);
    });

    expect(events.find((e) => e.sport === port && e.newstate === 'LISTEN')?.pid).toBe(master);
    const served = server!.messages.filter((m) => 'served' in m) as { accepted_ns: number }[];
    const firstAccept = Math.min(...served.map((m) => m.accepted_ns));
    const before = events.filter((e) => e.sport === port && clients.includes(e.dport) && e.owner === 'listener');
    const afterFirst = before.filter((e) => e.ts_ns > firstAccept);
    // the client connects in turn: the connections after the first are all born after its accept
    expect(afterFirst.map((e) => `${e.oldstate}->${e.newstate}`).sort()).toEqual(
      Array.from({ length: N - 1 }, () => ['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED']).flat().sort(),
    );
    for (const e of afterFirst) {
      expect(e.pid).toBe(master);
      expect(e.holders).toEqual([master, ...[...workers].sort((a, b) => a - b)]);
    }
  });
});
