// A plausible TcpEvent for pure tests; override what the test is about.
import type { TcpEvent } from '../../src/decode/event';
import type { Counters, StatusReport } from '../../src/status';
import { RECORD_FIELD_NAMES, type RecordFields } from '../../src/decode/record.generated';

/** Every plain record member at 0, so that a member added to the record needs no edit here. */
export function recordZeros(): RecordFields {
  return Object.fromEntries(RECORD_FIELD_NAMES.map((k) => [k, 0])) as unknown as RecordFields;
}

export function sampleEvent(over: Partial<TcpEvent> = {}): TcpEvent {
  return {
    ...recordZeros(),
    tsNs: 5_000_000_000, time: Date.UTC(2026, 10, 21, 12, 34, 56, 789), skaddr: 'ffff888102e8ca00',
    pid: 4321, comm: 'curl', ownerSource: 'kernel', cgroupId: 1, cpuPid: 0, cpuTid: 0, cpuComm: 'swapper/0',
    family: 4, saddr: '127.0.0.1', sport: 40000, daddr: '127.0.0.1', dport: 8080, oldState: 2, newState: 1,
    durationNs: 1_234_567, netns: 4026531840, sockIno: 77, rttUs: 40, handshakeUs: 1235, error: 0, cause: '',
    timeWait: false, side: 'active', synRetrans: 0, synackRetrans: 0, acceptWaitUs: 0, holders: null, isAccept: false, totals: null, ...over,
  };
}

/** The tracer's counters, all 0 but what the test sets. */
export function sampleCounters(over: Partial<Counters> = {}): Counters {
  return { seen: 0, delivered: 0, filtered: 0, lost: 0, accepts: 0, acceptsLost: 0, missed: 0, nested: 0, hidden: 0, ...over };
}

/** A status report of a tracer that counted nothing (for a sink's end() in tests). */
export function sampleStatus(): StatusReport {
  const deliveryStats = {} as StatusReport['deliveryStats'];
  return { version: 'test', attach: 'tp_btf', delivery: 'ringbuf', counters: sampleCounters(), deliveryStats };
}
