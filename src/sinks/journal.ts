// -Y/--journal: each transition as one structured entry in the systemd journal, sent as a
// datagram in journald's native protocol. Field names follow bcc's tcpstates -Y (OBJECT_*),
// so existing journalctl queries keep working; tcptrace's extra facts are TCPTRACE_*.
import type { TcpEvent } from '../decode/event';
import { errnoName } from '../format/schema';
import { EVENT_FIELDS } from '../format/schema-fields';
import { stateName } from '../decode/states';
import { displayText } from '../format/display';
import { commBytes, decodeComm } from '../decode/comm';
import type { Sink, Writer } from './sink';

export type JournalField = [name: string, value: string];

/** The catalogue keys journalFields writes by hand (bcc's OBJECT_* names, µs units, the cgroup). */
const WRITTEN_BY_HAND: readonly string[] = [
  'time', 'skaddr', 'pid', 'comm', 'owner', 'cgroup_id', 'saddr', 'sport', 'daddr', 'dport', 'oldstate', 'newstate', 'ms', 'netns',
  'rtt_us', 'handshake_ms', 'side', 'cause', 'error', 'syn_retrans', 'synack_retrans', 'time_wait', 'cgroup', 'container_id',
];
/** Every other catalogue field with a journal name: its value as text, left out when null, 0, '' or false. */
const LATER = Object.entries(EVENT_FIELDS).flatMap(([key, f]) =>
  !WRITTEN_BY_HAND.includes(key) && 'journal' in f && f.journal ? [{ name: f.journal[0], value: f.value as (e: TcpEvent) => unknown }] : []);

function journalText(v: unknown): string | undefined {
  if (v === null || v === undefined || v === 0 || v === '' || v === false) return undefined;
  if (v === true) return '1';
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
}

/** The journal entry for one transition (the cgroup as the enrich stage stored it on the event). */
export function journalFields(e: TcpEvent, asRoot = process.geteuid?.() === 0): JournalField[] {
  const cg = e.cgroup ?? null;
  const ip = e.family === 6 ? 'IPV6' : 'IPV4';
  const known = e.ownerSource !== 'unknown' && e.pid > 0;
  const oldState = stateName(e.oldState);
  const newState = stateName(e.newState);
  const who = known ? displayText(e.comm) : '-';
  const why = e.cause ? ` (${e.cause})` : '';
  const f: JournalField[] = [
    ['MESSAGE', `${who} ${e.saddr} ${e.sport} → ${e.daddr} ${e.dport} ${oldState} → ${newState}${why}`],
    ['SYSLOG_IDENTIFIER', 'tcptrace'],
    ['PRIORITY', '5'],
    ['_SOURCE_REALTIME_TIMESTAMP', String(Math.round(e.time * 1000))],
  ];
  if (known) {
    f.push(['OBJECT_PID', String(e.pid)]);
    // As root, journald adds OBJECT_COMM (and more) itself from OBJECT_PID, as bcc relies on.
    if (!asRoot) f.push(['OBJECT_COMM', e.comm]);
  }
  f.push(
    [`OBJECT_${ip}_SOURCE_ADDRESS`, e.saddr],
    ['OBJECT_TCP_SOURCE_PORT', String(e.sport)],
    [`OBJECT_${ip}_DESTINATION_ADDRESS`, e.daddr],
    ['OBJECT_TCP_DESTINATION_PORT', String(e.dport)],
    ['OBJECT_TCP_OLD_STATE', oldState],
    ['OBJECT_TCP_NEW_STATE', newState],
    ['OBJECT_TCP_SPAN_TIME', e.durationNs === null ? '' : String(Math.round(e.durationNs / 1000))],
    ['TCPTRACE_SKADDR', e.skaddr],
    ['TCPTRACE_NETNS', String(e.netns)],
    ['TCPTRACE_OWNER', e.ownerSource],
  );
  if (known) f.push(['TCPTRACE_COMM', e.comm]);
  if (known && e.cgroupId) f.push(['TCPTRACE_CGROUP_ID', String(e.cgroupId)]);
  if (cg) {
    f.push(['TCPTRACE_CGROUP', cg.path]);
    if (cg.container) {
      f.push(['TCPTRACE_CONTAINER_ID', cg.container.id], ['TCPTRACE_CONTAINER_RUNTIME', cg.container.runtime]);
      if (cg.container.podUid) f.push(['TCPTRACE_POD_UID', cg.container.podUid]);
    }
  }
  if (e.side) f.push(['TCPTRACE_SIDE', e.side]);
  if (e.handshakeUs) f.push(['TCPTRACE_HANDSHAKE_US', String(e.handshakeUs)]);
  if (e.cause) f.push(['TCPTRACE_CAUSE', e.cause]);
  if (e.error) f.push(['TCPTRACE_ERROR', errnoName(e.error) as string]);
  if (e.timeWait) f.push(['TCPTRACE_TIME_WAIT', '1']);
  if (e.rttUs) f.push(['TCPTRACE_RTT_US', String(e.rttUs)]);
  if (e.synRetrans) f.push(['TCPTRACE_SYN_RETRANS', String(e.synRetrans)]);
  if (e.synackRetrans) f.push(['TCPTRACE_SYNACK_RETRANS', String(e.synackRetrans)]);
  for (const later of LATER) {
    const text = journalText(later.value(e));
    if (text !== undefined) f.push([later.name, text]);
  }
  return f;
}

