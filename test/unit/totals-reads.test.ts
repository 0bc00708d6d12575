// Which outputs make the kernel read a connection's totals at CLOSE (cfg.conn_totals): those that
// show them, and no other (the table and CSV cost nothing more for them).
import { describe, expect, it } from 'vitest';
import { readsOf } from '../../src/sinks';
import { encodeConfig } from '../../src/probe/config';
import { ConfigOffset } from '../../src/decode/record.generated';

describe('connection totals: read only for the outputs that show them', () => {
  it('the table and CSV do not read them; JSON, --lifetimes, --summary, the stream and the metrics do', () => {
    expect(readsOf({ terminal: { format: 'table', table: { time: 'none', wide: false, onCpu: false } } }).totals).toBeFalsy();
    expect(readsOf({ terminal: { format: 'csv', csv: { time: 'none', onCpu: false } } }).totals).toBeFalsy();
    expect(readsOf({ terminal: { format: 'json' } }).totals).toBe(true);
    expect(readsOf({ lifetimes: { format: 'text', wide: false } }).totals).toBe(true);
    expect(readsOf({ summary: { json: false } }).totals).toBe(true);
    expect(readsOf({ lifetimes: { format: 'text', wide: false } }).open).toBe(true);
  });

  it('the kernel config carries the choice (default on for library users)', () => {
    const cfg = (connTotals?: boolean) => encodeConfig({}, { perfBuffer: false, wakeupBytes: 0, connTotals })[ConfigOffset.conn_totals];
    expect([cfg(), cfg(true), cfg(false)]).toEqual([1, 1, 0]);
  });
});
