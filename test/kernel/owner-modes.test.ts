// Owners of handed-over sockets in every attach mode this kernel offers, with and without socket
// storage in tracing programs (5.11+; pretended missing here through the library's test knob, as
// 5.10 lacks it for real): fork per connection, fd passing, pre-fork. Also: a program the kernel
// cannot load is left out alone, the rest loads, and the start line names what went.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Capture, describeKernel, states } from '../helpers/kernel';
import { NetNamespace, type Peer } from '../helpers/process';
import { acceptOf, runClient, servedBy, serverSide, startServer } from '../helpers/servers';
import { leftOutText, ownerHooks, type ProbeOptions } from '../../src/probe/probe';

const SERVER = ['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE'];
const N = 3;
const kernelBtf = existsSync('/sys/kernel/btf/vmlinux');

const modes: { name: string; options: ProbeOptions }[] = [
  ...(kernelBtf ? [
    { name: 'tp_btf', options: { attach: 'tp_btf' } },
    { name: 'tp_btf, no socket storage in tracing programs', options: { attach: 'tp_btf', pretendMissing: ['sk_storage_get'] } },
  ] as const : []),
  { name: 'classic tracepoint, perf buffer', options: { attach: 'tracepoint', delivery: 'perfbuf' } },
];

for (const mode of modes) {
  describeKernel(`owners of handed-over sockets (${mode.name})`, () => {
    let cap: Capture;
    let ns: NetNamespace;
    const servers: Peer[] = [];
    beforeAll(() => {
      ns = new NetNamespace();
      cap = new Capture({ ...mode.options, filter: { netns: ns.inode } });
    });
    afterAll(() => { cap.close(); for (const s of servers) s.stop(); ns.delete(); });

    /** Each connection's server-side transitions, split at its accept record. */
    async function connections(port: number, clients: number[]) {
      return Promise.all(clients.map(async (cp) => {
        const evs = await serverSide(cap, port, cp);
        const accept = acceptOf(cap, port, cp);
        expect(accept, `accept record of client port ${cp}`).toBeDefined();
        expect(states(evs)).toEqual(SERVER);
        return { cp, accept: accept!, before: evs.filter((e) => e.tsNs < accept!.tsNs), after: evs.filter((e) => e.tsNs > accept!.tsNs) };
      }));
    }

    it('loads the first-use hook this kernel can run, and says what it could not', () => {
      const { programs, leftOut } = cap.tracer;
      expect(programs).toContain(mode.options.attach === 'tp_btf' ? 'set_state_btf' : 'set_state_tp');
      expect(ownerHooks(programs)).toMatch(/^owners from accept, (send\/recv|recv)$/);
      const storageHooks = programs.filter((p) => ['recv_length_btf', 'send_length_btf', 'rcv_space_btf'].includes(p));
      if (storageHooks.length === 0) {
        // without socket storage (or in the classic mode) the classic receive hook stands in
        expect(programs).toContain('rcv_space_tp');
      } else {
        expect(programs).not.toContain('rcv_space_tp');
      }
      if (mode.options.pretendMissing) {
        // the state change and the causes still load: only the socket-storage hooks went
        expect(programs).toEqual(expect.arrayContaining(['set_state_btf', 'rst_recv_btf', 'accept4_exit_tp', 'rcv_space_tp']));
        expect(storageHooks).toEqual([]);
        expect(leftOut.some((l) => l.missing.startsWith('bpf_sk_storage_get'))).toBe(true);
        expect(leftOutText(leftOut)).toMatch(/; without .*owners from first send \(no (bpf_sk_storage_get in tracing programs, 5\.11\+|tracepoint sock:sock_send_length)\)/);
      }
      for (const l of leftOut) expect(programs).not.toContain(l.program);
    });

    it('fork per connection: the child owns the connection from its first use', async () => {
      const server = startServer(ns, 'forkper');
      servers.push(server);
      const { port, pid: parent } = (await server.next('port')) as { port: number; pid: number };
      const clients = await runClient(ns, port, N);
      const served = await servedBy(server, clients);
      for (const c of await connections(port, clients)) {
        const child = served.get(c.cp)!;
        expect(child).not.toBe(parent);
        expect(c.accept.pid).toBe(parent);
        expect(c.after.map((e) => e.pid)).toEqual(c.after.map(() => child));
        expect(c.after[0].ownerSource).toBe('use');
      }
    });

    it('fd passing: the worker that received the socket owns it from its first use', async () => {
      const server = startServer(ns, 'fdpass');
      servers.push(server);
      const { port, pid: parent, worker } = (await server.next('port')) as { port: number; pid: number; worker: number };
      const clients = await runClient(ns, port, N);
      const served = await servedBy(server, clients);
      for (const c of await connections(port, clients)) {
        expect(served.get(c.cp)).toBe(worker);
        expect(c.accept.pid).toBe(parent);
        expect(c.after.map((e) => e.pid)).toEqual(c.after.map(() => worker));
        expect(c.after[0].ownerSource).toBe('use');
      }
    });

    it('pre-forked workers: the worker that accepted owns the connection', async () => {
      const server = startServer(ns, 'prefork', '2');
      servers.push(server);
      const { port } = (await server.next('port')) as { port: number };
      const clients = await runClient(ns, port, N);
      const served = await servedBy(server, clients);
      for (const c of await connections(port, clients)) {
        expect(c.accept.pid).toBe(served.get(c.cp));
        expect(c.after.map((e) => e.pid)).toEqual(c.after.map(() => served.get(c.cp)));
      }
    });
  });
}
