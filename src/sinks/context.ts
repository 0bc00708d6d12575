// What the code that builds sinks is given besides their options (src/sinks/index.ts, fleet.ts):
// where output goes and what the derive stage made. Apart from the index, so that the builders
// here can name it without importing the index back. Never the Tracer, never the CLI's Plan.
import type { TracerStatus } from '../status';
import type { StatsEngine } from '../derive/stats';
import type { SocketCensus } from '../census/census';
import type { OpenReader } from '../derive/open-connections';
import type { ListenerPressure } from '../derive/listener-pressure';
import type { Output, Writer } from './sink';
import type { CaptureFeed } from '../format/capture-records';

export interface SinkInputs {
  /** The running tracer's counters and facts (never the Tracer itself). */
  status: TracerStatus;
  /** stdout */
  out: Output;
  /** stderr, one line per call */
  log: Writer;
  /** The one stats engine, fed by the pipeline before the sinks; needed by --summary and the stream. */
  stats?: StatsEngine;
  /** Sockets in each state now (fed by the pipeline before sinks); absent when nothing reads it. */
  census?: SocketCensus;
  /** The live tracer's facts and census for a capture (-j, --capture); absent in a replay. */
  capture?: CaptureFeed;
  /** Connections open now with their figures so far (sock_diag), for reports at exit or interval. */
  openConnections?: OpenReader;
  /** Listeners under pressure and their accept queues (handshake diagnosis), when sampled. */
  pressure?: ListenerPressure;
}
