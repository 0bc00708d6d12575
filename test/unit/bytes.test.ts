// The byte writers on the hot path must print exactly what the string APIs they replace print.
import { describe, expect, it } from 'vitest';
import { ByteWriter, bytes, putBytes, putJsonNumber, putJsonString, putMsFixed3, putText, putThousandths, putUint } from '../../src/format/bytes';
import { writeJsonEvent } from '../../src/format/schema-writer';
import { toJsonEvent } from '../../src/format/schema';
import { containerFromPath, type CgroupResolver } from '../../src/enrich/containers';
import { CgroupEnricher } from '../../src/enrich/cgroup';
import { TableSink } from '../../src/sinks/table';
import type { TcpEvent } from '../../src/decode/event';
import { sampleEvent } from '../helpers/sample';
import { stateName } from '../../src/decode/states';
import { terminalSafeJson } from '../../src/format/display';
import { RECORD_FIELD_NAMES } from '../../src/decode/record.generated';

/** Deterministic pseudo-random numbers (xorshift), so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** What one put writes, as text. */
function written(put: (buf: Buffer, p: number) => number): string {
  const w = new ByteWriter(8); // tiny, so growth is exercised too
  w.byte(0x21);
  w.moveTo(put(w.room(64 * 1024), w.length));
  return w.written().toString('utf8').slice(1);
}

const INTEGERS = [0, 1, 9, 10, 99, 100, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 1e15 + 7, 2 ** 53 - 1, 2 ** 53, 2 ** 64, -0];

describe('ByteWriter numbers', () => {
  it('uint and jsonNumber print as String() and JSON.stringify', () => {
    const r = rng(1);
    const values = [...INTEGERS];
    for (let i = 0; i < 2000; i++) values.push(Math.floor(r() * 10 ** Math.floor(r() * 16)));
    values.push(1.5, -3, NaN, Infinity, 1e21, 5e-7);
    for (const n of values) {
      if (n >= 0 && Number.isInteger(n)) expect(written((b, p) => putUint(b, p, n))).toBe(String(n));
      expect(written((b, p) => putJsonNumber(b, p, n))).toBe(JSON.stringify(n));
    }
  });

  it('milliseconds with three decimals match toFixed(3), halfway cases included', () => {
    const r = rng(2);
    const values = [0, 1, 499, 500, 501, 1500, 2500, 999_999, 1_000_000, 1_234_567, 123_456_789_500, 1e15, 1e16 + 500];
    for (let i = 0; i < 3000; i++) values.push(Math.floor(r() * 10 ** Math.floor(r() * 13)));
    for (let i = 0; i < 500; i++) values.push(Math.floor(r() * 1e9) * 1000 + 500);
    for (const ns of values) expect(written((b, p) => putMsFixed3(b, p, ns))).toBe((ns / 1e6).toFixed(3));
  });

  it('trimmed thousandths match String(k / 1000)', () => {
    const r = rng(3);
    const values = [0, 1, 10, 100, 1000, 1200, 1230, 1234, 999_999_999_999_999];
    for (let i = 0; i < 3000; i++) values.push(Math.floor(r() * 10 ** Math.floor(r() * 15)));
    for (const k of values) expect(written((b, p) => putThousandths(b, p, k, true))).toBe(String(k / 1000));
  });
});

describe('ByteWriter constants', () => {
  it('putBytes writes a constant of any length exactly, and nothing past its end', () => {
    for (let n = 0; n <= 70; n++) {
      const text = Array.from({ length: n }, (_, i) => String.fromCharCode(0x21 + ((i * 7 + n) % 90))).join('');
      for (const at of [0, 1, 3]) {
        const buf = Buffer.alloc(at + n + 8, 0xee);
        expect(putBytes(buf, at, bytes(text))).toBe(at + n);
        expect(buf.subarray(at, at + n).toString('latin1')).toBe(text);
        expect([...buf.subarray(0, at), ...buf.subarray(at + n)].every((b) => b === 0xee), `${n} at ${at}`).toBe(true);
      }
    }
    const utf8 = 'caf\u00e9 \u4e2d';
    const buf = Buffer.alloc(32);
    expect(buf.subarray(0, putBytes(buf, 0, bytes(utf8))).toString('utf8')).toBe(utf8);
  });
});

