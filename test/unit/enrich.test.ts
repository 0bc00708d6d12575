// The enrich stage resolves the owner's cgroup once per event, only when a sink writes it.
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { setCgroupResolver, type CgroupInfo, type CgroupResolver } from '../../src/enrich/containers';
import { CgroupEnricher } from '../../src/enrich/cgroup';
import type { TcpEvent } from '../../src/decode/event';
import { Pipeline, type EventSource } from '../../src/pipeline';
import { sampleEvent } from '../helpers/sample';

const info: CgroupInfo = { path: '/system.slice/x.scope', container: null };

function countingResolver(): { resolver: CgroupResolver; calls: number[] } {
  const calls: number[] = [];
  const resolver = { resolve: (id: number) => (calls.push(id), id === 7 ? info : null) } as unknown as CgroupResolver;
  return { resolver, calls };
}

describe('cgroup enrich stage', () => {
  afterEach(() => setCgroupResolver(undefined));

  it('stores the cgroup on each event; unknown owners and id 0 get null without a lookup', () => {
    const { resolver, calls } = countingResolver();
    const batch = [sampleEvent({ cgroupId: 7 }), sampleEvent({ cgroupId: 7 }), sampleEvent({ cgroupId: 8 }),
      sampleEvent({ cgroupId: 0 }), sampleEvent({ cgroupId: 7, ownerSource: 'unknown' })];
    new CgroupEnricher(() => resolver).enrich(batch);
    expect(batch.map((e) => e.cgroup)).toEqual([info, info, null, null, null]);
    expect(calls).toEqual([7, 8]); // the second 7 reuses the last answer
  });

  it('runs in the pipeline only when a sink reads the cgroup', () => {
    const { resolver, calls } = countingResolver();
    setCgroupResolver(resolver);
    const source = new EventEmitter() as unknown as EventSource & EventEmitter;
    const seen: TcpEvent[][] = [];
    const table = { write: (b: TcpEvent[]) => seen.push(b) };
    const plain = new Pipeline(source, [table]);
    source.emit('events', [sampleEvent({ cgroupId: 7 })]);
    expect(seen[0][0].cgroup).toBeUndefined();
    expect(calls).toEqual([]);
    plain.end();
    const json = { reads: { cgroup: true }, write: (b: TcpEvent[]) => seen.push(b) };
    const enriched = new Pipeline(source, [table, json]);
    source.emit('events', [sampleEvent({ cgroupId: 7 })]);
    expect(seen[1][0].cgroup).toEqual(info);
    expect(seen[2]).toBe(seen[1]);
    enriched.end();
  });
});
