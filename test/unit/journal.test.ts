// The journal sink against a listener that speaks journald's native protocol: a unix
// datagram socket the test binds, one datagram per entry.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TcpEvent } from '../../src/decode/event';
import { encodeEntry, journalFields, JournalSink, type JournalField } from '../../src/sinks/journal';
import { decodeEntry } from '../helpers/journal';
import { parseArgs } from '../../src/command/options';
import { sampleEvent } from '../helpers/sample';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const unix = require('unix-dgram') as {
  createSocket(type: 'unix_dgram', onMessage?: (buf: Buffer) => void): { bind(p: string): void; close(): void; on(e: string, f: (...a: unknown[]) => void): void };
};

function event(over: Partial<TcpEvent> = {}): TcpEvent {
  return sampleEvent({ cgroupId: 0, ...over });
}

const asMap = (f: JournalField[]) => Object.fromEntries(f);

describe('journal fields', () => {
  it("names fields like bcc's tcpstates -Y", () => {
    const f = asMap(journalFields(event(), false));
    expect(f).toMatchObject({
      SYSLOG_IDENTIFIER: 'tcptrace',
      PRIORITY: '5',
      _SOURCE_REALTIME_TIMESTAMP: String(Date.UTC(2026, 10, 21, 12, 34, 56, 789) * 1000),
      OBJECT_PID: '4321',
      OBJECT_COMM: 'curl',
      OBJECT_IPV4_SOURCE_ADDRESS: '127.0.0.1',
      OBJECT_TCP_SOURCE_PORT: '40000',
      OBJECT_IPV4_DESTINATION_ADDRESS: '127.0.0.1',
      OBJECT_TCP_DESTINATION_PORT: '8080',
      OBJECT_TCP_OLD_STATE: 'SYN_SENT',
      OBJECT_TCP_NEW_STATE: 'ESTABLISHED',
      OBJECT_TCP_SPAN_TIME: '1235',
      TCPTRACE_HANDSHAKE_US: '1235',
      TCPTRACE_SIDE: 'active',
      TCPTRACE_NETNS: '4026531840',
    });
    expect(f.MESSAGE).toBe('curl 127.0.0.1 40000 → 127.0.0.1 8080 SYN_SENT → ESTABLISHED');
  });

  it('IPv6 prefixes, unknown owners, causes and container labels', () => {
    const f = asMap(journalFields(event({ family: 6, saddr: '::1', daddr: '::1', ownerSource: 'unknown', pid: 0, oldState: 2, newState: 7, cause: 'refused', error: 111, durationNs: null,
      cgroup: { path: '/system.slice/docker-' + 'ab'.repeat(32) + '.scope', container: { runtime: 'docker', id: 'ab'.repeat(32) } } }), false));
    expect(f.OBJECT_IPV6_SOURCE_ADDRESS).toBe('::1');
    expect(f.OBJECT_IPV6_DESTINATION_ADDRESS).toBe('::1');
    expect(f.OBJECT_IPV4_SOURCE_ADDRESS).toBeUndefined();
    expect(f.OBJECT_PID).toBeUndefined();
    expect(f.OBJECT_TCP_SPAN_TIME).toBe('');
    expect(f.TCPTRACE_CAUSE).toBe('refused');
    expect(f.TCPTRACE_ERROR).toBe('ECONNREFUSED');
    expect(f.TCPTRACE_CONTAINER_ID).toBe('ab'.repeat(32));
    expect(f.TCPTRACE_CONTAINER_RUNTIME).toBe('docker');
    expect(f.MESSAGE).toContain('SYN_SENT → CLOSE (refused)');
  });

  it('as root leaves OBJECT_COMM to journald, as bcc does', () => {
    const f = asMap(journalFields(event(), true));
    expect(f.OBJECT_COMM).toBeUndefined();
    expect(f.OBJECT_PID).toBe('4321');
    expect(f.TCPTRACE_COMM).toBe('curl');
  });
});

describe('native protocol encoding', () => {
  it('plain fields as NAME=value lines', () => {
    expect(encodeEntry([['A', 'x'], ['B_2', 'héllo']]).toString('utf8')).toBe('A=x\nB_2=héllo\n');
  });

  it('values with newlines in the binary form, and back', () => {
    const buf = encodeEntry([['MESSAGE', 'two\nlines'], ['X', 'y']]);
    expect(buf.subarray(0, 8).toString()).toBe('MESSAGE\n');
    expect(buf.readBigUInt64LE(8)).toBe(9n);
    expect(decodeEntry(buf)).toEqual([['MESSAGE', 'two\nlines'], ['X', 'y']]);
    // a name that is not UTF-8 goes as its exact bytes; MESSAGE shows it escaped
    const odd = 'caf\udce9\x1b';
    const entry = encodeEntry(journalFields(sampleEvent({ comm: odd }), false));
    expect(entry.includes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x1b]))).toBe(true);
    const fields = new Map(decodeEntry(entry));
    expect(fields.get('TCPTRACE_COMM')).toBe(odd);
    expect(fields.get('MESSAGE')).toMatch(/^caf\\xe9\\x1b 127/);
  });

  it('refuses invalid field names', () => {
    expect(() => encodeEntry([['lower', 'x']])).toThrow(/field name/);
    expect(() => encodeEntry([['1ABC', 'x']])).toThrow(/field name/);
  });
});

