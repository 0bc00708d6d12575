// The listeners sampled under pressure, in a replay: the rows the live run's reports read, as
// the capture's `pressure` records kept them (src/format/capture-records.ts). A record precedes
// its tick's `counters` record (and the `end`), so the replay's reports of that tick read the
// same rows. Nothing is sampled here: the kernel's queues are the capture's.
import { ListenerPressure, type ListenerPressureRow } from '../derive/listener-pressure';
import type { TcpEvent } from '../decode/event';
import type { PressureRecord } from '../format/capture-records';

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export class ReplayPressure extends ListenerPressure {
  private readonly recorded = new Map<string, ListenerPressureRow>();

  constructor() {
    super(() => 'a replay reads no kernel');
  }

  /** A record read from the capture: its listeners' figures, their series extended. */
  add(r: PressureRecord): void {
    if (!Array.isArray(r.listeners)) return;
    for (const l of r.listeners) {
      if (l === null || typeof l !== 'object') continue;
      const key = `${num(l.netns)}:${num(l.port)}`;
      const before = this.recorded.get(key);
      const added = Array.isArray(l.series) ? l.series.filter((p) => Array.isArray(p)).map(([t, fill]) => [num(t), num(fill)] as [number, number]) : [];
      const series = [...(before?.series ?? []), ...added];
      const row: ListenerPressureRow = {
        netns: num(l.netns), port: num(l.port), fill: num(l.fill), limit: num(l.limit), peak: num(l.peak), fullMs: num(l.full_ms),
        drops: num(l.drops), sampling: l.sampling === true, series: series.slice(Math.max(0, series.length - num(l.points))),
      };
      if (typeof l.error === 'string') row.error = l.error;
      this.recorded.set(key, row);
    }
  }

  override observe(_batch: readonly TcpEvent[]): void { /* the capture's samples, not the replay's events */ }

  override press(): void { /* nothing to sample */ }

  override sample(): void { /* nothing to sample */ }

  override rows(): ListenerPressureRow[] {
    return [...this.recorded.values()].map((r) => ({ ...r, series: [...r.series] }));
  }
}
