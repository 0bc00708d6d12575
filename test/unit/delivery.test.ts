// How close delivery came to loss, as the exit line and /metrics say it (no kernel needed).
import { describe, expect, it } from 'vitest';
import { deliveryText, ringPeakFraction } from '../../src/probe/delivery';
import { PromMetrics } from '../../src/sinks/metrics';
import type { NativeDelivery } from '../../src/native/addon';
import { sampleCounters } from '../helpers/sample';

const thread: NativeDelivery = {
  ringBytes: 4 << 20, ringPeakBytes: 1 << 20, maxGapMs: 50.2, thread: true,
  backlogPeakBytes: 3 << 20, backlogLimitBytes: 64 << 20, backlogFull: 0, priority: 'SCHED_FIFO 1',
};

describe('delivery figures', () => {
  it('the ring high-water mark is a fraction of the ring; none for a perf buffer', () => {
    expect(ringPeakFraction(thread)).toBe(0.25);
    expect(ringPeakFraction({ maxGapMs: 10, thread: false })).toBeUndefined();
  });

  it('the verbose exit line names the peak, the backlog, the scheduling and the longest gap', () => {
    expect(deliveryText(thread)).toBe('ring peak 25.0% of 4 MiB, backlog peak 3 MiB of 64 MiB, drain thread at SCHED_FIFO 1, longest gap between reads 50 ms');
    expect(deliveryText({ ...thread, backlogFull: 2 })).toContain('(full 2 times)');
    expect(deliveryText({ ringBytes: 4 << 20, ringPeakBytes: 4 << 20, maxGapMs: 1200, thread: false })).toBe(
      'ring peak 100.0% of 4 MiB, read on the event loop, longest gap between reads 1200 ms',
    );
  });

  it('/metrics exports the high-water marks as gauges', async () => {
    const prom = new PromMetrics(() => sampleCounters(),
      { version: '1', kernel: 'k', attach: 'tp_btf', delivery: 'ringbuf' }, { processMetrics: false, delivery: () => thread });
    const text = await prom.render();
    expect(text).toContain('\ntcptrace_ring_high_water_ratio 0.25\n');
    expect(text).toContain(`\ntcptrace_backlog_high_water_bytes ${3 << 20}\n`);
  });
});
