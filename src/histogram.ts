// Fixed-bucket latency histogram: bounded memory whatever the traffic, percentiles
// interpolated inside a bucket (buckets grow by √2, so the error stays under ~20 %).

const FIRST_BOUND_MS = 0.001; // 1 µs
const GROWTH = Math.SQRT2;
const BUCKETS = 72; // up to ~ 1 µs · √2^71 ≈ 48 min; larger values land in the last bucket

export const BUCKET_BOUNDS_MS: readonly number[] = Array.from({ length: BUCKETS }, (_, i) => FIRST_BOUND_MS * GROWTH ** i);

export interface HistogramSummary {
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
  /** [upper bound in ms, count] of non-empty buckets */
  buckets: [number, number][];
}

export class Histogram {
  private counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    let i = v <= FIRST_BOUND_MS ? 0 : Math.ceil(Math.log(v / FIRST_BOUND_MS) / Math.LN2 * 2 - 1e-9);
    if (i >= BUCKETS) i = BUCKETS - 1;
    this.counts[i]++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** q in [0, 1]; linear inside the bucket, clamped to the observed min and max. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.counts[i];
      if (c === 0) continue;
      if (seen + c >= rank) {
        const lo = i === 0 ? 0 : BUCKET_BOUNDS_MS[i - 1];
        const hi = BUCKET_BOUNDS_MS[i];
        const v = lo + ((rank - seen) / c) * (hi - lo);
        return Math.min(Math.max(v, this.min), this.max);
      }
      seen += c;
    }
    return this.max;
  }

  /** Count of values above `ms` (bucket resolution). */
  countAbove(ms: number): number {
    let n = 0;
    for (let i = 0; i < BUCKETS; i++) if ((i === 0 ? 0 : BUCKET_BOUNDS_MS[i - 1]) >= ms) n += this.counts[i];
    return n;
  }

  summary(): HistogramSummary {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]) buckets.push([round(BUCKET_BOUNDS_MS[i]), this.counts[i]]);
    return {
      count: this.count,
      sum: round(this.sum),
      min: this.count ? round(this.min) : 0,
      max: round(this.max),
      p50: round(this.quantile(0.5)),
      p90: round(this.quantile(0.9)),
      p99: round(this.quantile(0.99)),
      buckets,
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
