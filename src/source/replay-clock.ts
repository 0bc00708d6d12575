// A replay's clock: the trace's time (CLOCK_MONOTONIC ns of the capturing host), paced against
// the wall clock at --speed F or not at all, and the periodic reports that run in it (the
// pipeline's timers: every()). In a capture with `counters` records (one per second, written
// on the same timer list as the live run's reports) a report every N seconds fires at every
// Nth record, after the same events as live; otherwise when trace time passes its due time.
// Nothing to wait for and nothing due: advanceTo() returns undefined, the fast path.

/** The capture writer's tick (src/format/capture-writer.ts): a `counters` record each. */
const CAPTURE_TICK_MS = 1000;
/** Paced: events within this much wall time go out together. */
const PACE_SLACK_MS = 5;

interface TraceTimer { periodNs: number; nextNs: number; fn: () => void; cancelled: boolean }

export class TraceClock {
  startNs = NaN;
  nowNs = NaN;
  private ticks = 0;
  private wallStart = 0;
  private readonly timers: TraceTimer[] = [];

  /** `flush` hands over what is batched before a report or a wait; `ticked` says whether the capture has counters records. */
  constructor(private readonly speed: number | undefined, private readonly flush: () => void, private readonly ticked: () => boolean) {}

  /** The wall clock starts now (run()). */
  begin(): void {
    this.wallStart = performance.now();
  }

  /** The trace begins at `ns` (its header, or its first event): timers count from here. */
  startAt(ns: number): void {
    if (Number.isFinite(this.startNs)) return;
    this.startNs = ns;
    this.nowNs = ns;
    for (const t of this.timers) t.nextNs = ns + t.periodNs;
  }

  every(ms: number, fn: () => void): () => void {
    const t: TraceTimer = { periodNs: ms * 1e6, nextNs: this.startNs + ms * 1e6, fn, cancelled: false };
    this.timers.push(t);
    return () => { t.cancelled = true; };
  }

  /** A `counters` record at `ns`: the reports on capture ticks that are due fire. */
  async captureTick(ns: number): Promise<void> {
    await this.advanceTo(ns);
    this.ticks++;
    for (const t of this.timers) {
      const every = t.periodNs / 1e6 / CAPTURE_TICK_MS;
      if (!t.cancelled && Number.isInteger(every) && this.ticks % every === 0) {
        this.flush();
        t.fn();
      }
    }
  }

  /** Moves trace time to `ns`: waits when paced, fires the time-driven reports on the way. */
  advanceTo(ns: number): Promise<void> | undefined {
    if (!this.speed && this.nextDue(ns) === undefined) {
      if (!(ns <= this.nowNs)) this.nowNs = ns;
      return undefined;
    }
    return this.advanceSlowly(ns);
  }

  private byTicks(t: TraceTimer): boolean {
    return this.ticked() && Number.isInteger(t.periodNs / 1e6 / CAPTURE_TICK_MS);
  }

  private nextDue(ns: number): TraceTimer | undefined {
    let due: TraceTimer | undefined;
    for (const t of this.timers) if (!t.cancelled && !this.byTicks(t) && t.nextNs <= ns && (!due || t.nextNs < due.nextNs)) due = t;
    return due;
  }

  private async advanceSlowly(ns: number): Promise<void> {
    for (;;) {
      const timer = this.nextDue(ns);
      const due = timer ? timer.nextNs : ns;
      if (this.speed) {
        const wait = this.wallStart + (due - this.startNs) / 1e6 / this.speed - performance.now();
        if (wait > PACE_SLACK_MS) {
          this.flush();
          await new Promise((r) => setTimeout(r, wait));
        }
      }
      if (!(due <= this.nowNs)) this.nowNs = due;
      if (!timer) return;
      this.flush();
      timer.nextNs += timer.periodNs;
      timer.fn();
    }
  }
}
