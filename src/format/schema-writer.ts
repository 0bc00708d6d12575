// toJsonEvent(e) serialised straight to UTF-8 bytes: the same text JSON.stringify(toJsonEvent(e))
// gives, with the characters a terminal acts on escaped too (terminalSafeJson, src/format/display.ts;
// test/unit/bytes.test.ts proves it on random and edge-case events), without building
// the object or the string. NDJSON and the WebSocket stream use it on the hot path; the field
// catalogue (src/format/schema-fields.ts) stays the definition of the fields, and
// test/unit/event-fields checks that this writer prints exactly its keys in its order.
import type { TcpEvent } from '../decode/event';
import { CAUSE_NAMES, type CauseName } from '../decode/names';
import { stateName } from '../decode/states';
import { errnoName, EVENT_FIELDS, isoTime, SCHEMA_VERSION } from './schema-fields';
import { terminalSafeJson } from './display';
import { bytes, putBytes, type Constant, putJsonNumber, putJsonString, putText, putThousandths, type ByteWriter } from './bytes';

/** below this many thousandths, String(k / 1000) is exactly k's trimmed decimal (≤ 15 digits) */
const EXACT_THOUSANDTHS = 1e15;
/** room for everything but the strings: keys, numbers, literals */
const FIXED_ROOM = 1024;
/** The constant parts of a line, as bytes: copying these beats reading a string's characters. */
const K = {
  head: bytes(`{"v":${SCHEMA_VERSION},"time":"`),
  tsNs: bytes('","ts_ns":'),
  skaddr: bytes(',"skaddr":'),
  pid: bytes(',"pid":'),
  comm: bytes(',"comm":'),
  cgroupId: bytes(',"cgroup_id":'),
  cpuPid: bytes(',"cpu_pid":'),
  cpuTid: bytes(',"cpu_tid":'),
  cpuComm: bytes(',"cpu_comm":'),
  family: bytes(',"family":'),
  saddr: bytes(',"saddr":'),
  sport: bytes(',"sport":'),
  daddr: bytes(',"daddr":'),
  dport: bytes(',"dport":'),
  ms: bytes(',"ms":'),
  netns: bytes(',"netns":'),
  sockIno: bytes(',"sock_ino":'),
  rttUs: bytes(',"rtt_us":'),
  handshakeMs: bytes(',"handshake_ms":'),
  synRetrans: bytes(',"syn_retrans":'),
  synackRetrans: bytes(',"synack_retrans":'),
  containerId: bytes(',"container_id":'),
  acceptWaitMs: bytes(',"accept_wait_ms":'),
  holders: bytes(',"holders":'),
  ownerExitedTrue: bytes(',"owner_exited":true'),
  ownerExitedFalse: bytes(',"owner_exited":false'),
  timeWaitTrue: bytes(',"time_wait":true,"cgroup":'),
  timeWaitFalse: bytes(',"time_wait":false,"cgroup":'),
  null: bytes('null'),
};

/** The catalogue keys writeJsonEvent prints by hand, in catalogue order. */
const WRITTEN_BY_HAND: readonly string[] = [
  'v', 'time', 'ts_ns', 'skaddr', 'pid', 'comm', 'owner', 'cgroup_id', 'cpu_pid', 'cpu_tid', 'cpu_comm', 'family', 'saddr', 'sport',
  'daddr', 'dport', 'oldstate', 'newstate', 'ms', 'netns', 'sock_ino', 'rtt_us', 'handshake_ms', 'side', 'cause', 'error',
  'syn_retrans', 'synack_retrans', 'time_wait', 'cgroup', 'container_id', 'accept_wait_ms', 'holders', 'owner_exited',
];
/** Every later catalogue field (a field added since: its catalogue line is all it needs), written generically. */
const LATER = Object.entries(EVENT_FIELDS).filter(([key]) => !WRITTEN_BY_HAND.includes(key))
  .map(([key, f]) => ({ key: bytes(`,${JSON.stringify(key)}:`), value: f.value as (e: TcpEvent) => unknown }));

// Fields whose values come from small closed sets are written with their keys as one constant.
const OWNER: Record<TcpEvent['ownerSource'], Constant> = {
  kernel: bytes(',"owner":"kernel"'), listener: bytes(',"owner":"listener"'), accept: bytes(',"owner":"accept"'),
  use: bytes(',"owner":"use"'), proc: bytes(',"owner":"proc"'), unknown: bytes(',"owner":"unknown"'),
};
const statePairs = new Map<number, Constant>();
const outcomes = new Map<number, Constant>();
const SIDE_INDEX: Record<TcpEvent['side'], number> = { '': 0, active: 1, passive: 2 };
const CAUSE_INDEX = Object.fromEntries(CAUSE_NAMES.map((name, i) => [name, i])) as Record<CauseName, number>;

