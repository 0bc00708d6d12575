// The live side of the capture's `pressure` records (src/format/capture-records.ts): the rows of
// the listener-pressure sampler as a report reads them, written when they changed, each
// listener's series as the points added since its previous record (a minute of samples is 600
// points; a record a second carries ten).
import type { ListenerPressureRow } from '../derive/listener-pressure';
import { SCHEMA_VERSION } from '../format/schema';
import { monoNs, type PressureListener, type PressureRecord } from '../format/capture-records';

export class PressureDelta {
  /** per listener: its figures when last written, and the time of its last point written */
  private readonly written = new Map<string, { figures: string; lastPoint: number }>();

  /** The record for these rows, or undefined when no listener changed. */
  next(rows: readonly ListenerPressureRow[]): PressureRecord | undefined {
    const listeners: PressureListener[] = [];
    for (const r of rows) {
      const key = `${r.netns}:${r.port}`;
      const before = this.written.get(key);
      const lastPoint = r.series.length ? r.series[r.series.length - 1][0] : -Infinity;
      const l: PressureListener = {
        netns: r.netns, port: r.port, fill: r.fill, limit: r.limit, peak: r.peak, full_ms: r.fullMs, drops: r.drops,
        sampling: r.sampling, error: r.error ?? null, points: r.series.length,
        series: r.series.filter(([t]) => before === undefined || t > before.lastPoint).map(([t, fill]) => [t, fill]),
      };
      const figures = JSON.stringify({ ...l, series: undefined });
      if (before && before.figures === figures && !l.series.length) continue;
      this.written.set(key, { figures, lastPoint: Math.max(lastPoint, before?.lastPoint ?? -Infinity) });
      listeners.push(l);
    }
    return listeners.length ? { type: 'pressure', v: SCHEMA_VERSION, ts_ns: monoNs(), listeners } : undefined;
  }
}
