// The arrows of the TCP state diagram, per second over one stats interval, for the dashboard's
// state machine: the server sends these aggregates, never every event. A close that hands the
// connection to a TIME_WAIT socket is the RFC's arrow into TIME_WAIT (the tracepoint only
// shows CLOSE); the arrows out of TIME_WAIT (expiry) are never seen.
import type { StatsSnapshot } from '../../derive/stats';

export interface ArrowRates {
  /** "OLD->NEW" → transitions per second, non-zero only */
  arrows: Record<string, number>;
  /** the failed part of those (refused, timeout, resets, errors), per second */
  failing: Record<string, number>;
}

export class ArrowCounter {
  private last = new Map<string, number>();

  /** Rates since the previous call, `seconds` ago. */
  next(snap: Pick<StatsSnapshot, 'transitions' | 'timeWaitCloses' | 'failedTransitions'>, seconds: number): ArrowRates {
    const totals = new Map<string, number>();
    for (const [pair, n] of Object.entries(snap.transitions)) totals.set(pair, n);
    for (const [pair, n] of Object.entries(snap.timeWaitCloses)) {
      totals.set(pair, (totals.get(pair) ?? 0) - n);
      totals.set(pair.replace(/->CLOSE$/, '->TIME_WAIT'), n);
    }
    const failedTotals = new Map(Object.entries(snap.failedTransitions).map(([pair, n]) => [`failed:${pair}`, n]));
    const rate = (key: string, n: number) => Math.round(((n - (this.last.get(key) ?? 0)) / seconds) * 100) / 100;
    const out: ArrowRates = { arrows: {}, failing: {} };
    for (const [pair, n] of totals) {
      const r = rate(pair, n);
      if (r > 0) out.arrows[pair] = r;
    }
    for (const [key, n] of failedTotals) {
      const r = rate(key, n);
      if (r > 0) out.failing[key.slice(7)] = r;
    }
    this.last = new Map([...totals, ...failedTotals]);
    return out;
  }
}
