// The event field catalogue: every field of the JSON form of a TcpEvent, declared once, in
// output order, with its type and meaning as docs/SCHEMA.md lists them, its value, and where
// the other writers carry it (journal field names, table/CSV column). toJsonEvent (schema.ts)
// is built from it; the hand-written fast writers (schema-writer.ts, sinks/journal.ts, the
// table and CSV headers) and docs/SCHEMA.md are checked against it by
// test/unit/event-fields.test.ts. Bump SCHEMA_VERSION on any change that is not a pure addition.
import { constants } from 'node:os';
import type { TcpEvent } from '../decode/event';
import { stateName } from '../decode/states';
import { totalsJson } from './totals';
import { diagnose, diagnosisJson } from '../derive/handshake-diagnosis';

export const SCHEMA_VERSION = 2;

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function errnoName(n: number): string | null {
  return n ? errnoNames.get(n) ?? `E${n}` : null;
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

export interface EventField<T> {
  /** the JSON type as docs/SCHEMA.md writes it */
  readonly type: string;
  /** its meaning, one line of docs/SCHEMA.md */
  readonly doc: string;
  readonly value: (e: TcpEvent) => T;
  /** journal fields that carry it (sinks/journal.ts), when any */
  readonly journal?: readonly string[];
  /** the table and CSV column that shows it (sinks/table.ts, sinks/csv.ts), when any */
  readonly column?: string;
  /** --lifetimes shows it too, read from the connection's CLOSE (after the record's own keys) */
  readonly lifetimes?: boolean;
}

function field<T>(type: string, doc: string, value: (e: TcpEvent) => T, carried: Pick<EventField<T>, 'journal' | 'column' | 'lifetimes'> = {}): EventField<T> {
  return { type, doc, value, ...carried };
}

const known = (e: TcpEvent): boolean => e.ownerSource !== 'unknown';
/** k thousandths as a number: 1234 → 1.234 */
const thousandths = (k: number): number => k / 1000;

export const EVENT_FIELDS = {
  v: field<number>('number', 'schema version (2; 1 before captures carried typed records)', () => SCHEMA_VERSION),
  time: field('string', 'wall-clock time of the transition, ISO 8601 UTC, millisecond precision', (e) => isoTime(e.time),
    { journal: ['_SOURCE_REALTIME_TIMESTAMP'], column: 'TIME' }),
  ts_ns: field('number', '`CLOCK_MONOTONIC` nanoseconds (kernel `bpf_ktime_get_ns`); exact up to ~104 days of uptime, within a few ns after',
    (e) => e.tsNs, { column: 'TIME(s)' }),
  skaddr: field('string', 'kernel socket address, 16 hex digits: identity of one socket across its transitions (reused after CLOSE)',
    (e) => e.skaddr, { journal: ['TCPTRACE_SKADDR'], column: 'SKADDR' }),
  pid: field('number | null', 'the process that **owns** the socket; `null` when unknown (see docs/ATTRIBUTION.md)',
    (e) => (known(e) ? e.pid : null), { journal: ['OBJECT_PID'], column: 'PID' }),
  comm: field('string | null', 'the owner\'s process name (docs/SCHEMA.md, "Process names"); `null` when unknown',
    (e) => (known(e) ? e.comm : null), { journal: ['OBJECT_COMM', 'TCPTRACE_COMM'], column: 'COMM' }),
  owner: field('string', 'how the owner was decided (docs/ATTRIBUTION.md): `kernel` (a transition only the owner\'s system call makes), `accept` (the process whose `accept()` returned it), `use` (the last process that took it over by sending or receiving), `listener` (before accept: the listener\'s current holder), `proc` (found in /proc by socket inode), `unknown`',
    (e) => e.ownerSource, { journal: ['TCPTRACE_OWNER'] }),
  cgroup_id: field('number | null', 'the owner\'s cgroup v2 id (inode of the cgroup directory)',
    (e) => (known(e) && e.cgroupId ? e.cgroupId : null), { journal: ['TCPTRACE_CGROUP_ID'] }),
  cpu_pid: field('number', 'the task on the CPU when the kernel made the change (bcc\'s C-PID); often not the owner', (e) => e.cpuPid, { column: 'C-PID' }),
  cpu_tid: field('number', 'that task\'s thread id', (e) => e.cpuTid),
  cpu_comm: field('string', 'that task\'s name (bcc\'s C-COMM)', (e) => e.cpuComm, { column: 'C-COMM' }),
  family: field<4 | 6>('4 | 6', 'address family (the journal writes it into the address field names: `OBJECT_IPV4_…`, `OBJECT_IPV6_…`)', (e) => e.family, { column: 'IP' }),
  saddr: field('string', 'local address; IPv4-mapped IPv6 prints as `::ffff:a.b.c.d`', (e) => e.saddr,
    { journal: ['OBJECT_IPV4_SOURCE_ADDRESS', 'OBJECT_IPV6_SOURCE_ADDRESS'], column: 'LADDR' }),
  sport: field('number', 'local port (0 on `CLOSE->SYN_SENT`: the kernel picks it after)', (e) => e.sport,
    { journal: ['OBJECT_TCP_SOURCE_PORT'], column: 'LPORT' }),
  daddr: field('string', 'remote address', (e) => e.daddr,
    { journal: ['OBJECT_IPV4_DESTINATION_ADDRESS', 'OBJECT_IPV6_DESTINATION_ADDRESS'], column: 'RADDR' }),
  dport: field('number', 'remote port', (e) => e.dport, { journal: ['OBJECT_TCP_DESTINATION_PORT'], column: 'RPORT' }),
  oldstate: field('string', 'the state left: `ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE CLOSE_WAIT LAST_ACK LISTEN CLOSING`',
    (e) => stateName(e.oldState), { journal: ['OBJECT_TCP_OLD_STATE'], column: 'OLDSTATE' }),
  newstate: field('string', 'the state entered (same names)', (e) => stateName(e.newState), { journal: ['OBJECT_TCP_NEW_STATE'], column: 'NEWSTATE' }),
  ms: field('number | null', 'milliseconds spent in `oldstate` (µs precision); `null` when the entry into it was not seen (socket older than the tracer, or a new child)',
    (e) => (e.durationNs === null ? null : thousandths(Math.round(e.durationNs / 1000))), { journal: ['OBJECT_TCP_SPAN_TIME'], column: 'MS' }),
  netns: field('number', 'network namespace inode of the socket', (e) => e.netns, { journal: ['TCPTRACE_NETNS'] }),
  sock_ino: field('number | null', 'socket inode (`socket:[N]` in /proc/PID/fd); null before `accept()`', (e) => e.sockIno || null),
  rtt_us: field('number', 'the socket\'s smoothed RTT at the transition, 0 if none yet', (e) => e.rttUs, { journal: ['TCPTRACE_RTT_US'] }),
  handshake_ms: field('number | null', 'on `->ESTABLISHED`: active opens from SYN_SENT, passive opens from the first SYN-ACK (the kernel\'s SYN-ACK RTT sample, or the first SYN-ACK\'s send time when it was retransmitted)',
    (e) => (e.handshakeUs ? thousandths(e.handshakeUs) : null), { journal: ['TCPTRACE_HANDSHAKE_US'] }),
  side: field<string | null>('string | null', '`active` (connect) or `passive` (accepted)', (e) => e.side || null, { journal: ['TCPTRACE_SIDE'] }),
  cause: field<string | null>('string | null', 'on `->CLOSE` only: `normal`, `reset-received`, `reset-sent`, `refused`, `timeout`, `error`',
    (e) => e.cause || null, { journal: ['TCPTRACE_CAUSE'], column: 'CAUSE' }),
  error: field('string | null', 'the socket\'s error as an errno name (`ECONNREFUSED`, `ETIMEDOUT`, …)', (e) => errnoName(e.error), { journal: ['TCPTRACE_ERROR'] }),
  syn_retrans: field('number', 'SYN retransmits of this active open', (e) => e.synRetrans, { journal: ['TCPTRACE_SYN_RETRANS'] }),
  synack_retrans: field('number', 'SYN-ACK retransmits of this passive open', (e) => e.synackRetrans, { journal: ['TCPTRACE_SYNACK_RETRANS'] }),
  time_wait: field('boolean', 'this `CLOSE` hands the connection to a TIME_WAIT socket (the kernel\'s full socket goes `FIN_WAIT2/CLOSING -> CLOSE`; TIME_WAIT itself is a separate mini-socket the tracepoint never shows); the table and CSV write `,time-wait` after the cause',
    (e) => e.timeWait, { journal: ['TCPTRACE_TIME_WAIT'] }),
  cgroup: field('string | null', 'the owner\'s cgroup v2 path, when its cgroup id could be found (docs/FLEET.md)',
    (e) => e.cgroup?.path ?? null, { journal: ['TCPTRACE_CGROUP'] }),
  container_id: field('string | null', 'the container id read from that path (Docker, containerd, CRI-O, Podman), else `null`; the journal adds the runtime and the Kubernetes pod UID',
    (e) => e.cgroup?.container?.id ?? null, { journal: ['TCPTRACE_CONTAINER_ID', 'TCPTRACE_CONTAINER_RUNTIME', 'TCPTRACE_POD_UID'] }),
  accept_wait_ms: field('number | null', 'passive sockets after `accept()`: ms from `SYN_RECV->ESTABLISHED` to `accept()` returning it (µs precision); `null` before accept, for active sockets, or when the accept was not traced',
    (e) => (e.acceptWaitUs ? thousandths(e.acceptWaitUs) : null)),
  holders: field('number[] | null', 'before accept, when several live processes hold the listener: the pids known so far, the one in `pid` first (the master) — only the master\'s when the others died and a rescan has not yet found their successors, or when the kernel saw another process accept from the listener and the scan for the others has not run yet; `null` when it is the only holder (or, without accept records, before any process but the `listen()` caller has accepted from it: docs/ATTRIBUTION.md)',
    (e) => e.holders),
  owner_exited: field('boolean', 'the owner named had exited when tcptrace processed the event, and the change did not run in it: a socket it left behind (orphaned after its exit), or a `listen()` caller gone before its queued connections were processed; `pid` and `comm` are its last (the table and CSV write `*` after COMM)',
    (e) => e.ownerExited === true),
  totals: field<Record<string, number | null> | null>('object | null', 'on a connection\'s `->CLOSE`: its totals from the socket, an object of the fields below ("Connection totals"); `null` on every other transition',
    (e) => (e.totals ? totalsJson(e.totals) : null)),
  diagnosis: field('object | null', 'on `->ESTABLISHED` and `->CLOSE`: why the handshake was slow or failed (docs/HANDSHAKE.md), `{"why", "proven", "evidence", "listener_port", "accept_queue", "accept_queue_read"}`; `why` is `accept-queue-full`, `syn-dropped` (the listener dropped the SYN, cookies off: which queue was full the kernel does not record per packet), `syn-cookie`, `lost-in-network`, `slow-accept` (CLOSE only: accept wait over 100 ms), `refused`, `timeout`, `reset` or `unknown` (retransmitted, no kernel evidence here); `proven` is false for a verdict inferred from the listener\'s shared drop count, `evidence` says what it rests on; `accept_queue` is the listener\'s accept queue `fill/limit` read at the retransmit named by `accept_queue_read` (`syn-retransmit` or `synack-retransmit`; not at the drop), else `null`; `null` for a handshake with nothing to explain',
    (e) => diagnosisJson(diagnose(e)), { lifetimes: true }),
};

/** The catalogue fields --lifetimes shows of each connection's CLOSE, in catalogue order. */
export const LIFETIMES_FIELDS = Object.entries(EVENT_FIELDS).flatMap(([key, f]) =>
  'lifetimes' in f && f.lifetimes ? [{ key, value: f.value as (e: TcpEvent) => unknown }] : []);

/** The journal fields that carry no event field of their own. */
export const JOURNAL_ENVELOPE = ['MESSAGE', 'SYSLOG_IDENTIFIER', 'PRIORITY'] as const;
