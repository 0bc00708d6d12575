// The flight recorder gives way while the event loop is behind the kernel (give-way.ts): a batch
// whose newest event is more than BEHIND_MS old is skipped (its lines counted by the caller),
// and writing resumes only once the loop is within RESUME_MS again.
import { describe, expect, it } from 'vitest';
import { BEHIND_MS, GiveWay, RESUME_MS } from '../../src/sinks/recorder/give-way';
import type { TcpEvent } from '../../src/decode/event';

const MS = 1e6;
const batch = (...tsMs: number[]) => tsMs.map((t) => ({ tsNs: t * MS }) as TcpEvent);

describe('giving way', () => {
  it('skips from BEHIND_MS of lag until back within RESUME_MS, judged on the newest event', () => {
    let now = 100_000 * MS;
    const g = new GiveWay(() => now);
    expect(g.skips(batch(99_000, 100_000 - 60))).toBe(false); // the usual 50 ms flush
    expect(g.skips(batch(100_000 - BEHIND_MS))).toBe(false);
    expect(g.skips(batch(100_000 - BEHIND_MS - 1))).toBe(true);
    expect(g.skips(batch(100_000 - RESUME_MS - 1))).toBe(true); // still behind: no flapping
    now += 10 * MS;
    expect(g.skips(batch(100_010 - RESUME_MS))).toBe(false);
    expect(g.skips(batch(100_010 - BEHIND_MS + 1))).toBe(false);
    expect(g.skips([])).toBe(false);
  });
});
