// The flight recorder gives way while the event loop is far behind the kernel (give-way.ts): a
// batch is skipped while the events estimated to wait behind it (the loop's lag times the
// kernel's recent rate) are over BEHIND_EVENTS, until fewer than RESUME_EVENTS wait; a long stall
// at a low rate never gives way.
import { describe, expect, it } from 'vitest';
import { BEHIND_EVENTS, GiveWay, RESUME_EVENTS } from '../../src/sinks/recorder/give-way';
import type { TcpEvent } from '../../src/decode/event';

const MS = 1e6;

/** `rate` events/s of kernel time in batches of 1 000, the newest at `toMs`, as a loop `lagMs` behind sees them. */
function feed(g: GiveWay, clock: { ns: number }, rate: number, fromMs: number, toMs: number, lagMs: number): boolean[] {
  const out: boolean[] = [];
  const step = 1000 / rate * 1000; // ms per batch of 1 000
  for (let t = fromMs + step; t <= toMs + 1e-9; t += step) {
    clock.ns = (t + lagMs) * MS;
    out.push(g.skips(Array.from({ length: 1000 }, () => ({ tsNs: t * MS }) as TcpEvent)));
  }
  return out;
}

describe('giving way', () => {
  it('a storm the loop is 0.6 s behind gives way; back within reach, it writes again', () => {
    const clock = { ns: 0 };
    const g = new GiveWay(() => clock.ns);
    expect(feed(g, clock, 200_000, 0, 1000, 50).every((s) => !s)).toBe(true); // the usual 50 ms
    const behind = feed(g, clock, 200_000, 1000, 2000, (BEHIND_EVENTS / 200_000) * 1000 + 50);
    expect(behind.every((s) => s)).toBe(true);
    // still over RESUME_EVENTS: no flapping
    expect(feed(g, clock, 200_000, 2000, 2100, (RESUME_EVENTS / 200_000) * 1000 + 20).every((s) => s)).toBe(true);
    expect(feed(g, clock, 200_000, 2100, 2500, 50).every((s) => !s)).toBe(true);
  });

  it('a stall of seconds at 4 000 events/s does not (the backlog holds minutes of them)', () => {
    const clock = { ns: 0 };
    const g = new GiveWay(() => clock.ns);
    expect(feed(g, clock, 4000, 0, 3000, 3000).some((s) => s)).toBe(false);
    expect(g.skips([])).toBe(false);
  });
});
