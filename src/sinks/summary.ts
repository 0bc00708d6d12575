// --summary: the stats report at exit and every --interval seconds.
import { formatSummary, summaryJson } from '../report';
import type { StatsEngine } from '../stats';
import type { Counters } from '../status';
import type { Sink, Writer } from './sink';

export class SummarySink implements Sink {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly out: Writer,
    private readonly stats: StatsEngine,
    private readonly counters: () => Counters,
    private readonly json: boolean,
    intervalSec?: number,
  ) {
    if (intervalSec) this.timer = setInterval(() => this.print(), intervalSec * 1000);
  }

  write(): void {
    // The shared engine is fed by the pipeline; this sink only reports.
  }

  private print(): void {
    const snap = this.stats.snapshot();
    const c = this.counters();
    this.out(this.json ? summaryJson(snap, c) : formatSummary(snap, c));
  }

  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.print();
  }
}
