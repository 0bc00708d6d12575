// The census' bookkeeping with a stand-in for sock_diag: the dump at start, transitions
// that happened while it ran (some shown by it, some not), sampled TIME_WAIT.
import { afterEach, describe, expect, it } from 'vitest';
import { SocketCensus, type CensusSource } from '../../src/census/census';
import type { CensusRequest, CensusResult } from '../../src/native/addon';
import type { TcpEvent } from '../../src/decode/event';
import { State as S } from '../../src/decode/states';
import { sampleEvent } from '../helpers/sample';

const NS = 4026531840;

function tuple(state: number, local: string, lport: number, remote: string, rport: number): Buffer {
  const b = Buffer.alloc(40);
  b[0] = state;
  b[1] = 4;
  b.writeUInt16LE(lport, 2);
  b.writeUInt16LE(rport, 4);
  Buffer.from(local.split('.').map(Number)).copy(b, 8);
  Buffer.from(remote.split('.').map(Number)).copy(b, 24);
  return b;
}

function result(counts: Partial<Record<number, number>>, tuples: Buffer[], startNs: number, endNs: number): CensusResult {
  const c = new Array(16).fill(0);
  for (const [s, n] of Object.entries(counts)) c[Number(s)] = n;
  return { counts: c, tuples: Buffer.concat(tuples), startNs, endNs, attempts: 1, error: null };
}

class FakeKernel implements CensusSource {
  requests: CensusRequest[] = [];
  samples: CensusResult[] = [];
  /** other namespaces: inode → path, while they exist */
  others = new Map<number, string>();
  constructor(private readonly first: CensusResult, private readonly unreadable = 0) {}
  scan() { return { paths: new Map([[NS, ''], ...this.others]), unreadable: this.unreadable, own: NS }; }
  pathOf(inode: number) { return this.others.get(inode); }
  dump(r: CensusRequest) { this.requests.push(r); return r.tuples ? this.first : this.samples.shift() ?? this.first; }
  dumpAsync(r: CensusRequest) { this.requests.push(r); return Promise.resolve(r.tuples ? this.first : this.samples.shift() ?? this.first); }
}

const ev = (skaddr: string, tsNs: number, oldState: number, newState: number, over: Partial<TcpEvent> = {}) =>
  sampleEvent({ skaddr, tsNs, oldState, newState, netns: NS, saddr: '10.0.0.1', daddr: '10.0.0.2', sport: 5000, dport: 80, ...over });

let census: SocketCensus | undefined;
afterEach(() => census?.close());