const FIELD_NAME = /^[A-Z_][A-Z0-9_]{0,63}$/;

/** A process name's bytes that are not UTF-8 (src/decode/comm.ts): sent as they are, in the binary form. */
const RAW_BYTE = /[\udc80-\udcff]/;

/**
 * journald's native datagram: "NAME=value\n" per field, or, for a value containing a
 * newline (or bytes that are not UTF-8), "NAME\n" + its byte length as a little-endian u64 +
 * the bytes + "\n".
 */
export function encodeEntry(fields: JournalField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    if (!FIELD_NAME.test(name)) throw new RangeError(`bad journal field name '${name}'`);
    const raw = RAW_BYTE.test(value);
    if (raw || value.includes('\n')) {
      const bytes = raw ? commBytes(value) : Buffer.from(value, 'utf8');
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(bytes.length));
      parts.push(Buffer.from(`${name}\n`), len, bytes, Buffer.from('\n'));
    } else {
      parts.push(Buffer.from(`${name}=${value}\n`, 'utf8'));
    }
  }
  return Buffer.concat(parts);
}

interface DgramSocket {
  on(event: 'error', fn: (err: NodeJS.ErrnoException) => void): void;
  on(event: 'congestion' | 'writable' | 'connect', fn: () => void): void;
  connect(path: string): void;
  send(buf: Buffer): void;
  close(): void;
}

function openSocket(path: string): DgramSocket {
  let mod: { createSocket(type: 'unix_dgram'): DgramSocket };
  try {
    mod = require('unix-dgram');
  } catch (err) {
    throw new Error(`--journal needs the unix-dgram package (npm install unix-dgram): ${(err as Error).message.split('\n')[0]}`);
  }
  return mod.createSocket('unix_dgram');
}

/** Sends entries to a journal socket; counts what could not be sent and says so once. */
export class JournalSink implements Sink {
  private socket?: DgramSocket;
  private failedAt = 0;
  sent = 0;
  dropped = 0;
  private warned = false;
  /** set by the socket's synchronous error/congestion events during a send */
  private lastFailed = false;

  private constructor(readonly path: string, private readonly log: Writer) {}

  /** Connects now so that a missing journal is a start-up error, not a silent one. */
  static open(path: string, log: Writer): JournalSink {
    const sink = new JournalSink(path, log);
    const err = sink.connect();
    if (err) throw new Error(`cannot send to the journal at ${path}: ${err}`);
    return sink;
  }

  private connect(): string | undefined {
    const socket = openSocket(this.path);
    let failure: string | undefined;
    let connecting = true;
    socket.on('error', (err) => {
      // unix-dgram reports a negative errno number as the code.
      const code = err.code as unknown;
      failure = typeof code === 'number' ? errnoName(-code) ?? String(code) : String(code ?? err.message);
      if (!connecting) this.onError(failure);
    });
    socket.on('congestion', () => this.drop('journal socket is full'));
    socket.connect(this.path);
    connecting = false;
    if (failure) {
      this.failedAt = Date.now();
      socket.close();
      return failure;
    }
    this.socket = socket;
    return undefined;
  }

  write(batch: TcpEvent[]): void {
    if (!this.socket && Date.now() - this.failedAt > 5000) this.connect();
    for (const e of batch) {
      if (!this.socket) {
        this.dropped++;
        continue;
      }
      this.lastFailed = false;
      this.socket.send(encodeEntry(journalFields(e)));
      if (this.lastFailed) this.dropped++;
      else this.sent++;
    }
  }

  private drop(why: string): void {
    this.lastFailed = true;
    if (!this.warned) {
      this.warned = true;
      this.log(`journal: ${why}; dropping entries (counted at exit)`);
    }
  }

  private onError(code: string): void {
    // The journal went away (restart) or refused us: retry the connection later.
    this.lastFailed = true;
    if (this.socket) {
      try { this.socket.close(); } catch { /* already closed */ }
      this.socket = undefined;
    }
    this.failedAt = Date.now();
    if (!this.warned) {
      this.warned = true;
      this.log(`journal: send failed (${code}); retrying every 5 s`);
    }
  }

  end(): void {
    if (this.dropped) this.log(`journal: ${this.sent} entries sent, ${this.dropped} dropped`);
    try { this.socket?.close(); } catch { /* already closed */ }
    this.socket = undefined;
  }
}
