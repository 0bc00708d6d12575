// What the code that builds sinks is given (src/sinks/index.ts, fleet.ts). Apart from the
// index, so that the sinks built here can name it without importing the index back.
import type { Plan } from '../options';
import type { TracerStatus } from '../status';
import type { StatsEngine } from '../stats';
import type { SocketCensus } from '../census';
import type { Output, Writer } from './sink';

export interface SinkContext {
  plan: Plan;
  /** The running tracer's counters and facts (never the Tracer itself). */
  status: TracerStatus;
  /** stdout */
  out: Output;
  /** stderr, one line per call */
  log: Writer;
  /** The one shared stats engine (created on first use; fed by the CLI before sinks). */
  stats(): StatsEngine;
  /** Sockets in each state now (fed by the CLI before sinks); absent when nothing reads it. */
  census?: SocketCensus;
}
