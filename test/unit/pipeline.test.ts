// The push pipeline on made-up batches (no kernel): one connection tracker for every reader of
// finished connections, and none when nothing reads them; ticks and the end with the status.
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { FinishedConnection } from '../../src/derive/connections';
import type { TcpEvent } from '../../src/decode/event';
import { Pipeline } from '../../src/pipeline';
import type { Reads, Sink } from '../../src/sinks/sink';
import type { Counters, StatusReport } from '../../src/status';
import { StatsEngine } from '../../src/derive/stats';
import { State as S } from '../../src/decode/states';
import { sampleEvent } from '../helpers/sample';
import { sampleCounters } from '../helpers/sample';

const connection = (skaddr: string): TcpEvent[] => [
  sampleEvent({ skaddr, oldState: S.CLOSE, newState: S.SYN_SENT, tsNs: 1_000_000 }),
  sampleEvent({ skaddr, oldState: S.SYN_SENT, newState: S.ESTABLISHED, tsNs: 2_000_000, handshakeUs: 1000 }),
  sampleEvent({ skaddr, oldState: S.ESTABLISHED, newState: S.CLOSE, tsNs: 5_000_000, cause: 'reset-sent' }),
];

class Recorder implements Sink {
  readonly got: (readonly FinishedConnection[])[] = [];
  readonly reads: Reads;
  constructor(finished = false) {
    this.reads = { finished };
  }
  write(_batch: TcpEvent[], finished: readonly FinishedConnection[]): void {
    this.got.push(finished);
  }
}

/** Batches and counters as a Tracer would give them. */
class FakeTracer extends EventEmitter {
  readonly attach = 'tp_btf' as const;
  readonly delivery = 'ringbuf' as const;
  seen = 0;
  counters(): Counters {
    return sampleCounters({ seen: this.seen, delivered: this.seen });
  }
  deliveryStats() {
    return { ringBytes: 4096, ringPeakBytes: 0, maxGapMs: 0, thread: false };
  }
}

describe('Pipeline', () => {
  it('runs one tracker: the stats engine and every sink get the same finished connections', () => {
    const source = new FakeTracer();
    const stats = new StatsEngine();
    const reader = new Recorder(true);
    const other = new Recorder();
    new Pipeline(source, [reader, other], { stats });
    source.emit('events', connection('a').slice(0, 2));
    source.emit('events', connection('a').slice(2));
    expect(reader.got.map((f) => f.length)).toEqual([0, 1]);
    expect(other.got[1]).toBe(reader.got[1]); // the same array: tracked once
    expect(reader.got[1][0]).toMatchObject({ skaddr: 'a', handshakeMs: 1, lifetimeMs: 4, cause: 'reset-sent', lastState: 'ESTABLISHED' });
    expect(stats.snapshot().closes).toEqual({ 'reset-sent': 1 });
    expect(stats.snapshot().lifetime.count).toBe(1);
  });

  it('without a census, the stats engine counts the states of the sockets the one tracker follows', () => {
    const source = new FakeTracer();
    const stats = new StatsEngine();
    new Pipeline(source, [new Recorder()], { stats });
    source.emit('events', [
      ...connection('a').slice(0, 2), ...connection('b'),
      sampleEvent({ skaddr: 'l', oldState: S.CLOSE, newState: S.LISTEN }),
      sampleEvent({ skaddr: 'm', oldState: S.CLOSE, newState: S.LISTEN }), sampleEvent({ skaddr: 'm', oldState: S.LISTEN, newState: S.CLOSE }),
    ]);
    expect(stats.snapshot().current).toEqual({ ESTABLISHED: 1, LISTEN: 1 });
    expect(stats.snapshot().closes).toEqual({ 'reset-sent': 1 });
  });

  it('tracks nothing when no one reads finished connections', () => {
    const source = new FakeTracer();
    const plain = new Recorder();
    new Pipeline(source, [plain]);
    source.emit('events', connection('b'));
    expect(plain.got).toEqual([[]]);
  });

  it('end() stops listening', () => {
    const source = new FakeTracer();
    const plain = new Recorder();
    new Pipeline(source, [plain]).end();
    source.emit('events', connection('c'));
    expect(plain.got).toEqual([]);
  });

  it('ticks a sink at its own interval and ends it with the final status', () => {
    vi.useFakeTimers();
    try {
      const source = new FakeTracer();
      const ticks: StatusReport[] = [];
      let last: StatusReport | undefined;
      const sink: Sink = { write() {}, tickMs: 1000, tick: (s) => ticks.push(s), end: (s) => { last = s; } };
      const pipeline = new Pipeline(source, [sink, new Recorder()]);
      source.seen = 5;
      vi.advanceTimersByTime(2500);
      expect(ticks.map((s) => s.counters.seen)).toEqual([5, 5]);
      expect(ticks[0]).toMatchObject({ attach: 'tp_btf', delivery: 'ringbuf', version: expect.any(String) });
      source.seen = 7;
      pipeline.end();
      vi.advanceTimersByTime(5000);
      expect(ticks).toHaveLength(2);
      expect(last?.counters.seen).toBe(7);
    } finally {
      vi.useRealTimers();
    }
  });
});
