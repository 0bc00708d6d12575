// The connections still open make the round trip through a capture's `open` record: what a
// replay's reports read is what the live reports read (docs/REPLAY.md).
import { describe, expect, it } from 'vitest';
import { openRecord } from '../../src/format/capture-records';
import { ReplayOpen } from '../../src/source/replay-open';
import type { FinishedConnection } from '../../src/derive/connections';
import type { OpenConnectionsReport } from '../../src/derive/open-connections';

const conn = (over: Partial<FinishedConnection>): FinishedConnection => ({
  skaddr: '', pid: 4242, comm: 'redis-server', family: 4, saddr: '10.0.0.1', sport: 6379, daddr: '10.0.0.2', dport: 51000,
  side: 'passive', handshakeMs: null, acceptWaitMs: null, lifetimeMs: null, established: true, cause: '', error: 0, timeWait: false,
  synRetrans: 0, synackRetrans: 0, lastState: 'ESTABLISHED', time: 1796500371371, netns: 4026531840,
  totals: { bytesAcked: 1000, bytesReceived: 2000, bytesRetrans: 0, segsOut: 10, segsIn: 12, retransSegs: 1, retransRto: null, rttUs: 29,
    rttMinUs: 20, busyUs: 500, rwndLimitedUs: 0, sndbufLimitedUs: null, open: true },
  open: true, // (the live reader's order)
  ...over,
});

describe('open record', () => {
  const live: OpenConnectionsReport = {
    connections: [conn({}), conn({ pid: 0, comm: '', side: '', sport: 40000, dport: 80, lastState: 'SYN_SENT', established: false, family: 6, saddr: '::1', daddr: '::1' })],
    total: 2, errors: ['network namespace 7: gone'], time: 1796500371371,
  };
  const record = JSON.parse(JSON.stringify(openRecord(live)));

  it('reads back what the live reports read, at its report only', () => {
    const replay = new ReplayOpen();
    expect(replay.read().connections).toEqual([]);
    replay.add(record);
    expect(replay.read()).toEqual(live);
    expect(JSON.stringify(replay.read())).toBe(JSON.stringify(live)); // --summary --json dumps them: same key order
    replay.clear();
    expect(replay.read().total).toBe(0);
  });

  it('applies the replay\'s port and family filters', () => {
    const replay = new ReplayOpen({ localPorts: [6379] });
    replay.add(record);
    expect(replay.read().connections.map((c) => c.sport)).toEqual([6379]);
    expect(replay.read().total).toBe(1);
    const v6 = new ReplayOpen({ family: 6 });
    v6.add(record);
    expect(v6.read().connections.map((c) => c.family)).toEqual([6]);
  });
});