describe('ByteWriter text', () => {
  const samples = ['', 'curl', 'a"b', 'back\\slash', 'tab\there', 'nl\n', '\u0000\u001f\u007f', 'caf\u00e9', 'x\u00ff', '\u4e2d\u6587', '\u{1f600}', 'lone\ud800', '\udc00end'];
  const latin1 = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
  const bidi = 'a\u202eb\u2028c\u2066d\u061c';
  const del = 'del\u007f';

  it('jsonString escapes as JSON.stringify does, plus DEL, C1 and bidi/line-separator controls', () => {
    for (const s of [...samples, latin1, bidi, del]) {
      const json = written((b, p) => putJsonString(b, p, s));
      expect(json).toBe(terminalSafeJson(JSON.stringify(s)));
      expect(JSON.parse(json)).toBe(s);
      expect(/[\u007f-\u009f\u2028\u202e]/.test(json), json).toBe(false);
    }
    expect(written((b, p) => putJsonString(b, p, 'c1\u009b2J\\\u0085'))).toBe('"c1\\u009b2J\\\\\\u0085"');
  });

  it('text is UTF-8', () => {
    const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('utf8'); // lone surrogates → U+FFFD
    for (const s of [...samples, latin1]) {
      expect(written((b, p) => putText(b, p, s))).toBe(utf8(s));
    }
  });
});

describe('NDJSON bytes', () => {
  function randomEvent(r: () => number): TcpEvent {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const int = (max: number) => Math.floor(r() * max);
    return sampleEvent({
      ...Object.fromEntries(RECORD_FIELD_NAMES.map((k) => [k, int(2 ** 32)])),
      tsNs: int(2 ** 53), time: 1.7e12 + r() * 1e10, pid: int(4e6), comm: pick(['curl', 'a"b', 'caf\u00e9', 'x\ny', '', 'sixteen-chars-xx']),
      ownerSource: pick(['kernel', 'listener', 'accept', 'use', 'proc', 'unknown'] as const), cgroupId: pick([0, 1, int(2 ** 40)]),
      cpuPid: int(4e6), cpuTid: int(4e6), cpuComm: pick(['swapper/0', 'ksoftirqd/1', 'node']), family: pick([4, 6] as const),
      saddr: pick(['127.0.0.1', '::1', 'fe80::1']), daddr: pick(['10.0.0.1', '::ffff:1.2.3.4']), sport: int(65536), dport: int(65536),
      oldState: int(14), newState: int(16), durationNs: pick([null, 0, int(1e6), int(1e12), int(1e6) * 1000 + 500]),
      netns: int(2 ** 32), sockIno: pick([0, int(2 ** 32)]), rttUs: int(2 ** 32), handshakeUs: pick([0, int(2 ** 32)]),
      error: pick([0, 104, 110, 111, 999]), cause: pick(['', 'normal', 'reset-received', 'refused'] as const),
      timeWait: r() < 0.5, side: pick(['active', 'passive', ''] as const), synRetrans: int(256), synackRetrans: int(256), acceptWaitUs: int(2) ? int(1e6) : 0, diagnosis: int(7), holders: r() < 0.2 ? [int(1e6), int(1e6)] : null, ownerExited: r() < 0.2, isAccept: false,
      totals: r() < 0.3 ? {
        bytesAcked: int(2 ** 53), bytesReceived: int(2 ** 40), bytesRetrans: int(2 ** 32), segsOut: int(2 ** 32), segsIn: int(2 ** 32),
        retransSegs: int(2 ** 32), retransRto: pick([null, 0, int(65536)]), rttUs: int(2 ** 32), rttMinUs: int(2 ** 32),
        busyUs: pick([null, int(2 ** 40)]), rwndLimitedUs: pick([null, 0, int(2 ** 40)]), sndbufLimitedUs: pick([null, int(2 ** 40)]),
      } : null,
    });
  }

  it('writeJsonEvent prints terminalSafeJson(JSON.stringify(toJsonEvent(e))) exactly', () => {
    const paths = new Map<number, string>([[1, '/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope'], [7, '/user.slice/caf\u00e9 "q"']]);
    const resolver = {
      resolve: (id: number) => (paths.has(id) ? { path: paths.get(id)!, container: containerFromPath(paths.get(id)!) } : null),
    } as unknown as CgroupResolver;
    const r = rng(4);
    const events = [sampleEvent(), sampleEvent({ cgroupId: 7 }), sampleEvent({ ownerSource: 'unknown' })];
    // what the fast paths assume, not held: another family, an owner source of a newer writer,
    // holders with the owner gone, a cgroup without a container, an unknown owner with a cgroup
    events.push(sampleEvent({ family: 10 as 4 }), sampleEvent({ family: 0 as 4, ownerSource: 'other' as 'proc' }),
      sampleEvent({ holders: [1, 22, 333], ownerExited: true }), sampleEvent({ holders: [], ownerExited: false }),
      sampleEvent({ ownerSource: 'unknown', cgroupId: 1, ownerExited: true }), sampleEvent({ cgroupId: 0, sockIno: 0, handshakeUs: 0, acceptWaitUs: 0, durationNs: null }));
    for (let i = 0; i < 3000; i++) events.push(randomEvent(r));
    // the enrich stage stores what the writers print (src/enrich/cgroup.ts)
    new CgroupEnricher(() => resolver).enrich(events);
    const w = new ByteWriter(64);
    for (const e of events) {
      w.moveTo(0);
      writeJsonEvent(w, e);
      expect(w.written().toString('utf8')).toBe(terminalSafeJson(JSON.stringify(toJsonEvent(e))));
    }
  });
});

