// Bytes and retransmits per listening port and remote endpoint (derive/traffic.ts) and how
// --lifetimes prints a connection's totals (TX_KB RX_KB as tcplife: whole KiB).
import { describe, expect, it } from 'vitest';
import type { FinishedConnection } from '../../src/derive/connections';
import type { ConnTotals } from '../../src/decode/event';
import { TrafficTable } from '../../src/derive/traffic';
import { lifetimeCsv, lifetimeLine, lifetimesCsvHeader, lifetimesHeader } from '../../src/sinks/lifetimes';

function totals(acked: number, received: number, retrans = 0): ConnTotals {
  return { bytesAcked: acked, bytesReceived: received, bytesRetrans: retrans * 1000, segsOut: 1, segsIn: 1, retransSegs: retrans,
    retransRto: null, rttUs: 50, rttMinUs: 10, busyUs: 4000, rwndLimitedUs: 0, sndbufLimitedUs: null };
}

function conn(over: Partial<FinishedConnection>): FinishedConnection {
  return { skaddr: 'ffff000000000001', pid: 7, comm: 'srv', family: 4, saddr: '10.0.0.1', sport: 443, daddr: '10.0.0.2', dport: 5000,
    side: 'passive', handshakeMs: 0.1, acceptWaitMs: null, lifetimeMs: 5, established: true, cause: 'normal', error: 0, timeWait: false,
    synRetrans: 0, synackRetrans: 0, lastState: 'LAST_ACK', time: 0, netns: 1, totals: totals(2048, 1025), ...over };
}

describe('traffic table', () => {
  it('sums accepted connections per listening port and opened ones per remote endpoint, most bytes first', () => {
    const t = new TrafficTable(3);
    t.observe(conn({ sport: 443 }));
    t.observe(conn({ sport: 443, totals: totals(10, 20, 2) }));
    t.observe(conn({ side: 'active', sport: 40000, daddr: '10.0.0.9', dport: 5432, totals: totals(100_000, 5) }));
    t.observe(conn({ totals: null })); // not read: counted nowhere
    const s = t.snapshot();
    expect(s.all).toEqual({ connections: 3, bytesAcked: 102_058, bytesReceived: 1050, bytesRetrans: 2000, retransSegs: 2 });
    expect(s.byListenPort).toEqual([{ key: 'port 443', connections: 2, bytesAcked: 2058, bytesReceived: 1045, bytesRetrans: 2000, retransSegs: 2 }]);
    expect(s.byRemote.map((r) => r.key)).toEqual(['10.0.0.9:5432']);
    expect(s.topConnections.map((c) => c.totals!.bytesAcked)).toEqual([100_000, 2048, 10]);
    expect(s.topRetransmitting.map((c) => c.totals!.retransSegs)).toEqual([2]);
  });

  it('counts open connections into one snapshot only, marked as open', () => {
    const t = new TrafficTable(3);
    t.observe(conn({}));
    const open = conn({ open: true, totals: { ...totals(5, 6), open: true }, lastState: 'ESTABLISHED' });
    const s = t.snapshot([open]);
    expect(s.byListenPort[0]).toMatchObject({ connections: 2, bytesAcked: 2053, open: { connections: 1, bytesAcked: 5, bytesReceived: 6 } });
    expect(t.snapshot().byListenPort[0].open).toBeUndefined();
  });

  it('stays bounded: at most 4 × topN keys per table, the smallest dropped', () => {
    const t = new TrafficTable(2);
    for (let p = 1; p <= 100; p++) t.observe(conn({ sport: p, totals: totals(p, 0) }));
    const s = t.snapshot();
    expect(s.byListenPort.map((r) => r.key)).toEqual(['port 100', 'port 99']);
    expect(s.topConnections).toHaveLength(2);
  });
});

describe('--lifetimes totals', () => {
  it('TX_KB and RX_KB are whole KiB, as tcplife prints them; - when not read', () => {
    const cols = lifetimesHeader(false).split(/\s+/);
    const cells = (c: FinishedConnection) => lifetimeLine(c).split(/\s+/);
    expect(cells(conn({}))[cols.indexOf('TX_KB')]).toBe('2');
    expect(cells(conn({}))[cols.indexOf('RX_KB')]).toBe('1');
    expect(cells(conn({ totals: null }))[cols.indexOf('TX_KB')]).toBe('-');
    const wide = lifetimesHeader(true).split(/\s+/);
    expect(lifetimeLine(conn({}), true).split(/\s+/)[wide.indexOf('SRTT_MS')]).toBe('0.050');
    expect(lifetimeLine(conn({ open: true }), false)).toMatch(/ open,LAST_ACK$/);
  });

  it('CSV has a cell per header column', () => {
    expect(lifetimeCsv(conn({})).split(',')).toHaveLength(lifetimesCsvHeader().split(',').length);
    expect(lifetimesCsvHeader()).toMatch(/BYTES_ACKED,BYTES_RECEIVED/);
  });
});
