// Per-client sampling for the stream (docs/STREAM.md, "Sampling"): a client that drains its
// socket slower than its events arrive gets whole connections, 1 in N, instead of losing
// events at random once its buffer is full. Nothing here touches a socket: the sink feeds it
// the client's buffered byte count and what it sent, so the policy is testable on its own.

/**
 * Which connections a 1-in-N sample keeps: a socket is in the sample when the low bits of a
 * hash of its kernel address (`skaddr`) are zero. N is a power of two, so raising N only
 * removes connections from the sample and lowering it only adds some: a connection in the
 * sample keeps every transition for as long as N does not grow past it.
 */
export function inSample(skaddrHash: number, n: number): boolean {
  return (skaddrHash & (n - 1)) === 0;
}

/**
 * The hash of an `skaddr` (16 hex digits): its low 32 bits through murmur3's finalizer.
 * Socket addresses are slab-aligned, so their low bits alone would not spread.
 */
export function skaddrHash(skaddr: string): number {
  let h = parseInt(skaddr.slice(-8), 16) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface SamplerLimits {
  /** buffered bytes above which N is raised */
  high: number;
  /** N is lowered after `lowerAfterMs` in which the buffer never went above this */
  low: number;
  /** largest N (a power of two) */
  maxN: number;
  /** the shortest window a drain rate is measured over */
  windowMs?: number;
  lowerAfterMs?: number;
}

export class Sampler {
  /** keep 1 connection in `n` */
  n = 1;
  private readonly windowMs: number;
  private readonly lowerAfterMs: number;
  // drain measurement over the current window
  private windowStart: number;
  private bufferedAtStart = 0;
  private sentInWindow = 0;
  /** the last change of n, or the last time the buffer was above `low` if later */
  private calmSince: number;
  private bufferedAtRaise = 0;

  constructor(private readonly limits: SamplerLimits, now: number) {
    this.windowMs = limits.windowMs ?? 25;
    this.lowerAfterMs = limits.lowerAfterMs ?? 2000;
    this.windowStart = now;
    this.calmSince = now;
  }

  /** Records bytes handed to the client's socket. */
  sent(bytes: number): void {
    this.sentInWindow += bytes;
  }

  /**
   * Looks at the client's buffer before a send and returns the N to sample with. Past `high`,
   * N goes up: at the end of each window, by the power of two that would make what is sent
   * fit what the client drained in it (with a margin of 2), if the buffer grew; within a
   * window, 4x for every further high/2 the buffer grew since the last raise (a batch of
   * thousands of events arrives at once, faster than any window). N comes down by halves
   * once the buffer has stayed under `low` for `lowerAfterMs`.
   */
  adjust(buffered: number, now: number): number {
    if (buffered > this.limits.low) this.calmSince = now;
    const over = buffered > this.limits.high && this.n < this.limits.maxN;
    if (now - this.windowStart >= this.windowMs) {
      const sent = this.sentInWindow;
      const drained = this.bufferedAtStart + sent - buffered;
      this.windowStart = now;
      this.bufferedAtStart = buffered;
      this.sentInWindow = 0;
      if (over && drained < sent) {
        // Nothing drained (a paused tab, a GC): 8x per window, not the top at once.
        this.raise(drained <= 0 ? 8 : (2 * sent) / drained, buffered, now);
      } else if (this.n > 1 && now - this.calmSince >= this.lowerAfterMs) {
        this.n /= 2;
        this.calmSince = now;
      }
    } else if (over && buffered - this.bufferedAtRaise >= this.limits.high / 2) {
      this.raise(4, buffered, now);
    }
    return this.n;
  }

  /** Multiplies n by the power of two at or above `factor` (at least 2), up to maxN. */
  private raise(factor: number, buffered: number, now: number): void {
    let step = 2;
    while (step < factor && this.n * step < this.limits.maxN) step *= 2;
    this.n = Math.min(this.n * step, this.limits.maxN);
    this.bufferedAtRaise = buffered;
    this.calmSince = now;
  }
}