describe('table bytes', () => {
  /** The row as the string formatter before the byte writer printed it. */
  function oracleRow(e: TcpEvent, wide: boolean, onCpu: boolean, time: 'none' | 'clock' | 'relative', firstNs: number): string {
    // ASCII names: cut to 9 and marked when longer than the column
    const comm = (name: string) => (name.length > 10 ? `${name.slice(0, 9)}…` : name.padEnd(10));
    const addr = wide ? 39 : 15;
    const known = e.ownerSource !== 'unknown';
    const d = new Date(e.time);
    const hms = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
    let s = time === 'clock' ? `${hms} ` : time === 'relative' ? `${((e.tsNs - firstNs) / 1e9).toFixed(3).padEnd(9)} ` : '';
    s += `${e.skaddr} ${known ? String(e.pid).padEnd(7) : '-      '} ${known ? comm(e.comm) : '-         '} `;
    if (onCpu) s += `${String(e.cpuPid).padEnd(7)} ${comm(e.cpuComm)} `;
    if (wide) s += `${e.family}  `;
    s += `${e.saddr.padEnd(addr)} ${String(e.sport).padEnd(5)} ${e.daddr.padEnd(addr)} ${String(e.dport).padEnd(5)} `;
    s += `${stateName(e.oldState).padEnd(11)} -> ${stateName(e.newState).padEnd(11)} `;
    s += e.durationNs === null ? '0.000' : (e.durationNs / 1e6).toFixed(3);
    const cause = e.cause ? (e.timeWait ? `${e.cause},time-wait` : e.cause) : '';
    return cause ? `${s} ${cause}` : s;
  }

  it('rows match the string formatter while sockets reuse addresses and owners change', () => {
    const r = rng(5);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const layouts = [[false, false, 'none'], [true, false, 'relative'], [false, true, 'clock']] as const;
    for (const [wide, onCpu, time] of layouts) {
      let text = '';
      const sink = new TableSink((s) => { text += typeof s === 'string' ? s : Buffer.from(s).toString('utf8'); }, { time, wide, onCpu });
      const events: TcpEvent[] = [];
      for (let i = 0; i < 3000; i++) {
        events.push(sampleEvent({
          skaddr: pick(['ffff888102e8ca00', 'ffff888102e8cb00', 'ffff888102e8cc00']), pid: pick([1, 4321]), comm: pick(['curl', 'nginx-worker-proc']),
          ownerSource: pick(['kernel', 'unknown', 'proc'] as const), saddr: pick(['127.0.0.1', '10.1.2.3']), sport: pick([80, 40000]),
          daddr: pick(['127.0.0.1', '::1']), dport: pick([443, 8080]), oldState: pick([1, 2, 7, 10]), newState: pick([1, 4, 7]),
          cpuPid: pick([0, 99]), cpuComm: pick(['swapper/1', 'node']), durationNs: pick([null, 12_345_678, 500]),
          cause: pick(['', 'normal', 'reset-sent'] as const), timeWait: r() < 0.3,
          tsNs: 5e9 + i * 7_654_321, time: Date.UTC(2026, 10, 21, 12, 0, 0) + i * 777,
        }));
      }
      for (let i = 0; i < events.length; i += 100) sink.write(events.slice(i, i + 100));
      expect(text.split('\n').slice(1, -1)).toEqual(events.map((e) => oracleRow(e, wide, onCpu, time, events[0].tsNs)));
    }
  });

  it('clips and pads comm by characters, also non-ASCII, in every column layout', () => {
    let text = '';
    const sink = new TableSink((s) => { text += typeof s === 'string' ? s : Buffer.from(s).toString('utf8'); }, { time: 'none', wide: true, onCpu: true });
    sink.write([sampleEvent({ comm: 'caf\u00e9-server-long', cpuComm: 'x', pid: 7, family: 6, saddr: '::1', daddr: 'fe80::1' })]);
    expect(text.split('\n')[1]).toBe(
      `ffff888102e8ca00 7       caf\u00e9-serv… 0       x          6  ${'::1'.padEnd(39)} 40000 ${'fe80::1'.padEnd(39)} 8080  SYN_SENT    -> ESTABLISHED 1.235`);
  });
});

