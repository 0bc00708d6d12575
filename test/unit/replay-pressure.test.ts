// The listener-pressure samples make the round trip through a capture's `pressure` records: at
// every tick, what a replay's reports read is what the live reports read (docs/REPLAY.md), with
// the series bounded as the live one is, and a listener that could not be read says why.
import { describe, expect, it } from 'vitest';
import { ListenerPressure, SAMPLE_MS, type ListenQueue } from '../../src/derive/listener-pressure';
import { PressureDelta } from '../../src/source/capture-pressure';
import { ReplayPressure } from '../../src/source/replay-pressure';

describe('pressure records', () => {
  it('a replay reads the rows the live reports read, tick after tick', () => {
    let now = 1796500000000;
    let fill = 0;
    let drops = 0;
    let readable = true;
    const read = (): ListenQueue[] | string => readable
      ? [{ port: 7101, family: 4, backlog: fill, limit: 1, drops }, { port: 8080, family: 4, backlog: 0, limit: 128, drops: 0 }]
      : 'no process or mount opens network namespace 7';
    const live = new ListenerPressure(read, () => now);
    // the namespace lookup is the sampler's own: our namespace (path '') for these rows
    (live as unknown as { scan: unknown }).scan = { own: 7, unreadable: 0, namespaces: [] };
    const delta = new PressureDelta();
    const replay = new ReplayPressure();
    const tick = () => {
      const rec = delta.next(live.rows());
      if (rec) replay.add(JSON.parse(JSON.stringify(rec)));
      expect(replay.rows()).toEqual(live.rows());
      expect(JSON.stringify(replay.rows())).toBe(JSON.stringify(live.rows()));
      return rec;
    };
    expect(tick()).toBeUndefined(); // nothing under pressure: no record
    live.press(7, 7101);
    for (let s = 0; s < 1500; s++) { // 150 s of samples: past the 600 points the live series keeps
      now += SAMPLE_MS;
      fill = s % 7 === 0 ? 2 : s % 3;
      drops += s % 5 === 0 ? 1 : 0;
      if (s % 40 === 0) live.press(7, 7101); // pressure again, so sampling goes on
      live.sample();
      if (s % 10 === 9) tick();
    }
    live.press(7, 8080);
    tick();
    // unchanged: no record
    expect(tick()).toBeUndefined();
    // the namespace cannot be read: sampling stops with the reason
    readable = false;
    now += SAMPLE_MS;
    live.sample();
    const last = tick()!;
    expect(last.listeners.map((l) => l.error)).toEqual(['no process or mount opens network namespace 7', 'no process or mount opens network namespace 7']);
    expect(replay.rows()[0].series).toHaveLength(600);
    live.stop();
  });

  it('records carry only the listeners that changed and only their new points', () => {
    const delta = new PressureDelta();
    const row = { netns: 1, port: 80, fill: 1, limit: 4, peak: 1, fullMs: 0, drops: 0, sampling: true, series: [[1, 1]] as [number, number][] };
    const other = { ...row, port: 81, series: [[1, 0]] as [number, number][] };
    expect(delta.next([row, other])!.listeners.map((l) => l.port)).toEqual([80, 81]);
    const next = delta.next([{ ...row, fill: 2, peak: 2, series: [[1, 1], [2, 2]] }, other])!;
    expect(next.listeners).toEqual([{ netns: 1, port: 80, fill: 2, limit: 4, peak: 2, full_ms: 0, drops: 0, sampling: true, error: null, points: 2, series: [[2, 2]] }]);
    // two samples in one millisecond: the second is new too
    expect(delta.next([{ ...row, fill: 3, peak: 3, series: [[1, 1], [2, 2], [2, 3]] }, other])!.listeners[0].series).toEqual([[2, 3]]);
    expect(delta.next([{ ...row, fill: 3, peak: 3, series: [[1, 1], [2, 2], [2, 3]] }, other])).toBeUndefined();
  });
});
