// Latency histogram with log-linear buckets (as HdrHistogram lays them out): each power of
// two is cut into 128 equal sub-buckets, so a bucket is at most 1/128 of its lower bound wide
// and a percentile, read as its bucket's midpoint, is within 0.4 % of the value at that rank.
// Min and max are exact. Bucket index = a double's exponent and top 7 mantissa bits, read
// from its bits (no logarithm on the hot path).
//
// Memory: one 128-count block (1 KiB) per power of two that holds a value, allocated on first
// use; values from 2^-30 ms (~1 ps) to 2^40 ms (~35 years) each get their own bucket (smaller
// ones count with the smallest bucket, larger with the largest), so at most 70 blocks (70 KiB)
// per histogram; a handshake histogram typically uses 5 to 20 (5-20 KiB).

const SUB_BITS = 7;
const SUBS = 1 << SUB_BITS;
const EXP_BIAS = 1023;
const MIN_EXP = -30;
const MAX_EXP = 39;
const BLOCKS = MAX_EXP - MIN_EXP + 1;

const scratch = new Float64Array(1);
const scratchHi = new Uint32Array(scratch.buffer, 4, 1); // little-endian: sign, exponent, top mantissa bits

export interface HistogramSummary {
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
  /** [upper bound in ms, count] of non-empty half-octaves (bounds 1.5·2^k and 2^(k+1) ms) */
  buckets: [number, number][];
}

/** The lower bound of bucket `sub` of block `block`, in ms. */
function lowerBound(block: number, sub: number): number {
  return 2 ** (block + MIN_EXP) * (1 + sub / SUBS);
}

export class Histogram {
  private readonly blocks: (Float64Array | undefined)[] = new Array(BLOCKS);
  /** count per block, so a percentile skips whole empty or passed blocks */
  private readonly blockCounts = new Float64Array(BLOCKS);
  /** values ≤ 0 */
  private zeros = 0;
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(ms: number): void {
    this.count++;
    if (!(ms > 0)) {
      this.zeros++;
      this.min = 0;
      return;
    }
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    scratch[0] = ms;
    const bits = scratchHi[0] >>> (20 - SUB_BITS); // exponent and the top SUB_BITS mantissa bits
    let block = (bits >>> SUB_BITS) - EXP_BIAS - MIN_EXP;
    let sub = bits & (SUBS - 1);
    if (block < 0) { block = 0; sub = 0; } else if (block >= BLOCKS) { block = BLOCKS - 1; sub = SUBS - 1; }
    const counts = this.blocks[block] ?? (this.blocks[block] = new Float64Array(SUBS));
    counts[sub]++;
    this.blockCounts[block]++;
  }

  merge(other: Histogram): void {
    for (let b = 0; b < BLOCKS; b++) {
      const theirs = other.blocks[b];
      if (!theirs) continue;
      const mine = this.blocks[b] ?? (this.blocks[b] = new Float64Array(SUBS));
      for (let s = 0; s < SUBS; s++) mine[s] += theirs[s];
      this.blockCounts[b] += other.blockCounts[b];
    }
    this.zeros += other.zeros;
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /**
   * The value at rank ⌈q·count⌉ (nearest rank, q in [0, 1]): its bucket's midpoint, clamped to
   * the exact min and max, so within 0.4 % of the recorded value at that rank.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    if (rank >= this.count) return this.max;
    if (rank === 1) return this.min;
    let seen = this.zeros;
    if (seen >= rank) return 0;
    for (let b = 0; b < BLOCKS; b++) {
      const inBlock = this.blockCounts[b];
      if (seen + inBlock < rank) {
        seen += inBlock;
        continue;
      }
      const counts = this.blocks[b]!;
      for (let s = 0; s < SUBS; s++) {
        seen += counts[s];
        if (seen >= rank) {
          const mid = (lowerBound(b, s) + lowerBound(b, s + 1)) / 2;
          return Math.min(Math.max(mid, this.min), this.max);
        }
      }
    }
    return this.max;
  }

  /** A percentile for output: rounded, yet never outside the exact min and max as printed. */
  private estimate(q: number): number {
    if (this.count === 0) return 0;
    return Math.min(Math.max(significant(this.quantile(q)), nanos(this.min)), nanos(this.max));
  }

  summary(): HistogramSummary {
    const buckets: [number, number][] = [];
    if (this.zeros) buckets.push([0, this.zeros]);
    for (let b = 0; b < BLOCKS; b++) {
      const counts = this.blocks[b];
      if (!counts) continue;
      let low = 0;
      for (let s = 0; s < SUBS / 2; s++) low += counts[s];
      const high = this.blockCounts[b] - low;
      if (low) buckets.push([significant(lowerBound(b, SUBS / 2)), low]);
      if (high) buckets.push([significant(lowerBound(b + 1, 0)), high]);
    }
    return {
      count: this.count,
      sum: nanos(this.sum),
      min: this.count ? nanos(this.min) : 0,
      max: nanos(this.max),
      p50: this.estimate(0.5),
      p90: this.estimate(0.9),
      p99: this.estimate(0.99),
      buckets,
    };
  }
}

/** Exact values (min, max, sum) to the ns the kernel measures in. */
function nanos(ms: number): number {
  return ms < 1e9 ? Math.round(ms * 1e6) / 1e6 : ms; // beyond ~11 days, doubles hold no ns digit anyway
}

/** Estimates to five significant digits: the rounding adds at most 0.005 %. */
function significant(ms: number): number {
  return ms === 0 ? 0 : Number(ms.toPrecision(5));
}