describe('room and lending', () => {
  const nasty = `\u0000"\\\u4e2d\u{1f600}\ud800é`.repeat(60); // escapes, 3- and 4-byte UTF-8, a lone surrogate

  it('rows and JSON lines fit in the room they ask for, from a writer that starts at 1 byte', () => {
    const e = sampleEvent({ comm: nasty, cpuComm: nasty, saddr: nasty, daddr: nasty, skaddr: nasty, cause: 'reset-received', timeWait: true });
    const w = new ByteWriter(1);
    writeJsonEvent(w, e);
    expect(w.written().toString('utf8')).toBe(terminalSafeJson(JSON.stringify(toJsonEvent(e))));
    let text = '';
    const sink = new TableSink((s) => { text += typeof s === 'string' ? s : Buffer.from(s).toString('utf8'); }, { time: 'clock', wide: true, onCpu: true });
    sink.write([e, e]);
    const rows = text.split('\n');
    expect(rows).toHaveLength(4);
    expect(rows[1]).toBe(rows[2]);
    expect(rows[1]).toContain(Buffer.from(nasty, 'utf8').toString('utf8'));
  });

  it('a chunk the output says it kept is never written over; one it keeps silently would be', () => {
    const fill = (w: ByteWriter, byte: number, n: number) => {
      const buf = w.room(n);
      buf.fill(byte, w.length, w.length + n);
      w.moveTo(w.length + n);
    };
    for (const [says, intact] of [[true, true], [false, false]] as const) {
      const kept: Buffer[] = [];
      const w = new ByteWriter(64 << 10);
      for (let i = 0; i < 40; i++) {
        fill(w, 0x41 + (i % 26), 1000 + i * 997); // sizes that end both inside and past a buffer
        w.lendTo((chunk) => {
          kept.push(chunk as Buffer);
          return says;
        });
      }
      const whole = kept.every((chunk, i) => chunk.every((b) => b === 0x41 + (i % 26)));
      expect(whole).toBe(intact);
    }
  });
});
