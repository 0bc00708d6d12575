// The live side of the capture's `pressure` records (src/format/capture-records.ts): the rows of
// the listener-pressure sampler as a report reads them, written when they changed, each
// listener's series as the points added since its previous record (a minute of samples is 600
// points; a record a second carries ten).
import type { ListenerPressureRow } from '../derive/listener-pressure';
import { SCHEMA_VERSION } from '../format/schema';
import { monoNs, type PressureListener, type PressureRecord } from '../format/capture-records';

export class PressureDelta {
  /** per listener: its figures when last written, the time of its last point written and how many points had that time */
  private readonly written = new Map<string, { figures: string; lastPoint: number; atLast: number }>();

  /** The record for these rows, or undefined when no listener changed. */
  next(rows: readonly ListenerPressureRow[]): PressureRecord | undefined {
    const listeners: PressureListener[] = [];
    for (const r of rows) {
      const key = `${r.netns}:${r.port}`;
      const before = this.written.get(key);
      const added = newPoints(r.series, before);
      const l: PressureListener = {
        netns: r.netns, port: r.port, fill: r.fill, limit: r.limit, peak: r.peak, full_ms: r.fullMs, drops: r.drops,
        sampling: r.sampling, error: r.error ?? null, points: r.series.length,
        series: added.map(([t, fill]) => [t, fill]),
      };
      const figures = JSON.stringify({ ...l, series: undefined });
      if (before && before.figures === figures && !l.series.length) continue;
      const lastPoint = r.series.length ? r.series[r.series.length - 1][0] : -Infinity;
      const atLast = r.series.filter(([t]) => t === lastPoint).length;
      this.written.set(key, added.length || !before ? { figures, lastPoint, atLast } : { ...before, figures });
      listeners.push(l);
    }
    return listeners.length ? { type: 'pressure', v: SCHEMA_VERSION, ts_ns: monoNs(), listeners } : undefined;
  }
}

/** The points after those written last (two samples may share a millisecond). */
function newPoints(series: readonly [number, number][], before?: { lastPoint: number; atLast: number }): [number, number][] {
  if (!before) return [...series];
  let same = 0;
  return series.filter(([t]) => t > before.lastPoint || (t === before.lastPoint && ++same > before.atLast));
}
