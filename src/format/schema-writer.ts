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
/** The constant parts of a line, as bytes: copying these beats reading a string's characters.
 *  Each copy has a cost of its own (~5 ns), so a key is joined to what comes before or after it
 *  where that is constant too (a `null`, a closed set of values). */
const K = {
  head: bytes(`{"v":${SCHEMA_VERSION},"time":"`),
  tsNs: bytes('","ts_ns":'),
  skaddrKey: bytes(',"skaddr":'),
  pid: bytes(',"pid":'),
  comm: bytes(',"comm":'),
  unknownOwner: bytes(',"pid":null,"comm":null,"owner":"unknown","cgroup_id":null'),
  cpuPid: bytes(',"cpu_pid":'),
  cpuTid: bytes(',"cpu_tid":'),
  cpuComm: bytes(',"cpu_comm":'),
  family: bytes(',"family":'),
  saddr: bytes(',"saddr":'),
  family4: bytes(',"family":4,"saddr":'),
  family6: bytes(',"family":6,"saddr":'),
  sport: bytes(',"sport":'),
  daddr: bytes(',"daddr":'),
  dport: bytes(',"dport":'),
  netns: bytes(',"netns":'),
  sockIno: bytes(',"sock_ino":'),
  sockInoNull: bytes(',"sock_ino":null'),
  rttUs: bytes(',"rtt_us":'),
  handshakeMs: bytes(',"handshake_ms":'),
  handshakeMsNull: bytes(',"handshake_ms":null'),
  synackRetrans: bytes(',"synack_retrans":'),
  containerId: bytes(',"container_id":'),
  containerIdNull: bytes(',"container_id":null'),
  acceptWaitMs: bytes(',"accept_wait_ms":'),
  acceptWaitMsNull: bytes(',"accept_wait_ms":null'),
  holders: bytes(',"holders":'),
  ownerExitedTrue: bytes(',"owner_exited":true'),
  ownerExitedFalse: bytes(',"owner_exited":false'),
  holdersNullOwnerExitedTrue: bytes(',"holders":null,"owner_exited":true'),
  holdersNullOwnerExitedFalse: bytes(',"holders":null,"owner_exited":false'),
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
  .map(([key, f]) => ({ key: bytes(`,${JSON.stringify(key)}:`), keyNull: bytes(`,${JSON.stringify(key)}:null`), value: f.value as (e: TcpEvent) => unknown }));

// Fields whose values come from small closed sets are written with their keys as one constant.
/** `,"owner":…,"cgroup_id":` */
const OWNER: Record<TcpEvent['ownerSource'], Constant> = {
  kernel: bytes(',"owner":"kernel","cgroup_id":'), listener: bytes(',"owner":"listener","cgroup_id":'), accept: bytes(',"owner":"accept","cgroup_id":'),
  use: bytes(',"owner":"use","cgroup_id":'), proc: bytes(',"owner":"proc","cgroup_id":'), unknown: bytes(',"owner":"unknown","cgroup_id":'),
};
const statePairs = new Map<number, Constant>();
const outcomes = new Map<number, Constant>();
const SIDE_INDEX: Record<TcpEvent['side'], number> = { '': 0, active: 1, passive: 2 };
const CAUSE_INDEX = Object.fromEntries(CAUSE_NAMES.map((name, i) => [name, i])) as Record<CauseName, number>;

/** `,"oldstate":…,"newstate":…,"ms":` */
function statePair(oldState: number, newState: number): Constant {
  const key = oldState * 256 + newState;
  let c = statePairs.get(key);
  if (c === undefined) {
    c = bytes(`,"oldstate":${JSON.stringify(stateName(oldState))},"newstate":${JSON.stringify(stateName(newState))},"ms":`);
    statePairs.set(key, c);
  }
  return c;
}

/** `,"side":…,"cause":…,"error":…,"syn_retrans":` */
function outcome(e: TcpEvent): Constant {
  const cause = CAUSE_INDEX[e.cause];
  const side = SIDE_INDEX[e.side];
  const cacheable = cause !== undefined && side !== undefined && Number.isInteger(e.error);
  const key = cacheable ? (e.error * 16 + cause) * 4 + side : NaN;
  let c = cacheable ? outcomes.get(key) : undefined;
  if (c === undefined) {
    c = bytes(`,"side":${JSON.stringify(e.side || null)},"cause":${JSON.stringify(e.cause || null)},"error":${JSON.stringify(errnoName(e.error))},"syn_retrans":`);
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
  let p = putText(buf, putBytes(buf, w.length, K.head), isoTime(e.time));
  p = putJsonNumber(buf, putBytes(buf, p, K.tsNs), e.tsNs);
  p = putJsonString(buf, putBytes(buf, p, K.skaddrKey), e.skaddr);
  if (known) {
    p = putJsonNumber(buf, putBytes(buf, p, K.pid), e.pid);
    p = putJsonString(buf, putBytes(buf, p, K.comm), e.comm);
    p = putBytes(buf, p, OWNER[e.ownerSource] ?? bytes(`,"owner":${JSON.stringify(e.ownerSource)},"cgroup_id":`));
    p = e.cgroupId ? putJsonNumber(buf, p, e.cgroupId) : putBytes(buf, p, K.null);
  } else {
    p = putBytes(buf, p, K.unknownOwner);
  }
  p = putJsonNumber(buf, putBytes(buf, p, K.cpuPid), e.cpuPid);
  p = putJsonNumber(buf, putBytes(buf, p, K.cpuTid), e.cpuTid);
  p = putJsonString(buf, putBytes(buf, p, K.cpuComm), e.cpuComm);
  if (e.family === 4) p = putBytes(buf, p, K.family4);
  else if (e.family === 6) p = putBytes(buf, p, K.family6);
  else p = putBytes(buf, putJsonNumber(buf, putBytes(buf, p, K.family), e.family), K.saddr);
  p = putJsonString(buf, p, e.saddr);
  p = putJsonNumber(buf, putBytes(buf, p, K.sport), e.sport);
  p = putJsonString(buf, putBytes(buf, p, K.daddr), e.daddr);
  p = putJsonNumber(buf, putBytes(buf, p, K.dport), e.dport);
  p = putBytes(buf, p, statePair(e.oldState, e.newState));
  p = e.durationNs === null ? putBytes(buf, p, K.null) : putThousandthsOrNull(buf, p, Math.round(e.durationNs / 1000));
  p = putJsonNumber(buf, putBytes(buf, p, K.netns), e.netns);
  p = e.sockIno ? putJsonNumber(buf, putBytes(buf, p, K.sockIno), e.sockIno) : putBytes(buf, p, K.sockInoNull);
  p = putJsonNumber(buf, putBytes(buf, p, K.rttUs), e.rttUs);
  p = e.handshakeUs ? putThousandthsOrNull(buf, putBytes(buf, p, K.handshakeMs), e.handshakeUs) : putBytes(buf, p, K.handshakeMsNull);
  p = putJsonNumber(buf, putBytes(buf, p, outcome(e)), e.synRetrans);
  p = putJsonNumber(buf, putBytes(buf, p, K.synackRetrans), e.synackRetrans);
  p = putStringOrNull(buf, putBytes(buf, p, e.timeWait ? K.timeWaitTrue : K.timeWaitFalse), cgroup);
  p = container === null ? putBytes(buf, p, K.containerIdNull) : putJsonString(buf, putBytes(buf, p, K.containerId), container);
  p = e.acceptWaitUs ? putThousandthsOrNull(buf, putBytes(buf, p, K.acceptWaitMs), e.acceptWaitUs) : putBytes(buf, p, K.acceptWaitMsNull);
  if (e.holders) {
    p = putBytes(buf, p, K.holders);
    buf[p++] = 0x5b; // [
    for (let i = 0; i < e.holders.length; i++) {
      if (i) buf[p++] = 0x2c; // ,
      p = putJsonNumber(buf, p, e.holders[i]);
    }
    buf[p++] = 0x5d; // ]
    p = putBytes(buf, p, e.ownerExited ? K.ownerExitedTrue : K.ownerExitedFalse);
  } else {
    p = putBytes(buf, p, e.ownerExited ? K.holdersNullOwnerExitedTrue : K.holdersNullOwnerExitedFalse);
  }
  if (LATER.length) {
    w.moveTo(p);
    for (const f of LATER) {
      const v = f.value(e);
      if (v === null) w.moveTo(putBytes(w.room(f.keyNull.length), w.length, f.keyNull));
      else putLater(w, f.key, v);
    }
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
    if (p + c.length + 32 > buf.length) return -1; // beyond the room asked for: the slow way
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
