import { describe, expect, it } from 'vitest';
import { StatsEngine } from '../../src/derive/stats';
import { ConnectionTracker } from '../../src/derive/connections';
import { sampleEvent } from '../helpers/sample';
import { withFinished } from '../helpers/derive';

describe('StatsEngine', () => {
  it('top-N tables stay bounded under many endpoints', () => {
    const stats = new StatsEngine(5);
    const batch = [];
    for (let i = 0; i < 5000; i++) {
      batch.push(sampleEvent({ skaddr: `s${i}`, dport: 1000 + i, oldState: 2, newState: 1, handshakeUs: 100 }));
    }
    withFinished(stats)(batch);
    const snap = stats.snapshot();
    expect(snap.handshake.byRemote).toHaveLength(5);
    expect(snap.handshake.active.count).toBe(5000);
  });

  it('a refused connect is a failed connect by peer and cause', () => {
    const stats = new StatsEngine();
    withFinished(stats)([
      sampleEvent({ skaddr: 'a', oldState: 7, newState: 2, dport: 9, durationNs: null, handshakeUs: 0 }),
      sampleEvent({ skaddr: 'a', oldState: 2, newState: 7, dport: 9, cause: 'refused', error: 111, handshakeUs: 0 }),
    ]);
    expect(stats.snapshot().failedConnects).toEqual({
      total: 1, byCause: { refused: 1 }, byPeer: [{ peer: '127.0.0.1:9', count: 1, causes: { refused: 1 } }],
    });
  });
});

describe('ConnectionTracker', () => {
  it('forgets the oldest open connections beyond its capacity', () => {
    const t = new ConnectionTracker(100);
    const batch = [];
    for (let i = 0; i < 1000; i++) batch.push(sampleEvent({ skaddr: `s${i}`, oldState: 7, newState: 2 }));
    t.observe(batch);
    expect(t.size).toBe(100);
  });
});
