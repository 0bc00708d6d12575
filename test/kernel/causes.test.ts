// Why connections end: refused, timed out, reset either way, SYN retransmits, TIME_WAIT —
// with peers in network namespaces the test makes (nftables drops SYNs there).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Capture, describeKernel, states } from '../helpers/kernel';
import { NetNamespace, startPeer, type Peer } from '../helpers/process';
import { StatsEngine } from '../../src/derive/stats';
import { withFinished } from '../helpers/derive';

describeKernel('close causes', () => {
  let cap: Capture;
  let ns: NetNamespace;
  const peers: Peer[] = [];
  beforeAll(() => {
    ns = new NetNamespace();
    // Only this namespace, filtered in the kernel: the rest of the machine may be busy.
    cap = new Capture({ filter: { netns: ns.inode } });
    ns.run('sysctl', '-q', '-w', 'net.ipv4.tcp_syn_retries=1'); // a timeout in ~3 s, not ~2 min
  });
  afterAll(() => {
    cap.close();
    for (const p of peers) p.stop();
    ns.delete();
  });

  const inNs = (port: number) => cap.events.filter((e) => e.netns === ns.inode && e.dport === port);

  it('connect timed out: SYN retransmitted, then ETIMEDOUT', async () => {
    const undrop = ns.dropSyns(5555);
    try {
      const client = startPeer(['client', '127.0.0.1', '5555'], { netns: ns.name });
      peers.push(client);
      expect(await client.next('error', 20_000)).toEqual({ error: 'ETIMEDOUT' });
      await cap.waitFor(() => inNs(5555).some((e) => e.newState === 7), 15_000);
      const c = inNs(5555);
      expect(states(c)).toEqual(['CLOSE->SYN_SENT', 'SYN_SENT->CLOSE']);
      expect(c[1]).toMatchObject({ cause: 'timeout', error: 110, pid: client.pid });
      // How many SYNs fit before the deadline depends on the kernel's backoff (6.x starts
      // linear: tcp_syn_linear_timeouts); at least one, and the deadline is ~3 s here.
      expect(c[1].synRetrans).toBeGreaterThanOrEqual(1);
      expect(c[1].durationNs! / 1e9).toBeGreaterThan(2.5);
    } finally {
      undrop();
    }
  });

  it('first SYN dropped, the retransmit succeeds: one SYN retransmit, handshake ≥ 1 s', async () => {
    const server = startPeer(['server', '127.0.0.1', '5556'], { netns: ns.name });
    peers.push(server);
    await server.next('port');
    // Exactly the first SYN, whatever the timing: under emulation an undo after a delay could
    // come after the retransmit at ~1 s and drop it too.
    const undrop = ns.dropFirstSyn(5556);
    const client = startPeer(['client', '127.0.0.1', '5556'], { netns: ns.name });
    peers.push(client);
    await client.next('connected');
    undrop();
    client.send('close');
    await client.next('closed');
    await cap.waitFor(() => inNs(5556).some((e) => e.newState === 7));
    const c = inNs(5556);
    expect(states(c)).toEqual(['CLOSE->SYN_SENT', 'SYN_SENT->ESTABLISHED', 'ESTABLISHED->FIN_WAIT1', 'FIN_WAIT1->FIN_WAIT2', 'FIN_WAIT2->CLOSE']);
    expect(c[1].synRetrans).toBe(1);
    expect(c[1].handshakeUs).toBeGreaterThanOrEqual(1_000_000);
    expect(c.at(-1)).toMatchObject({ cause: 'normal', timeWait: true, synRetrans: 1 });

    // The analytics put it where it belongs: one active handshake, in the ≥ 1 s buckets.
    const stats = new StatsEngine();
    withFinished(stats)(c);
    const hs = stats.snapshot().handshake.active;
    expect(hs.count).toBe(1);
    expect(hs.buckets.filter(([bound]) => bound >= 1000).reduce((n, [, k]) => n + k, 0)).toBe(1);
    expect(hs.max).toBeGreaterThanOrEqual(1000);
  });

  it('the handshake ACK dropped: a SYN-ACK retransmit, passive handshake ≥ 1 s', async () => {
    const server = startPeer(['server', '127.0.0.1', '5559'], { netns: ns.name });
    peers.push(server);
    await server.next('port');
    // Drop the client's bare ACKs to the server: the first SYN-ACK goes unanswered.
    ns.run('nft', 'add', 'table', 'inet', 'tcptrace_ack');
    ns.run('nft', 'add', 'chain', 'inet', 'tcptrace_ack', 'in', '{ type filter hook input priority 0; }');
    ns.run('nft', 'add', 'rule', 'inet', 'tcptrace_ack', 'in', 'tcp', 'dport', '5559', 'tcp', 'flags', '&', '(syn|ack|fin|rst)', '==', 'ack', 'drop');
    const client = startPeer(['client', '127.0.0.1', '5559'], { netns: ns.name });
    peers.push(client);
    await client.next('connected');
    await new Promise((r) => setTimeout(r, 300));
    ns.run('nft', 'delete', 'table', 'inet', 'tcptrace_ack');
    const accepted = () => cap.events.filter((e) => e.netns === ns.inode && e.sport === 5559 && e.dport !== 0);
    await cap.waitFor(() => accepted().some((e) => e.newState === 1));
    client.send('close');
    const s = accepted();
    expect(states(s).slice(0, 2)).toEqual(['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED']);
    expect(s[1].synackRetrans).toBeGreaterThanOrEqual(1);
    expect(s[1].handshakeUs).toBeGreaterThanOrEqual(900_000);
    expect(s[1].pid).toBe(server.pid);
  });

  it('reset by peer: the client sees reset-received, the server reset-sent', async () => {
    const server = startPeer(['server', '127.0.0.1', '5558'], { netns: ns.name, env: { RESET: '1' } });
    peers.push(server);
    const port = (await server.next('port')).port as number;
    const client = startPeer(['client', '127.0.0.1', String(port)], { netns: ns.name });
    peers.push(client);
    // The RST may beat the client's connect callback: only the error is certain.
    expect(await client.next('error')).toEqual({ error: 'ECONNRESET' });
    await cap.waitForCloses(port, 2);
    const c = cap.client(port);
    const s = cap.accepted(port);
    expect(states(c)).toEqual(['CLOSE->SYN_SENT', 'SYN_SENT->ESTABLISHED', 'ESTABLISHED->CLOSE']);
    expect(c[2]).toMatchObject({ cause: 'reset-received', timeWait: false, pid: client.pid });
    expect(states(s)).toEqual(['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE']);
    expect(s[2]).toMatchObject({ cause: 'reset-sent', pid: server.pid });
  });

  it('refused: RST to a SYN', async () => {
    const client = startPeer(['client', '127.0.0.1', '5557'], { netns: ns.name });
    peers.push(client);
    expect(await client.next('error')).toEqual({ error: 'ECONNREFUSED' });
    await cap.waitFor(() => inNs(5557).some((e) => e.newState === 7));
    expect(inNs(5557)[1]).toMatchObject({ cause: 'refused', error: 111, synRetrans: 0, timeWait: false });
  });
});
