// toJsonEvent(e) serialised straight to UTF-8 bytes: the same text JSON.stringify(toJsonEvent(e))
// gives (test/unit/format.test.ts proves it on random and edge-case events), without building
// the object or the string. NDJSON and the WebSocket stream use it on the hot path; schema.ts
// stays the definition of the fields.
import type { TcpEvent } from './event';
import { stateName } from './states';
import { cgroupResolver } from './containers';
import { errnoName, isoTime, SCHEMA_VERSION } from './schema';
import type { ByteWriter } from './sinks/bytes';

const HEAD = `{"v":${SCHEMA_VERSION},"time":"`;
/** below this many thousandths, String(k / 1000) is exactly k's trimmed decimal (≤ 15 digits) */
const EXACT_THOUSANDTHS = 1e15;

function thousandthsOrNull(w: ByteWriter, k: number): void {
  if (k >= 0 && k < EXACT_THOUSANDTHS && k === Math.floor(k)) w.thousandths(k, true);
  else w.jsonNumber(k / 1000);
}

function stringOrNull(w: ByteWriter, s: string | null | undefined): void {
  if (s === null || s === undefined) w.text('null');
  else w.jsonString(s);
}

export function writeJsonEvent(w: ByteWriter, e: TcpEvent): void {
  const known = e.ownerSource !== 'unknown';
  const cg = known && e.cgroupId ? cgroupResolver().resolve(e.cgroupId, e.pid) : null;
  w.text(HEAD);
  w.text(isoTime(e.time));
  w.text('","ts_ns":');
  w.jsonNumber(e.tsNs);
  w.text(',"skaddr":');
  w.jsonString(e.skaddr);
  w.text(',"pid":');
  if (known) w.jsonNumber(e.pid);
  else w.text('null');
  w.text(',"comm":');
  if (known) w.jsonString(e.comm);
  else w.text('null');
  w.text(',"owner":');
  w.jsonString(e.ownerSource);
  w.text(',"cgroup_id":');
  if (known && e.cgroupId) w.jsonNumber(e.cgroupId);
  else w.text('null');
  w.text(',"cpu_pid":');
  w.jsonNumber(e.cpuPid);
  w.text(',"cpu_tid":');
  w.jsonNumber(e.cpuTid);
  w.text(',"cpu_comm":');
  w.jsonString(e.cpuComm);
  w.text(',"family":');
  w.jsonNumber(e.family);
  w.text(',"saddr":');
  w.jsonString(e.saddr);
  w.text(',"sport":');
  w.jsonNumber(e.sport);
  w.text(',"daddr":');
  w.jsonString(e.daddr);
  w.text(',"dport":');
  w.jsonNumber(e.dport);
  w.text(',"oldstate":');
  w.jsonString(stateName(e.oldState));
  w.text(',"newstate":');
  w.jsonString(stateName(e.newState));
  w.text(',"ms":');
  if (e.durationNs === null) w.text('null');
  else thousandthsOrNull(w, Math.round(e.durationNs / 1000));
  w.text(',"netns":');
  w.jsonNumber(e.netns);
  w.text(',"sock_ino":');
  if (e.sockIno) w.jsonNumber(e.sockIno);
  else w.text('null');
  w.text(',"rtt_us":');
  w.jsonNumber(e.rttUs);
  w.text(',"handshake_ms":');
  if (e.handshakeUs) thousandthsOrNull(w, e.handshakeUs);
  else w.text('null');
  w.text(',"side":');
  stringOrNull(w, e.side || null);
  w.text(',"cause":');
  stringOrNull(w, e.cause || null);
  w.text(',"error":');
  stringOrNull(w, errnoName(e.error));
  w.text(',"syn_retrans":');
  w.jsonNumber(e.synRetrans);
  w.text(',"synack_retrans":');
  w.jsonNumber(e.synackRetrans);
  w.text(e.timeWait ? ',"time_wait":true,"cgroup":' : ',"time_wait":false,"cgroup":');
  stringOrNull(w, cg?.path);
  w.text(',"container_id":');
  stringOrNull(w, cg?.container ? cg.container.id : null);
  w.byte(0x7d); // }
}
