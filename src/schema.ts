// The JSON form of a TcpEvent: NDJSON lines, WebSocket `events` messages and the dashboard
// all read these names. docs/SCHEMA.md documents them; bump SCHEMA_VERSION on any change
// that is not a pure addition. src/schema-writer.ts prints the same object as bytes on the hot
// path: change a field here and there (test/unit/bytes.test.ts fails until both agree).
import { constants } from 'node:os';
import type { TcpEvent } from './event';
import { stateName } from './states';

export const SCHEMA_VERSION = 1;

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function errnoName(n: number): string | null {
  return n ? errnoNames.get(n) ?? `E${n}` : null;
}

export interface JsonEvent {
  v: number;
  time: string;
  ts_ns: number;
  skaddr: string;
  pid: number | null;
  comm: string | null;
  owner: string;
  cgroup_id: number | null;
  cpu_pid: number;
  cpu_tid: number;
  cpu_comm: string;
  family: 4 | 6;
  saddr: string;
  sport: number;
  daddr: string;
  dport: number;
  oldstate: string;
  newstate: string;
  ms: number | null;
  netns: number;
  sock_ino: number | null;
  rtt_us: number;
  handshake_ms: number | null;
  side: string | null;
  cause: string | null;
  error: string | null;
  syn_retrans: number;
  synack_retrans: number;
  time_wait: boolean;
  /** the owner's cgroup v2 path, when the cgroup id could be found (docs/FLEET.md) */
  cgroup: string | null;
  /** container id read from that path (Docker, containerd, CRI-O, Podman), else null */
  container_id: string | null;
  /** passive sockets after accept(): ms from ESTABLISHED to accept() returning it */
  accept_wait_ms: number | null;
  /** before accept, when several live processes hold the listener: all of them (pid is the first) */
  holders: number[] | null;
}

// Events come in bursts within one millisecond: format that millisecond once.
let isoMs = NaN;
let isoText = '';

export function isoTime(ms: number): string {
  const whole = Math.floor(ms);
  if (whole !== isoMs) {
    isoMs = whole;
    isoText = new Date(whole).toISOString();
  }
  return isoText;
}

export function toJsonEvent(e: TcpEvent): JsonEvent {
  const known = e.ownerSource !== 'unknown';
  const cg = e.cgroup ?? null;
  return {
    v: SCHEMA_VERSION,
    time: isoTime(e.time),
    ts_ns: e.tsNs,
    skaddr: e.skaddr,
    pid: known ? e.pid : null,
    comm: known ? e.comm : null,
    owner: e.ownerSource,
    cgroup_id: known && e.cgroupId ? e.cgroupId : null,
    cpu_pid: e.cpuPid,
    cpu_tid: e.cpuTid,
    cpu_comm: e.cpuComm,
    family: e.family,
    saddr: e.saddr,
    sport: e.sport,
    daddr: e.daddr,
    dport: e.dport,
    oldstate: stateName(e.oldState),
    newstate: stateName(e.newState),
    ms: e.durationNs === null ? null : Math.round(e.durationNs / 1000) / 1000,
    netns: e.netns,
    sock_ino: e.sockIno || null,
    rtt_us: e.rttUs,
    handshake_ms: e.handshakeUs ? e.handshakeUs / 1000 : null,
    side: e.side || null,
    cause: e.cause || null,
    error: errnoName(e.error),
    syn_retrans: e.synRetrans,
    synack_retrans: e.synackRetrans,
    time_wait: e.timeWait,
    cgroup: cg ? cg.path : null,
    container_id: cg?.container ? cg.container.id : null,
    accept_wait_ms: e.acceptWaitUs ? e.acceptWaitUs / 1000 : null,
    holders: e.holders,
  };
}
