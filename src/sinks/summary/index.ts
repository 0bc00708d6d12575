// --summary: the stats report at exit and every --interval seconds (the pipeline's ticks).
import { formatSummary, summaryJson } from './report';
import type { StatsEngine } from '../../derive/stats';
import type { OpenReader } from '../../derive/open-connections';
import type { StatusReport } from '../../status';
import type { Sink, Writer } from '../sink';

export interface SummaryOptions {
  json: boolean;
  /** also report every this many seconds */
  intervalSec?: number;
}

export class SummarySink implements Sink {
  readonly tickMs?: number;

  constructor(private readonly out: Writer, private readonly stats: StatsEngine, private readonly options: SummaryOptions,
    private readonly open?: OpenReader) {
    if (options.intervalSec) this.tickMs = options.intervalSec * 1000;
  }

  write(): void {
    // The shared engine is fed by the pipeline; this sink only reports.
  }

  tick(status: StatusReport): void {
    // Connections still open: their figures so far, read now (one sock_diag dump per namespace).
    const snap = this.stats.snapshot(this.open?.read());
    this.out(this.options.json ? summaryJson(snap, status.counters) : formatSummary(snap, status.counters));
  }

  end(status: StatusReport): void {
    this.tick(status);
  }
}
