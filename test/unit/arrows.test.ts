// The state machine's aggregates: per-arrow rates from the stats engine's totals, closes into
// TIME_WAIT drawn as the RFC's arrow, failures apart.
import { describe, expect, it } from 'vitest';
import { StatsEngine } from '../../src/derive/stats';
import { ArrowCounter } from '../../src/sinks/ws/arrows';
import { State as S } from '../../src/decode/states';
import { sampleEvent } from '../helpers/sample';
import { withFinished } from '../helpers/derive';

describe('ArrowCounter', () => {
  it('rates per arrow since the last call; time-wait closes as X->TIME_WAIT; failures counted apart', () => {
    const stats = new StatsEngine();
    const arrows = new ArrowCounter();
    const observe = withFinished(stats);
    const ev = (oldState: number, newState: number, over = {}) => sampleEvent({ oldState, newState, skaddr: String(Math.random()), ...over });
    observe([
      ev(S.CLOSE, S.SYN_SENT), ev(S.CLOSE, S.SYN_SENT), ev(S.SYN_SENT, S.ESTABLISHED),
      ev(S.SYN_SENT, S.CLOSE, { cause: 'refused', error: 111 }),
      ev(S.FIN_WAIT2, S.CLOSE, { cause: 'normal', timeWait: true }), ev(S.FIN_WAIT2, S.CLOSE, { cause: 'normal' }),
    ]);
    expect(arrows.next(stats.snapshot(), 2)).toEqual({
      arrows: { 'CLOSE->SYN_SENT': 1, 'SYN_SENT->ESTABLISHED': 0.5, 'SYN_SENT->CLOSE': 0.5, 'FIN_WAIT2->CLOSE': 0.5, 'FIN_WAIT2->TIME_WAIT': 0.5 },
      failing: { 'SYN_SENT->CLOSE': 0.5 },
    });
    observe([ev(S.FIN_WAIT2, S.CLOSE, { cause: 'normal', timeWait: true })]);
    expect(arrows.next(stats.snapshot(), 1)).toEqual({ arrows: { 'FIN_WAIT2->TIME_WAIT': 1 }, failing: {} });
  });
});