/** `,"oldstate":…,"newstate":…` */
function statePair(oldState: number, newState: number): Constant {
  const key = oldState * 256 + newState;
  let c = statePairs.get(key);
  if (c === undefined) {
    c = bytes(`,"oldstate":${JSON.stringify(stateName(oldState))},"newstate":${JSON.stringify(stateName(newState))}`);
    statePairs.set(key, c);
  }
  return c;
}

/** `,"side":…,"cause":…,"error":…` */
function outcome(e: TcpEvent): Constant {
  const cause = CAUSE_INDEX[e.cause];
  const side = SIDE_INDEX[e.side];
  const cacheable = cause !== undefined && side !== undefined && Number.isInteger(e.error);
  const key = cacheable ? (e.error * 16 + cause) * 4 + side : NaN;
  let c = cacheable ? outcomes.get(key) : undefined;
  if (c === undefined) {
    c = bytes(`,"side":${JSON.stringify(e.side || null)},"cause":${JSON.stringify(e.cause || null)},"error":${JSON.stringify(errnoName(e.error))}`);
    if (cacheable) {
      if (outcomes.size >= 4096) outcomes.clear();
      outcomes.set(key, c);
    }
  }
  return c;
}

function putThousandthsOrNull(buf: Buffer, p: number, k: number): number {
  if (k >= 0 && k < EXACT_THOUSANDTHS && k === Math.floor(k)) return putThousandths(buf, p, k, true);
  return putJsonNumber(buf, p, k / 1000);
}

function putStringOrNull(buf: Buffer, p: number, s: string | null | undefined): number {
  return s === null || s === undefined ? putBytes(buf, p, K.null) : putJsonString(buf, p, s);
}

export function writeJsonEvent(w: ByteWriter, e: TcpEvent): void {
  const known = e.ownerSource !== 'unknown';
  const cg = e.cgroup ?? null;
  const cgroup = cg ? cg.path : null;
  const container = cg?.container ? cg.container.id : null;
  // 6 bytes of room per character of a string: the widest JSON escape (\u001f).
  const strings = e.skaddr.length + e.comm.length + e.cpuComm.length + e.saddr.length + e.daddr.length +
    (cgroup === null ? 0 : cgroup.length) + (container === null ? 0 : container.length);
  let buf = w.room(FIXED_ROOM + 6 * strings + (e.holders ? 17 * e.holders.length : 0));
  let p = w.length;
  p = putBytes(buf, p, K.head);
  p = putText(buf, p, isoTime(e.time));
  p = putBytes(buf, p, K.tsNs);
  p = putJsonNumber(buf, p, e.tsNs);
  p = putBytes(buf, p, K.skaddr);
  p = putJsonString(buf, p, e.skaddr);
  p = putBytes(buf, p, K.pid);
  p = known ? putJsonNumber(buf, p, e.pid) : putBytes(buf, p, K.null);
  p = putBytes(buf, p, K.comm);
  p = known ? putJsonString(buf, p, e.comm) : putBytes(buf, p, K.null);
  p = putBytes(buf, p, OWNER[e.ownerSource] ?? bytes(`,"owner":${JSON.stringify(e.ownerSource)}`));
  p = putBytes(buf, p, K.cgroupId);
  p = known && e.cgroupId ? putJsonNumber(buf, p, e.cgroupId) : putBytes(buf, p, K.null);
  p = putBytes(buf, p, K.cpuPid);
  p = putJsonNumber(buf, p, e.cpuPid);
  p = putBytes(buf, p, K.cpuTid);
  p = putJsonNumber(buf, p, e.cpuTid);
  p = putBytes(buf, p, K.cpuComm);
  p = putJsonString(buf, p, e.cpuComm);
  p = putBytes(buf, p, K.family);
  p = putJsonNumber(buf, p, e.family);
  p = putBytes(buf, p, K.saddr);
  p = putJsonString(buf, p, e.saddr);
  p = putBytes(buf, p, K.sport);
  p = putJsonNumber(buf, p, e.sport);
  p = putBytes(buf, p, K.daddr);
  p = putJsonString(buf, p, e.daddr);
  p = putBytes(buf, p, K.dport);
  p = putJsonNumber(buf, p, e.dport);
  p = putBytes(buf, p, statePair(e.oldState, e.newState));
  p = putBytes(buf, p, K.ms);
  p = e.durationNs === null ? putBytes(buf, p, K.null) : putThousandthsOrNull(buf, p, Math.round(e.durationNs / 1000));
  p = putBytes(buf, p, K.netns);
  p = putJsonNumber(buf, p, e.netns);
  p = putBytes(buf, p, K.sockIno);
  p = e.sockIno ? putJsonNumber(buf, p, e.sockIno) : putBytes(buf, p, K.null);
  p = putBytes(buf, p, K.rttUs);
  p = putJsonNumber(buf, p, e.rttUs);
  p = putBytes(buf, p, K.handshakeMs);
  p = e.handshakeUs ? putThousandthsOrNull(buf, p, e.handshakeUs) : putBytes(buf, p, K.null);
  p = putBytes(buf, p, outcome(e));
  p = putBytes(buf, p, K.synRetrans);
  p = putJsonNumber(buf, p, e.synRetrans);
  p = putBytes(buf, p, K.synackRetrans);
  p = putJsonNumber(buf, p, e.synackRetrans);
  p = putBytes(buf, p, e.timeWait ? K.timeWaitTrue : K.timeWaitFalse);
  p = putStringOrNull(buf, p, cgroup);
  p = putBytes(buf, p, K.containerId);
  p = putStringOrNull(buf, p, container);
  p = putBytes(buf, p, K.acceptWaitMs);
  p = e.acceptWaitUs ? putThousandthsOrNull(buf, p, e.acceptWaitUs) : putBytes(buf, p, K.null);
  p = putBytes(buf, p, K.holders);
  if (e.holders) {
    buf[p++] = 0x5b; // [
    for (let i = 0; i < e.holders.length; i++) {
      if (i) buf[p++] = 0x2c; // ,
      p = putJsonNumber(buf, p, e.holders[i]);
    }
    buf[p++] = 0x5d; // ]
  } else {
    p = putBytes(buf, p, K.null);
  }
  p = putBytes(buf, p, e.ownerExited ? K.ownerExitedTrue : K.ownerExitedFalse);
  if (LATER.length) {
    w.moveTo(p);
    for (const f of LATER) putLater(w, f.key, f.value(e));
    buf = w.room(1);
    p = w.length;
  }
  buf[p++] = 0x7d; // }
  w.moveTo(p);
}

