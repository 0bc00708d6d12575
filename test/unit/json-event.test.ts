// The JSON → TcpEvent reader of a replay (src/source/json-event.ts) inverts every field of the
// catalogue: a field added there and not read back fails here, with its name.
import { describe, expect, it } from 'vitest';
import { EVENT_FIELDS } from '../../src/format/schema-fields';
import { toJsonEvent } from '../../src/format/schema';
import { eventFromJson, FIELD_READERS } from '../../src/source/json-event';
import { sampleEvent } from '../helpers/sample';

/** Every field away from its default, so that a reader that drops one shows. */
const varied = [
  sampleEvent({ cpuPid: 9, cpuTid: 10, synRetrans: 2, synackRetrans: 3, acceptWaitUs: 301_250, error: 111, cause: 'refused', timeWait: true,
    side: 'passive', holders: [4321, 4322], ownerSource: 'accept', family: 6, saddr: '::1', daddr: '::ffff:10.0.0.1', newState: 7,
    cgroup: { path: '/system.slice/docker-' + 'a'.repeat(64) + '.scope', container: { runtime: 'docker', id: 'a'.repeat(64) } },
    totals: { bytesAcked: 1001, bytesReceived: 2002, bytesRetrans: 3, segsOut: 40, segsIn: 50, retransSegs: 6, retransRto: null, rttUs: 40, rttMinUs: 30, busyUs: 700, rwndLimitedUs: null, sndbufLimitedUs: 8 } }),
  sampleEvent({ ownerSource: 'unknown', pid: 0, comm: '', cgroupId: 0, durationNs: null, sockIno: 0, handshakeUs: 0, side: '', cgroup: null, comm2: undefined } as never),
  sampleEvent({ comm: 'a\udcffb\u202e', error: 4242, cause: 'timeout', oldState: 10, newState: 3 }),
];

describe('replayed events', () => {
  it('every catalogue field has a reader', () => {
    const missing = Object.keys(EVENT_FIELDS).filter((k) => !FIELD_READERS.get(k));
    expect(missing).toEqual([]);
  });

  it('JSON → event → JSON gives the same JSON, for every field', () => {
    for (const e of varied) {
      const json = JSON.parse(JSON.stringify(toJsonEvent(e)));
      expect(toJsonEvent(eventFromJson(json))).toEqual(json);
    }
  });

  it('a verdict an earlier capture wrote with a former word (syn-queue-full) is read as its word now, inferred', () => {
    const json = JSON.parse(JSON.stringify(toJsonEvent(sampleEvent({ synRetrans: 2 }))));
    json.diagnosis = { why: 'syn-queue-full', listener_port: 8080, accept_queue: '3/1' };
    expect(toJsonEvent(eventFromJson(json)).diagnosis).toMatchObject({ why: 'syn-dropped', proven: false, listener_port: 8080 });
  });

  it('hostile lines give an event, never a throw', () => {
    for (const json of [{}, { ms: 'x', holders: 'y', family: 9, newstate: 42, time: {} }, { sport: -1, comm: 5, cgroup: 7 }]) {
      expect(() => eventFromJson(json as Record<string, unknown>)).not.toThrow();
    }
  });
});
