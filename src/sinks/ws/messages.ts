// The stream's hello and stats messages (docs/STREAM.md), built from what the sink is given.
import os from 'node:os';
import { ringPeakFraction } from '../../probe/delivery';
import { SCHEMA_VERSION } from '../../format/schema';
import type { StatsSnapshot } from '../../derive/stats';
import type { StatusReport } from '../../status';
import { VERSION } from '../../util/version';
import { ArrowCounter } from './arrows';
import { trafficMessage } from './traffic-message';
import type { StreamLimits } from './options';
import { PROTOCOL_VERSION, type HelloMessage } from './protocol';

export function helloMessage(status: Pick<StatusReport, 'attach' | 'delivery'>, options: Record<string, unknown>, limits: StreamLimits): HelloMessage {
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    schema: SCHEMA_VERSION,
    version: VERSION,
    host: os.hostname(),
    kernel: os.release(),
    attach: status.attach,
    delivery: status.delivery,
    options: options,
    limits: {
      max_clients: limits.maxClients,
      max_payload: limits.maxPayload,
      buffer_cap: limits.bufferCap,
      stats_interval_ms: limits.statsIntervalMs,
      max_sample: limits.maxSample,
    },
    time: new Date().toISOString(),
  };
}

/** Builds each interval's `stats` message; rates are per second since the previous one. */
export class StatsMessages {
  private lastTick = performance.now();
  /** a replay's trace clock at the last stats (rates are per second of the trace there) */
  private lastTrace?: number;
  private lastEvents = 0;
  private lastInto: Record<string, number> = {};
  private readonly arrows = new ArrowCounter();

  next(snap: StatsSnapshot, status: StatusReport, clients: number): Record<string, unknown> {
    const { counters } = status;
    const now = performance.now();
    const trace = status.traceTime;
    const elapsed = trace !== undefined && this.lastTrace !== undefined ? trace - this.lastTrace : now - this.lastTick;
    const seconds = Math.max(elapsed / 1000, 1e-3);
    this.lastTick = now;
    this.lastTrace = trace;
    const byState: Record<string, number> = {};
    for (const [state, n] of Object.entries(snap.intoState)) {
      const rate = (n - (this.lastInto[state] ?? 0)) / seconds;
      if (rate > 0) byState[state] = Math.round(rate * 100) / 100;
    }
    const rate = Math.round(((snap.events - this.lastEvents) / seconds) * 100) / 100;
    this.lastInto = snap.intoState;
    this.lastEvents = snap.events;
    return {
      type: 'stats',
      time: new Date().toISOString(),
      // a replay: the trace's own clock (docs/STREAM.md), which the dashboard shows
      ...(trace !== undefined && Number.isFinite(trace) ? { trace_time: new Date(trace).toISOString() } : {}),
      interval_ms: Math.round(seconds * 1000),
      events: snap.events,
      rate,
      by_state: byState,
      into_state: snap.intoState,
      current: snap.current,
      census: snap.census,
      ...this.arrows.next(snap, seconds),
      handshake: { active: snap.handshake.active, passive: snap.handshake.passive },
      accept_wait: snap.acceptWait.all,
      failed_connects: { total: snap.failedConnects.total, by_cause: snap.failedConnects.byCause },
      closes: snap.closes,
      traffic: trafficMessage(snap.traffic),
      // the listeners' last 10 s of samples: the dashboard keeps the longer history
      handshakes: { ...snap.handshakes, listeners: snap.handshakes.listeners.map((l) => ({ ...l, series: l.series.slice(-100) })) },
      kernel: { seen: counters.seen, delivered: counters.delivered, lost: counters.lost, missed: counters.missed, ring_peak: ringPeak(status) },
      clients,
    };
  }
}

/** The ring's high-water mark (fraction full, 3 decimals), null with a perf buffer. */
function ringPeak(status: StatusReport): number | null {
  const peak = ringPeakFraction(status.deliveryStats);
  return peak === undefined ? null : Math.round(peak * 1000) / 1000;
}