/** `,"key":value` as JSON.stringify and terminalSafeJson write it, for a field without a fast path. */
/** Keys of objects of numbers (a CLOSE's `totals`) as bytes, made once each. */
const numberKeys = new Map<string, Constant>();

/** `{"k":n,…}` for an object whose values are all numbers or null; -1 otherwise (the bytes written
 *  so far are left behind: the caller does not move past them). */
function putNumberObject(buf: Buffer, p: number, o: Record<string, unknown>): number {
  buf[p++] = 0x7b; // {
  let first = true;
  for (const k in o) {
    const x = o[k];
    if (x !== null && typeof x !== 'number') return -1;
    let c = numberKeys.get(k);
    if (c === undefined) {
      if (numberKeys.size >= 1024) numberKeys.clear();
      numberKeys.set(k, (c = bytes(`${JSON.stringify(k)}:`)));
    }
    if (p + c.words.length * 4 + c.tail.length + 32 > buf.length) return -1; // beyond the room asked for: the slow way
    if (!first) buf[p++] = 0x2c; // ,
    first = false;
    p = putBytes(buf, p, c);
    p = x === null ? putBytes(buf, p, K.null) : putJsonNumber(buf, p, x);
  }
  buf[p++] = 0x7d; // }
  return p;
}

function putLater(w: ByteWriter, key: Constant, v: unknown): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const buf = w.room(FIXED_ROOM * 2);
    const p = putNumberObject(buf, putBytes(buf, w.length, key), v as Record<string, unknown>);
    if (p >= 0) {
      w.moveTo(p);
      return;
    }
  }
  if (v === null || typeof v === 'number') {
    // the common cases (numbers; null where a field does not apply) without a string made
    const buf = w.room(FIXED_ROOM);
    const p = putBytes(buf, w.length, key);
    w.moveTo(v === null ? putBytes(buf, p, K.null) : putJsonNumber(buf, p, v));
    return;
  }
  const text = terminalSafeJson(JSON.stringify(v) ?? 'null');
  const buf = w.room(FIXED_ROOM + 3 * text.length);
  let p = putBytes(buf, w.length, key);
  w.moveTo(putText(buf, p, text));
}
