// The histogram against the truth: sorted arrays of the same values, every percentile.
import { describe, expect, it } from 'vitest';
import { Histogram } from '../../src/derive/histogram';

/** Deterministic values (xorshift), so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

/** The value at rank ⌈q·n⌉ of the sorted values (the nearest-rank definition). */
function nearestRank(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

const QUANTILES = [0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1];

const shapes: Record<string, (r: () => number) => number> = {
  'loopback handshakes (µs, uniform 5-200 µs)': (r) => 0.005 + r() * 0.195,
  'log-normal around 20 ms': (r) => 20 * Math.exp(1.5 * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r())),
  'dropped SYNs: 1007 ms and 2034 ms with jitter': (r) => (r() < 0.6 ? 1007 : 2034) + r() * 3,
  'lifetimes: 1 µs to a day, log-uniform': (r) => 0.001 * 10 ** (r() * 11),
  'integers 1..50 (many ties)': (r) => 1 + Math.floor(r() * 50),
};

describe('Histogram', () => {
  for (const [name, draw] of Object.entries(shapes)) {
    it(`every percentile within 1 % of the sorted truth: ${name}`, () => {
      const r = random(name.length * 7919);
      const values = Array.from({ length: 20_000 }, () => draw(r));
      const h = new Histogram();
      for (const v of values) h.record(v);
      const sorted = [...values].sort((a, b) => a - b);
      for (const q of QUANTILES) {
        const truth = nearestRank(sorted, q);
        expect(Math.abs(h.quantile(q) - truth) / truth, `q=${q}: ${h.quantile(q)} vs ${truth}`).toBeLessThanOrEqual(0.004);
      }
      const s = h.summary();
      expect([s.count, s.min, s.max]).toEqual([values.length, Math.round(sorted[0] * 1e6) / 1e6, Math.round(sorted.at(-1)! * 1e6) / 1e6]);
      for (const [q, got] of [[0.5, s.p50], [0.9, s.p90], [0.99, s.p99]] as const) {
        expect(Math.abs(got - nearestRank(sorted, q)) / nearestRank(sorted, q)).toBeLessThanOrEqual(0.005);
      }
      expect(s.buckets.reduce((n, [, c]) => n + c, 0)).toBe(values.length);
    });
  }

  it('two values: each percentile names a value that was recorded (no interpolation between)', () => {
    const h = new Histogram();
    for (let i = 0; i < 60; i++) h.record(1007);
    for (let i = 0; i < 40; i++) h.record(2034);
    expect(h.quantile(0.5)).toBeCloseTo(1007, -1);
    expect(Math.abs(h.quantile(0.9) - 2034) / 2034).toBeLessThan(0.004);
    expect(h.quantile(0.6)).toBeLessThan(1011);
    expect(h.quantile(0.61)).toBeGreaterThan(2026);
  });

  it('printed percentiles stay within the printed min and max', () => {
    const h = new Histogram();
    for (const v of [301.2, 305.0594, 305.0594]) h.record(v);
    const s = h.summary();
    for (const p of [s.p50, s.p90, s.p99]) {
      expect(p).toBeLessThanOrEqual(s.max);
      expect(p).toBeGreaterThanOrEqual(s.min);
    }
  });

  it('merge equals recording everything in one', () => {
    const r = random(3);
    const a = new Histogram();
    const b = new Histogram();
    const all = new Histogram();
    for (let i = 0; i < 5000; i++) {
      const v = 10 ** (r() * 6 - 2);
      (i % 3 ? a : b).record(v);
      all.record(v);
    }
    a.merge(b);
    expect(a.summary()).toEqual(all.summary());
  });

  it('zeros, negatives and values outside the range are counted; memory stays bounded', () => {
    const h = new Histogram();
    for (const v of [0, -5, 1e-15, 1e15, Number.MAX_VALUE, 3]) h.record(v);
    const s = h.summary();
    expect(s.count).toBe(6);
    expect(s.min).toBe(0);
    expect(s.max).toBe(Number.MAX_VALUE);
    expect(h.quantile(0.2)).toBe(0);
    // One 128-count block per power of two in use, at most 70 of them.
    const blocks = (h as unknown as { blocks: (Float64Array | undefined)[] }).blocks;
    expect(blocks.length).toBe(70);
    expect(blocks.filter(Boolean).length).toBe(3);
  });

  it('an empty histogram reports zeros', () => {
    expect(new Histogram().summary()).toEqual({ count: 0, sum: 0, min: 0, max: 0, p50: 0, p90: 0, p99: 0, buckets: [] });
  });
});