describe('journal sink', () => {
  let dir: string;
  let socketPath: string;
  let listener: ReturnType<typeof unix.createSocket>;
  const received: Buffer[] = [];

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tt-journal-'));
    socketPath = path.join(dir, 'socket');
    listener = unix.createSocket('unix_dgram', (buf) => received.push(Buffer.from(buf)));
    listener.bind(socketPath);
  });

  afterAll(() => {
    listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function waitFor(n: number): Promise<void> {
    const deadline = Date.now() + 3000;
    while (received.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  it('sends one datagram per transition to the configured socket', async () => {
    const logs: string[] = [];
    // The socket path comes from the option, as the CLI passes it.
    const plan = parseArgs(['-Y', '--journal-socket', socketPath]);
    expect(plan.journal).toEqual({ socket: socketPath });
    const sink = JournalSink.open(plan.journal!.socket, (l) => logs.push(l));
    sink.write([event(), event({ oldState: 1, newState: 4, handshakeUs: 0, durationNs: 5_000_000 }), event({ oldState: 5, newState: 7, cause: 'normal', timeWait: true })]);
    await waitFor(3);
    sink.end();
    expect(received).toHaveLength(3);
    const entries = received.map((b) => asMap(decodeEntry(b)));
    expect(entries.map((e) => `${e.OBJECT_TCP_OLD_STATE}->${e.OBJECT_TCP_NEW_STATE}`)).toEqual(['SYN_SENT->ESTABLISHED', 'ESTABLISHED->FIN_WAIT1', 'FIN_WAIT2->CLOSE']);
    expect(entries[1].OBJECT_TCP_SPAN_TIME).toBe('5000');
    expect(entries[2].TCPTRACE_TIME_WAIT).toBe('1');
    expect(entries.every((e) => e.SYSLOG_IDENTIFIER === 'tcptrace' && e.MESSAGE)).toBe(true);
    expect(sink.sent).toBe(3);
    expect(logs).toEqual([]);
  });

  it('takes the socket from $TCPTRACE_JOURNAL_SOCKET, else the system one', () => {
    const saved = process.env.TCPTRACE_JOURNAL_SOCKET;
    try {
      process.env.TCPTRACE_JOURNAL_SOCKET = socketPath;
      expect(parseArgs(['--journal']).journal).toEqual({ socket: socketPath });
      delete process.env.TCPTRACE_JOURNAL_SOCKET;
      expect(parseArgs(['-Y']).journal).toEqual({ socket: '/run/systemd/journal/socket' });
    } finally {
      if (saved === undefined) delete process.env.TCPTRACE_JOURNAL_SOCKET;
      else process.env.TCPTRACE_JOURNAL_SOCKET = saved;
    }
  });

  it('counts what it cannot send when the journal goes away, says so once, and reconnects', async () => {
    const other = path.join(dir, 'restarting');
    const got: Buffer[] = [];
    let l = unix.createSocket('unix_dgram', (buf) => got.push(Buffer.from(buf)));
    l.bind(other);
    const logs: string[] = [];
    const sink = JournalSink.open(other, (line) => logs.push(line));
    l.close();
    rmSync(other);
    sink.write([event(), event(), event()]);
    expect(sink.dropped).toBe(3);
    expect(sink.sent).toBe(0);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^journal: send failed \((ECONNREFUSED|ENOENT|ENOTCONN)\); retrying every 5 s$/);
    // journald is back; the next write after the retry delay reconnects.
    l = unix.createSocket('unix_dgram', (buf) => got.push(Buffer.from(buf)));
    l.bind(other);
    (sink as unknown as { failedAt: number }).failedAt = 0;
    sink.write([event()]);
    const deadline = Date.now() + 3000;
    while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got).toHaveLength(1);
    expect(sink.sent).toBe(1);
    sink.end();
    expect(logs[logs.length - 1]).toBe('journal: 1 entries sent, 3 dropped');
    l.close();
  });

  it('a missing journal is a one-line start-up error', () => {
    expect(() => JournalSink.open(path.join(dir, 'nobody'), () => {})).toThrow(/^cannot send to the journal at .*nobody: ENOENT$/);
  });
});
