// The measurement feed that Prometheus (src/sinks/metrics.ts) and OTLP (src/sinks/otlp.ts)
// share: both see the same transitions, handshakes, accept waits, failed connects, closes and
// lifetimes, fed per event and per finished connection (never from summaries). What each
// measurement is called is in the metric catalogue (metric-catalogue.ts). Apart from both
// sinks so that --otlp never loads prom-client.
import { release } from 'node:os';
import { closeLabel, failedConnectCause, type FinishedConnection } from './connections';
import type { ConnTotals, TcpEvent } from '../decode/event';
import { State, stateName } from '../decode/states';
import type { TracerStatus } from '../status';
import { VERSION } from '../util/version';
import { finalDiagnosis } from './handshake-book';
import type { ListenerPressureRow } from './listener-pressure';

/** Which listening ports get their own series (opt-in: cardinality). */
export type PortSelection = 'all' | number[];

/** At most this many distinct ports are labelled under 'all'; the rest share port="other". */
export const MAX_LABELLED_PORTS = 256;

/** What the feed reports; one implementation per metrics system. */
export interface MetricsBackend {
  transition(oldState: string, newState: string): void;
  handshake(direction: 'active' | 'passive', seconds: number): void;
  /** Only for listening ports selected by the opt-in. */
  listenPortHandshake?(port: string, seconds: number): void;
  connectFailed(cause: string): void;
  /** Accept-queue wait of one connection; `port` only for ports selected by the opt-in. */
  acceptWait?(seconds: number, port: string | undefined): void;
  closed(cause: string, side: string, lifetimeSeconds: number | null): void;
  /** A finished connection's totals (bytes each way, retransmits); `port` only for listening ports selected by the opt-in. */
  totals(side: string, port: string | undefined, t: ConnTotals): void;
  /** A connection's final handshake diagnosis; `port` is the listener's label or 'all'. */
  handshakeDiagnosis?(why: string, port: string): void;
  /** End of a batch: apply what was accumulated. */
  flush?(): void;
}

/** Static facts about the running tracer, exported as an info metric. */
export interface TracerInfo {
  version: string;
  kernel: string;
  attach: string;
  delivery: string;
}

export function tracerInfo(tracer: Pick<TracerStatus, 'attach' | 'delivery'>): TracerInfo {
  return {
    version: VERSION,
    kernel: release(),
    attach: tracer.attach,
    delivery: tracer.delivery,
  };
}

/** Turns event batches into backend calls. */
export class MetricsFeed {
  private readonly portLabels = new Map<number, string>();

  constructor(private readonly backends: MetricsBackend[], private readonly ports?: PortSelection) {}

  /** A batch of transitions and the connections that finished in it (the pipeline's one tracker). */
  observe(batch: TcpEvent[], finished: readonly FinishedConnection[]): void {
    for (const e of batch) {
      const oldName = stateName(e.oldState);
      const newName = stateName(e.newState);
      for (const b of this.backends) b.transition(oldName, newName);
      if (e.diagnosis || e.newState === State.CLOSE) {
        const d = finalDiagnosis(e);
        if (d) for (const b of this.backends) b.handshakeDiagnosis?.(d.why, this.portLabel(d.listenerPort) ?? 'all');
      }
      if (e.newState === State.ESTABLISHED && e.handshakeUs) {
        const seconds = e.handshakeUs / 1e6;
        const direction = e.oldState === State.SYN_SENT ? 'active' : e.oldState === State.SYN_RECV ? 'passive' : undefined;
        if (direction) for (const b of this.backends) b.handshake(direction, seconds);
        if (direction === 'passive') {
          const label = this.portLabel(e.sport);
          if (label) for (const b of this.backends) b.listenPortHandshake?.(label, seconds);
        }
      }
    }
    for (const c of finished) this.finish(c);
    for (const b of this.backends) b.flush?.();
  }

  /** Accept records (Tracer 'accepts'). */
  observeAccepts(batch: TcpEvent[]): void {
    for (const a of batch) {
      if (!a.acceptWaitUs) continue;
      const port = this.portLabel(a.sport);
      for (const b of this.backends) b.acceptWait?.(a.acceptWaitUs / 1e6, port);
    }
  }

  private finish(c: FinishedConnection): void {
    const lifetime = c.lifetimeMs === null ? null : c.lifetimeMs / 1000;
    for (const b of this.backends) b.closed(closeLabel(c), c.side || 'unknown', lifetime);
    if (c.totals) {
      const port = c.side === 'passive' ? this.portLabel(c.sport) : undefined;
      for (const b of this.backends) b.totals(c.side || 'unknown', port, c.totals);
    }
    const why = failedConnectCause(c);
    if (why) for (const b of this.backends) b.connectFailed(why);
  }

  /** Listeners sampled under pressure, summed per port label (only ports the opt-in selects). */
  portPressure(rows: readonly ListenerPressureRow[]): Map<string, { peak: number; fullSeconds: number; drops: number }> {
    const out = new Map<string, { peak: number; fullSeconds: number; drops: number }>();
    for (const r of rows) {
      const label = this.portLabel(r.port);
      if (!label) continue;
      const m = out.get(label) ?? { peak: 0, fullSeconds: 0, drops: 0 };
      m.peak = Math.max(m.peak, r.peak);
      m.fullSeconds += r.fullMs / 1000;
      m.drops += r.drops;
      out.set(label, m);
    }
    return out;
  }

  private portLabel(port: number): string | undefined {
    const sel = this.ports;
    if (!sel) return undefined;
    if (sel !== 'all') return sel.includes(port) ? String(port) : undefined;
    let label = this.portLabels.get(port);
    if (!label) {
      label = this.portLabels.size < MAX_LABELLED_PORTS ? String(port) : 'other';
      if (label !== 'other') this.portLabels.set(port, label);
    }
    return label;
  }
}
