// Handshake diagnosis (docs/HANDSHAKE.md) under real kernel conditions, each in a network namespace
// of its own, checked against the counters the kernel keeps for that namespace (nstat inside it):
// a full accept queue, SYNs and SYN-ACKs lost at random (nftables numgen), SYN cookies always on,
// and a fast handshake with a slow accept().
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Capture, describeKernel, sleep } from '../helpers/kernel';
import { NetNamespace } from '../helpers/process';
import { patience } from '../helpers/patience';
import { Pid1Calls } from '../helpers/pid1-calls';
import { State } from '../../src/decode/states';
import type { TcpEvent } from '../../src/decode/event';
import { diagnose, type Why } from '../../src/derive/handshake-diagnosis';

const fixture = path.resolve(__dirname, '../fixtures/handshakes.py');

/** Runs handshakes.py in the namespace; resolves with its first JSON line holding `key`. */
function fixtureRun(ns: NetNamespace, args: string[]) {
  const child = spawn('ip', ['netns', 'exec', ns.name, 'python3', fixture, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => { text += d.toString(); });
  /** its first JSON line holding `key` */
  const line = (key: string) => new Promise<Record<string, number>>((resolve, reject) => {
    const look = () => {
      for (const l of text.split('\n')) if (l.includes(`"${key}"`)) return resolve(JSON.parse(l));
      if (child.exitCode !== null) return reject(new Error(`handshakes.py ${args[0]} exited before '${key}'`));
      setTimeout(look, 20);
    };
    look();
  });
  return { line, send: (s: string) => child.stdin!.write(`${s}\n`), stop: () => { child.stdin!.end(); child.kill(); } };
}

interface Scenario {
  ns: NetNamespace;
  closes: TcpEvent[];
  before: Record<string, number>;
  after: Record<string, number>;
  result: Record<string, number>;
  /** state changes on the machine hidden from BPF meanwhile (PID 1 current; tracer.counters().hidden) */
  hidden: number;
  /** this port's SYN and SYN-ACK retransmits made with PID 1 current (tracefs), on a kernel that
   *  hides them from BPF: no program saw them, so their connections may lack a verdict */
  hiddenRetransmits: number;
  /** this port's state changes made with PID 1 current (tracefs): a child may lack its record,
   *  or its record the SYN-ACK retransmits its earlier changes carried */
  hiddenChanges: number;
}

let cap: Capture;
const namespaces: NetNamespace[] = [];

/** A server and N clients in a new namespace; returns once every socket of the port closed. */
async function scenario(port: number, n: number, server: [number, number, number], setup: (ns: NetNamespace) => void, gapMs = 0, send = 0): Promise<Scenario> {
  const ns = new NetNamespace();
  namespaces.push(ns);
  setup(ns);
  const srv = fixtureRun(ns, ['server', String(port), ...server.map(String)]);
  await srv.line('listening');
  const before = ns.counters();
  const hiddenBefore = cap.tracer.counters().hidden;
  const oracle = new Pid1Calls(['tcp/tcp_retransmit_skb', 'tcp/tcp_retransmit_synack', 'sock/inet_sock_set_state'], `sport == ${port} || dport == ${port}`);
  const clients = fixtureRun(ns, ['clients', String(port), String(n), String(gapMs), String(send)]);
  // a server started with sleep -1 accepts once every client started, and a moment more
  await clients.line('started');
  if (server[1] < 0) setTimeout(() => srv.send('go'), patience(300));
  const result = await clients.line('connected');
  const mine = (e: TcpEvent) => e.netns === ns.inode && (e.sport === port || e.dport === port) && !(e.sport === port && e.dport === 0);
  // every client closes; then the accepted children (the server closes each at once), until
  // their count stays the same a while (a client that gave up may leave no child)
  const closes = () => cap.events.filter((e) => mine(e) && e.newState === State.CLOSE).length;
  // a client whose last segments met no socket may sit in FIN_WAIT2 until tcp_fin_timeout (60 s)
  await cap.waitFor(() => cap.events.filter((e) => mine(e) && e.newState === State.CLOSE && e.side === 'active').length >= n, 75_000);
  for (let last = -1; closes() !== last;) {
    last = closes();
    await sleep(patience(1500));
  }
  const after = ns.counters();
  srv.stop();
  const hidden = cap.tracer.counters().hidden - hiddenBefore;
  const pid1 = oracle.stop();
  const hiddenChanges = pid1.filter((c) => c.event === 'inet_sock_set_state').length;
  return { ns, closes: cap.events.filter((e) => mine(e) && e.newState === State.CLOSE), before, after, result, hidden, hiddenRetransmits: pid1.length - hiddenChanges, hiddenChanges };
}

const why = (e: TcpEvent): Why | undefined => diagnose(e)?.why;

/**
 * Retransmitted connections whose verdict is not the expected one: none, except that a
 * connection whose retransmits (or earlier changes) ran while PID 1 was current (no program saw
 * them: the kernel's own count stands in) has no verdict; at most one per such call.
 */
function expectExplained(s: Scenario, unexpected: TcpEvent[]): void {
  expect(unexpected.filter((e) => why(e) !== undefined)).toEqual([]);
  expect(unexpected.length).toBeLessThanOrEqual(s.hiddenRetransmits + s.hiddenChanges);
}
const delta = (s: Scenario, name: string) => (s.after[name] ?? 0) - (s.before[name] ?? 0);
const sum = (evs: TcpEvent[], f: (e: TcpEvent) => number) => evs.reduce((a, e) => a + f(e), 0);
const tally = (evs: TcpEvent[]) => evs.reduce<Record<string, number>>((t, e) => { const w = why(e) ?? 'none'; t[w] = (t[w] ?? 0) + 1; return t; }, {});

describeKernel('handshake diagnosis (network namespaces, nstat oracles)', () => {
  beforeAll(async () => {
    cap = new Capture();
    await sleep(500);
  });
  afterAll(async () => {
    await cap?.close();
    for (const ns of namespaces) ns.delete();
  });

  // Every test holds tcptrace's per-connection verdicts to the namespace's own counters. A dropped
  // SYN is counted by the listener (ListenDrops, and TCPReqQFullDrop or ListenOverflows) and
  // retransmitted by its client (TCPSynRetrans); a dropped final ACK is counted and answered by a
  // SYN-ACK retransmit (TCPSynRetrans too). A client that gave up (60 s) still in SYN_SENT takes
  // its last drop unretransmitted.
  const gaveUp = (e: TcpEvent) => (e.oldState === State.SYN_SENT ? 1 : 0);
  const retransmits = (evs: TcpEvent[]) => sum(evs, (e) => e.synRetrans + e.synackRetrans);
  const report = (name: string, s: Scenario, active: TcpEvent[], passive: TcpEvent[]) => {
    const k = (n: string) => delta(s, `TcpExt${n}`);
    const byWhy = (evs: TcpEvent[]) => evs.reduce<Record<string, number>>((t, e) => {
      const d = diagnose(e);
      const w = d ? `${d.why}${d.proven ? '' : '?'}` : 'none';
      t[w] = (t[w] ?? 0) + e.synRetrans + e.synackRetrans;
      return t;
    }, {});
    console.log(name, JSON.stringify({ connections: { active: tally(active), passive: tally(passive) },
      retransmitsByVerdict: { active: byWhy(active), passive: byWhy(passive) }, result: s.result,
      nstat: { ListenOverflows: k('ListenOverflows'), ListenDrops: k('ListenDrops'), TCPReqQFullDrop: k('TCPReqQFullDrop'),
        TCPReqQFullDoCookies: k('TCPReqQFullDoCookies'), SyncookiesSent: k('SyncookiesSent'), SyncookiesRecv: k('SyncookiesRecv'),
        TCPSynRetrans: k('TCPSynRetrans'), TCPTimeouts: k('TCPTimeouts'), TCPRetransFail: k('TCPRetransFail'), notOnRecords: notOnRecords(s) },
      hiddenFromBpf: { stateChanges: s.hidden, thisPort: { stateChanges: s.hiddenChanges, retransmits: s.hiddenRetransmits } } }));
  };
  const sides = (s: Scenario) => [s.closes.filter((e) => e.side === 'active'), s.closes.filter((e) => e.side === 'passive')];
  /** SYN and SYN-ACK retransmits the kernel counted that are on no connection's record. Under
   *  load a connection's record sometimes lacks one of its SYN retransmits (its handshake took 3 s,
   *  its record says 2): not a verdict, an open defect of the retransmit count (issue 20 report).
   *  On this project's host kernel one cause is known: retransmits made while PID 1 ran, which
   *  no BPF program sees (hiddenRetransmits); guests under QEMU showed it too, without that. */
  const notOnRecords = (s: Scenario) => delta(s, 'TcpExtTCPSynRetrans') - retransmits(s.closes);
  /** The drops on no record are the retransmits on no record, and these at most 1 % of
   *  TCPSynRetrans; but where the kernel kept some of this port's calls from BPF (PID 1 current)
   *  a child's record may be missing or short of its SYN-ACK retransmits: then only at most. */
  const expectNotOnRecords = (s: Scenario, dropsNotOnRecords: number) => {
    if (s.hiddenChanges + s.hiddenRetransmits > 0) {
      expect(dropsNotOnRecords).toBeLessThanOrEqual(notOnRecords(s));
      return;
    }
    expect(dropsNotOnRecords).toBe(notOnRecords(s));
    expect(notOnRecords(s)).toBeLessThanOrEqual(delta(s, 'TcpExtTCPSynRetrans') / 100);
  };

  it('cookies off, listen(fd, 1), a sleeping acceptor: dropped SYNs and final ACKs equal ListenDrops exactly; no queue is named for a SYN', async () => {
    // the clients start 10 ms apart, so that their SYN retransmits do not all come at once
    const s = await scenario(7101, 200, [1, -1, 0], (ns) => ns.run('sysctl', '-q', 'net.ipv4.tcp_syncookies=0'), 10);
    const [active, passive] = sides(s);
    report('cookies off, accept queue:', s, active, passive);
    expect(s.result.connected + s.result.failed).toBe(200);
    expect(delta(s, 'TcpExtListenDrops')).toBe(delta(s, 'TcpExtListenOverflows') + delta(s, 'TcpExtTCPReqQFullDrop'));
    expect(delta(s, 'TcpExtTCPReqQFullDrop')).toBeGreaterThan(0);
    // a dropped SYN: "syn-dropped", an inference (the listener's shared drop count), no queue
    // named (with cookies off either queue drops SYNs, and nothing records which at the drop)
    const synDropped = active.filter((e) => why(e) === 'syn-dropped');
    expect(synDropped.length).toBeGreaterThan(0);
    expect(synDropped.every((e) => !diagnose(e)!.proven && diagnose(e)!.evidence === 'listener-drop-count' && diagnose(e)!.acceptQueueRead === 'syn-retransmit')).toBe(true);
    expectExplained(s, active.filter((e) => e.synRetrans > 0 && why(e) !== 'syn-dropped'));
    // a dropped final ACK: the kernel marked the request at the drop, proof of a full accept queue
    const ackDropped = passive.filter((e) => why(e) === 'accept-queue-full');
    expect(ackDropped.every((e) => diagnose(e)!.proven && diagnose(e)!.evidence === 'request-acked')).toBe(true);
    expectExplained(s, passive.filter((e) => e.synackRetrans > 0 && why(e) !== 'accept-queue-full'));
    // per verdict against the counters: the final ACKs are part of ListenOverflows, the rest of
    // the drops are the SYNs. A drop not on any record is a retransmit not on any record: in
    // about 1 run in 3 on a busy host, 1-3 of ~700 SYN retransmits the kernel counted reach no
    // record (see notOnRecords); the drops are held to the retransmits exactly, and that defect
    // to 1 % of them
    expect(retransmits(ackDropped)).toBeLessThanOrEqual(delta(s, 'TcpExtListenOverflows'));
    const dropsOnRecords = retransmits(synDropped) + sum(synDropped, gaveUp) + retransmits(ackDropped);
    expectNotOnRecords(s, delta(s, 'TcpExtListenDrops') - dropsOnRecords);
  }, patience(150_000));

  it('cookies on, listen(fd, 1), a sleeping acceptor: every drop is an accept-queue overflow, ListenOverflows exactly', async () => {
    // cookies always (2): no request is kept, so every final ACK the full queue drops is a
    // cookie's, counted by SyncookiesRecv (with 1, the data that completes a request whose final
    // ACK was dropped, before any SYN-ACK retransmit, is an overflow nothing here sees). Each
    // client sends a byte: a cookie connection whose final ACK was dropped retransmits it with
    // the data (the cookie is checked again then) instead of waiting 60 s
    const s = await scenario(7106, 200, [1, -1, 0], (ns) => ns.run('sysctl', '-q', 'net.ipv4.tcp_syncookies=2'), 10, 1);
    const [active, passive] = sides(s);
    report('cookies on, accept queue:', s, active, passive);
    expect(s.result.connected + s.result.failed).toBe(200);
    expect(delta(s, 'TcpExtTCPReqQFullDrop')).toBe(0);
    expect(delta(s, 'TcpExtListenDrops')).toBe(delta(s, 'TcpExtListenOverflows'));
    const full = s.closes.filter((e) => why(e) === 'accept-queue-full');
    expect(full.length).toBeGreaterThan(0);
    // with cookies on only a full accept queue drops a SYN; that this SYN was the one dropped is
    // still an inference
    expectExplained(s, active.filter((e) => e.synRetrans > 0 && !(why(e) === 'accept-queue-full' && !diagnose(e)!.proven)));
    expect(retransmits(passive)).toBe(0);
    // every child is a cookie's (a slow guest once made two for one client, one then reset).
    // A child first seen at its CLOSE (its earlier changes made while PID 1 ran, on a kernel that
    // hides them from BPF: once in a CI host run) has no record of its handshake: each such child
    // is at least one change the tracer counted as hidden
    const unseen = passive.filter((e) => e.durationNs === null);
    expect(unseen.length).toBeLessThanOrEqual(s.hidden);
    expect(passive.filter((e) => e.durationNs !== null && !['syn-cookie', 'slow-accept', 'reset'].includes(why(e)!))).toEqual([]);
    expect(s.closes.filter((e) => why(e) === 'lost-in-network' || why(e) === 'syn-dropped')).toEqual([]);
    // the listener's overflows: the SYNs retransmitted, the final ACKs answered by a SYN-ACK
    // retransmit, and cookies' final ACKs (checked, SyncookiesRecv, then dropped: no child)
    const cookieAckDrops = delta(s, 'TcpExtSyncookiesRecv') - passive.length;
    expectNotOnRecords(s, delta(s, 'TcpExtListenOverflows') - (retransmits(full) + sum(full, gaveUp) + cookieAckDrops));
  }, patience(150_000));

  it('cookies off, a third of the final ACKs dropped: the full request queue drops SYNs, TCPReqQFullDrop exactly', async () => {
    // requests whose final ACK nftables dropped stay in the request queue until a SYN-ACK
    // retransmit brings the ACK again; meanwhile the queue (8) is full and new SYNs are dropped
    const run = () => scenario(7107, 60, [8, 0, 0], (ns) => {
      ns.run('sysctl', '-q', 'net.ipv4.tcp_syncookies=0');
      ns.run('nft', 'add', 'table', 'inet', 'why_ack');
      ns.run('nft', 'add', 'chain', 'inet', 'why_ack', 'in', '{ type filter hook input priority 0; }');
      ns.run('nft', 'add', 'rule', 'inet', 'why_ack', 'in', 'tcp', 'dport', '7107', 'tcp', 'flags', '==', 'ack', 'ct', 'state', 'established', 'numgen', 'random', 'mod', '3', '==', '0', 'drop');
    });
    // The scenario needs an acceptor that keeps up: on a loaded machine (5.10 under QEMU) it fell
    // behind and the accept queue (also 8) overflowed 1-2 times, which drops SYNs and final ACKs
    // of its own. Such a run is another scenario: it is made again, in a new namespace.
    let s = await run();
    for (let again = 0; again < 2 && delta(s, 'TcpExtListenOverflows') > 0; again++) s = await run();
    const [active, passive] = sides(s);
    report('cookies off, request queue:', s, active, passive);
    expect(delta(s, 'TcpExtListenOverflows')).toBe(0);
    expect(delta(s, 'TcpExtTCPReqQFullDrop')).toBeGreaterThan(0);
    expectExplained(s, active.filter((e) => e.synRetrans > 0 && why(e) !== 'syn-dropped'));
    expectNotOnRecords(s, delta(s, 'TcpExtTCPReqQFullDrop') - (retransmits(active) + sum(active, gaveUp)));
    // the requests whose ACK was lost: a SYN-ACK retransmit of a request no ACK reached, proof
    expectExplained(s, passive.filter((e) => e.synackRetrans > 0 && !(why(e) === 'lost-in-network' && diagnose(e)!.evidence === 'request-not-acked')));
  }, patience(150_000));

  // Once 3 of 60 were called accept-queue-full here with ListenOverflows 0: a client read the
  // listener's explained-drop count before a concurrent SYN (that found its request) raised it,
  // and its drop count after that SYN's drop; the drop count is now read first (handshake.bpf.h).
  it('SYNs and SYN-ACKs dropped at random: lost in the network, retransmits equal to TCPSynRetrans', { timeout: patience(150_000) }, async () => {
    const s = await scenario(7102, 60, [128, 0, 0], (ns) => {
      ns.run('nft', 'add', 'table', 'inet', 'why_loss');
      ns.run('nft', 'add', 'chain', 'inet', 'why_loss', 'in', '{ type filter hook input priority 0; }');
      // a third of the SYNs to the server, a third of the SYN-ACKs back to the clients
      ns.run('nft', 'add', 'rule', 'inet', 'why_loss', 'in', 'tcp', 'dport', '7102', 'tcp', 'flags', '&', '(syn|ack)', '==', 'syn', 'numgen', 'random', 'mod', '3', '==', '0', 'drop');
      ns.run('nft', 'add', 'rule', 'inet', 'why_loss', 'in', 'tcp', 'sport', '7102', 'tcp', 'flags', '&', '(syn|ack)', '==', 'syn|ack', 'numgen', 'random', 'mod', '3', '==', '0', 'drop');
    });
    const active = s.closes.filter((e) => e.side === 'active');
    const passive = s.closes.filter((e) => e.side === 'passive');
    report('random loss:', s, active, passive);
    const retransmitted = [...active.filter((e) => e.synRetrans > 0), ...passive.filter((e) => e.synackRetrans > 0)];
    expect(retransmitted.length).toBeGreaterThan(0);
    expect(retransmitted.filter((e) => why(e) !== 'lost-in-network')).toEqual([]);
    // nothing else is blamed on the network (a slow acceptor may still be slow to accept)
    expect([...active, ...passive].filter((e) => e.synRetrans + e.synackRetrans === 0 && why(e) && why(e) !== 'slow-accept')).toEqual([]);
    // A client that gave up (its 60 s timeout: rare with a third of SYNs and SYN-ACKs dropped)
    // leaves a request that never became a child: its SYN-ACK retransmits are on no record, at
    // most tcp_synack_retries (5) from the timer and one per SYN of the client's that found it
    const onRecords = sum(active, (e) => e.synRetrans) + sum(passive, (e) => e.synackRetrans);
    const gaveUpClients = active.filter((e) => gaveUp(e));
    if (s.result.failed === 0) expect(onRecords).toBe(delta(s, 'TcpExtTCPSynRetrans'));
    else expect(delta(s, 'TcpExtTCPSynRetrans') - onRecords).toBeLessThanOrEqual(sum(gaveUpClients, (e) => 5 + e.synRetrans));
    expect(onRecords).toBeLessThanOrEqual(delta(s, 'TcpExtTCPSynRetrans'));
    expect(delta(s, 'TcpExtListenOverflows')).toBe(0);
    expect(delta(s, 'TcpExtListenDrops')).toBe(0);
  });

  it('tcp_syncookies=2: every connection completed from a cookie is told apart, as SyncookiesRecv counts', async () => {
    const s = await scenario(7103, 40, [128, 0, 0], (ns) => ns.run('sysctl', '-q', 'net.ipv4.tcp_syncookies=2'));
    const passive = s.closes.filter((e) => e.side === 'passive');
    console.log('cookies:', { passive: tally(passive), sent: delta(s, 'TcpExtSyncookiesSent'), recv: delta(s, 'TcpExtSyncookiesRecv') });
    expect(delta(s, 'TcpExtSyncookiesRecv')).toBe(40);
    expect(passive.filter((e) => why(e) === 'syn-cookie').length).toBe(delta(s, 'TcpExtSyncookiesRecv'));
    expect(passive.length).toBe(40);
    // the handshake time of a cookie child is not measured (its only RTT sample is the
    // timestamp echo, which the cookie's option bits distort)
    const established = cap.events.filter((e) => e.netns === s.ns.inode && e.sport === 7103 && e.newState === State.ESTABLISHED);
    expect(established.filter((e) => e.handshakeUs !== 0)).toEqual([]);
  }, patience(150_000));

  it('cookies off: the same clients are not mistaken for cookie connections', async () => {
    const s = await scenario(7104, 40, [128, 0, 0], (ns) => ns.run('sysctl', '-q', 'net.ipv4.tcp_syncookies=1'));
    const passive = s.closes.filter((e) => e.side === 'passive');
    expect(delta(s, 'TcpExtSyncookiesRecv')).toBe(0);
    expect(passive.length).toBe(40);
    expect(passive.filter((e) => why(e) !== undefined)).toEqual([]);
  }, patience(150_000));

  it('a fast handshake and a slow accept(): slow to accept, not a network problem', async () => {
    const s = await scenario(7105, 4, [128, -1, 150], () => {});
    const passive = s.closes.filter((e) => e.side === 'passive');
    console.log('slow accept:', passive.map((e) => [e.acceptWaitUs, e.oldState, e.synackRetrans, e.handshakeUs]));
    expect(passive.length).toBe(4);
    expect(passive.map(why)).toEqual(['slow-accept', 'slow-accept', 'slow-accept', 'slow-accept']);
    expect(passive.every((e) => e.synackRetrans === 0 && e.acceptWaitUs > 100_000)).toBe(true);
    expect(s.closes.filter((e) => e.side === 'active' && why(e))).toEqual([]);
    expect(delta(s, 'TcpExtTCPSynRetrans')).toBe(0);
  }, patience(150_000));
});
