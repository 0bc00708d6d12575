// The push pipeline on made-up batches (no kernel): one connection tracker for every reader of
// finished connections, and none when nothing reads them.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { FinishedConnection } from '../../src/connections';
import type { TcpEvent } from '../../src/event';
import { Pipeline } from '../../src/pipeline';
import type { Sink } from '../../src/sinks/sink';
import { StatsEngine } from '../../src/stats';
import { State as S } from '../../src/states';
import { sampleEvent } from '../helpers/sample';

const connection = (skaddr: string): TcpEvent[] => [
  sampleEvent({ skaddr, oldState: S.CLOSE, newState: S.SYN_SENT, tsNs: 1_000_000 }),
  sampleEvent({ skaddr, oldState: S.SYN_SENT, newState: S.ESTABLISHED, tsNs: 2_000_000, handshakeUs: 1000 }),
  sampleEvent({ skaddr, oldState: S.ESTABLISHED, newState: S.CLOSE, tsNs: 5_000_000, cause: 'reset-sent' }),
];

class Recorder implements Sink {
  readonly got: (readonly FinishedConnection[])[] = [];
  constructor(readonly needsFinished = false) {}
  write(_batch: TcpEvent[], finished: readonly FinishedConnection[]): void {
    this.got.push(finished);
  }
}

describe('Pipeline', () => {
  it('runs one tracker: the stats engine and every sink get the same finished connections', () => {
    const source = new EventEmitter();
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

  it('tracks nothing when no one reads finished connections', () => {
    const source = new EventEmitter();
    const plain = new Recorder();
    new Pipeline(source, [plain]);
    source.emit('events', connection('b'));
    expect(plain.got).toEqual([[]]);
  });

  it('end() stops listening', () => {
    const source = new EventEmitter();
    const plain = new Recorder();
    new Pipeline(source, [plain]).end();
    source.emit('events', connection('c'));
    expect(plain.got).toEqual([]);
  });
});