describe('SocketCensus', () => {
  it('starts from the dump, then follows transitions; a listener keeps its count when it spawns children', async () => {
    const k = new FakeKernel(result({ [S.ESTABLISHED]: 3, [S.LISTEN]: 1, [S.TIME_WAIT]: 7 }, [], 1000, 2000));
    census = new SocketCensus({ localPorts: [80], family: 4 }, () => 0, k);
    expect(census.report()).toMatchObject({ exact: false, notes: [expect.stringMatching(/not done yet/)] });
    await census.ready();
    expect(k.requests[0]).toMatchObject({ localPorts: [80], family: 4, tuples: true });
    census.observe([
      ev('a', 3000, S.LISTEN, S.SYN_RECV, { sport: 80, dport: 6000 }),
      ev('a', 3001, S.SYN_RECV, S.ESTABLISHED, { sport: 80, dport: 6000 }),
      ev('b', 3002, S.ESTABLISHED, S.CLOSE_WAIT),
    ]);
    const r = census.report();
    expect(r.counts).toMatchObject({ ESTABLISHED: 3, CLOSE_WAIT: 1, LISTEN: 1, TIME_WAIT: 7, SYN_RECV: 0 });
    expect(r.exact).toBe(true);
  });

  it('sorts out transitions made while the dump ran, by what the dump showed of each socket; holds events until it is in', async () => {
    const k = new FakeKernel(result({ [S.ESTABLISHED]: 1, [S.FIN_WAIT1]: 1, [S.LISTEN]: 1 }, [
      tuple(S.LISTEN, '10.0.0.2', 80, '0.0.0.0', 0),
      tuple(S.ESTABLISHED, '10.0.0.1', 5000, '10.0.0.2', 80), // A: dumped before it moved on
      tuple(S.FIN_WAIT1, '10.0.0.1', 5001, '10.0.0.2', 80), // B: dumped after it moved on
    ], 1000, 2000));
    census = new SocketCensus({}, () => 0, k);
    census.observe([
      ev('A', 500, S.SYN_SENT, S.ESTABLISHED), // before the dump: shown by it
      ev('D', 1100, S.ESTABLISHED, S.FIN_WAIT1, { sport: 5002 }), // gone before its turn in the dump
      ev('D', 1150, S.FIN_WAIT1, S.FIN_WAIT2, { sport: 5002 }),
      ev('D', 1200, S.FIN_WAIT2, S.CLOSE, { sport: 5002, timeWait: true }),
      ev('B', 1500, S.ESTABLISHED, S.FIN_WAIT1, { sport: 5001 }),
      ev('A', 1600, S.ESTABLISHED, S.FIN_WAIT1),
      ev('C', 1700, S.CLOSE, S.SYN_SENT, { sport: 0, dport: 443 }), // new: not in the dump
    ]);
    await census.ready(); // the events above arrived while the dump ran: held until now
    census.observe([
      ev('C', 1800, S.SYN_SENT, S.ESTABLISHED, { sport: 5003, dport: 443 }),
      ev('E', 2_000_000_000, S.ESTABLISHED, S.CLOSE_WAIT, { sport: 5004 }), // long after: settles the rest
    ]);
    // E was not dumped, so its exit from ESTABLISHED counts against the dump's ESTABLISHED.
    expect(census.report().counts).toMatchObject({ ESTABLISHED: 0, FIN_WAIT1: 2, CLOSE_WAIT: 1, LISTEN: 1, SYN_SENT: 0, FIN_WAIT2: 0 });
  });

  it('a socket address reused during the dump is two sockets, each sorted by what the dump showed of it', async () => {
    const k = new FakeKernel(result({ [S.ESTABLISHED]: 2, [S.LISTEN]: 0 }, [
      tuple(S.ESTABLISHED, '10.0.0.1', 5000, '10.0.0.2', 80), // A, before it closed
      tuple(S.ESTABLISHED, '10.0.0.1', 5001, '10.0.0.2', 80), // B (A's memory), after it connected
    ], 1000, 2000));
    census = new SocketCensus({}, () => 0, k);
    await census.ready();
    census.observe([
      ev('A', 1100, S.ESTABLISHED, S.FIN_WAIT1),
      ev('A', 1200, S.FIN_WAIT1, S.FIN_WAIT2),
      ev('A', 1300, S.FIN_WAIT2, S.CLOSE, { timeWait: true }),
      ev('A', 1400, S.CLOSE, S.SYN_SENT, { sport: 0 }),
      ev('A', 1500, S.SYN_SENT, S.ESTABLISHED, { sport: 5001 }),
      ev('Z', 2_000_000_000, S.CLOSE, S.SYN_SENT, { sport: 0, dport: 443 }),
    ]);
    expect(census.report().counts).toMatchObject({ ESTABLISHED: 1, FIN_WAIT1: 0, FIN_WAIT2: 0, SYN_SENT: 1 });
  });

  it('a connect just before the dump whose socket the dump missed (not yet hashed) is counted', async () => {
    const k = new FakeKernel(result({}, [], 20_000_000, 21_000_000));
    census = new SocketCensus({}, () => 0, k);
    await census.ready();
    census.observe([
      ev('C', 19_999_000, S.CLOSE, S.SYN_SENT, { sport: 0 }),
      ev('C', 90_000_000, S.SYN_SENT, S.ESTABLISHED),
    ]);
    const r = census.report();
    expect(r.counts).toMatchObject({ SYN_SENT: 0, ESTABLISHED: 1 });
    expect(r.exact).toBe(true);
  });

  it('counts TIME_WAIT from samples plus the time-wait closes after them', async () => {
    const k = new FakeKernel(result({ [S.FIN_WAIT2]: 2, [S.TIME_WAIT]: 5 }, [], 1000, 2000));
    census = new SocketCensus({}, () => 0, k);
    await census.ready();
    census.observe([ev('x', 3000, S.FIN_WAIT2, S.CLOSE, { timeWait: true }), ev('y', 9000, S.FIN_WAIT2, S.CLOSE, { timeWait: true })]);
    expect(census.report().counts).toMatchObject({ TIME_WAIT: 7, FIN_WAIT2: 0 });
    // A sample that ended between the two closes: it shows the first (and expiries) only.
    k.samples.push(result({ [S.TIME_WAIT]: 4 }, [], 4000, 5000));
    (census as unknown as { sample(): void }).sample();
    await new Promise((r) => setImmediate(r));
    expect(k.requests[1]).toMatchObject({ states: (1 << S.TIME_WAIT) | (1 << S.SYN_RECV) | (1 << 12), tuples: false });
    expect(census.report().counts.TIME_WAIT).toBe(5);
  });

  it('says when counts may be off: lost events, owner filters, unreadable namespaces', async () => {
    let lost = 0;
    const k = new FakeKernel(result({ [S.ESTABLISHED]: 1 }, [], 1000, 2000), 3);
    census = new SocketCensus({ pid: 42 }, () => lost, k);
    await census.ready();
    expect(census.report().notes.join('\n')).toMatch(/owner filter[\s\S]*3 processes' network namespaces could not be read/);
    lost = 5;
    const r = census.report();
    expect(r.exact).toBe(false);
    expect(r.notes.join('\n')).toMatch(/lost or skipped/);
  });

  it('after close, a read with a stale sample takes one itself (the exit summary)', async () => {
    const k = new FakeKernel(result({ [S.TIME_WAIT]: 5 }, [], 1000, 2000));
    census = new SocketCensus({}, () => 0, k);
    await census.ready();
    census.observe([ev('x', 3000, S.FIN_WAIT2, S.CLOSE, { timeWait: true })]);
    census.close();
    (census as unknown as { spaces: Map<number, { sampledAt: number }> }).spaces.get(NS)!.sampledAt = -1e9; // long ago
    k.samples.push(result({ [S.TIME_WAIT]: 2 }, [], 5000, 6000)); // expiries since: 2 left
    expect(census.report().counts.TIME_WAIT).toBe(2);
    expect(k.requests.at(-1)).toMatchObject({ tuples: false });
  });

  it('a namespace nothing opens any more is dropped with its TIME_WAIT sockets; --netns nobody opens is said', async () => {
    const other = 4026532000;
    const k = new FakeKernel(result({ [S.TIME_WAIT]: 3 }, [], 1000, 2000));
    k.others.set(other, '/run/netns/x');
    census = new SocketCensus({}, () => 0, k);
    await census.ready();
    expect(census.report().counts.TIME_WAIT).toBe(6); // 3 in each
    k.others.delete(other);
    (census as unknown as { sample(): void }).sample();
    await new Promise((r) => setImmediate(r));
    expect(census.report().counts.TIME_WAIT).toBe(3);
    census.close();
    const lonely = new SocketCensus({ netns: other }, () => 0, k);
    await lonely.ready();
    expect(lonely.report()).toMatchObject({ exact: false, notes: [expect.stringMatching(/no process or mount opens it/)] });
    lonely.close();
  });
});
