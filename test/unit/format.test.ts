import { describe, expect, it } from 'vitest';
import { sampleEvent } from '../helpers/sample';
import { TableSink, tableHeader } from '../../src/sinks/table';
import { CsvSink, csvHeader } from '../../src/sinks/csv';
import { NdjsonSink } from '../../src/sinks/ndjson';
import { SCHEMA_VERSION } from '../../src/format/schema';

function collect(): { out: (s: string | Uint8Array) => void; text: () => string } {
  let buf = '';
  return { out: (s) => { buf += typeof s === 'string' ? s : Buffer.from(s).toString('utf8'); }, text: () => buf };
}

describe('table', () => {
  it('header lines, bcc column widths', () => {
    expect(tableHeader({ time: 'none', wide: false, onCpu: false })).toBe(
      'SKADDR           PID     COMM       LADDR           LPORT RADDR           RPORT OLDSTATE    -> NEWSTATE    MS');
    expect(tableHeader({ time: 'clock', wide: false, onCpu: true })).toBe(
      'TIME     SKADDR           PID     COMM       C-PID   C-COMM     LADDR           LPORT RADDR           RPORT OLDSTATE    -> NEWSTATE    MS');
    expect(tableHeader({ time: 'relative', wide: true, onCpu: false })).toBe(
      `TIME(s)   SKADDR           PID     COMM       IP ${'LADDR'.padEnd(39)} LPORT ${'RADDR'.padEnd(39)} RPORT OLDSTATE    -> NEWSTATE    MS`);
  });

  it('a row per event, header first, one write per batch', () => {
    const c = collect();
    const writes: (string | Uint8Array)[] = [];
    const sink = new TableSink((s) => { writes.push(s); c.out(s); }, { time: 'none', wide: false, onCpu: false });
    sink.write([sampleEvent(), sampleEvent({ oldState: 5, newState: 7, cause: 'normal', timeWait: true, durationNs: null })]);
    const lines = c.text().split('\n');
    expect(writes).toHaveLength(2);
    expect(lines[1]).toBe('ffff888102e8ca00 4321    curl       127.0.0.1       40000 127.0.0.1       8080  SYN_SENT    -> ESTABLISHED 1.235');
    expect(lines[2]).toBe('ffff888102e8ca00 4321    curl       127.0.0.1       40000 127.0.0.1       8080  FIN_WAIT2   -> CLOSE       0.000 normal,time-wait');
  });

  it('unknown owner prints dashes; -T prints local HH:MM:SS', () => {
    const c = collect();
    const ev = sampleEvent({ ownerSource: 'unknown', pid: 0, comm: '' });
    new TableSink(c.out, { time: 'clock', wide: false, onCpu: false }).write([ev]);
    const d = new Date(ev.time);
    const hms = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
    expect(c.text().split('\n')[1]).toMatch(new RegExp(`^${hms} ffff888102e8ca00 -       -          127`));
  });
});

describe('csv', () => {
  it('header and quoting', () => {
    expect(csvHeader({ time: 'none', onCpu: false })).toBe('SKADDR,PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,OLDSTATE,NEWSTATE,MS,CAUSE');
    const c = collect();
    new CsvSink(c.out, { time: 'none', onCpu: false }).write([sampleEvent({ comm: 'a,"b"' })]);
    expect(c.text().split('\n')[1]).toBe('ffff888102e8ca00,4321,"a,""b""",4,127.0.0.1,40000,127.0.0.1,8080,SYN_SENT,ESTABLISHED,1.235,');
  });
});

describe('ndjson', () => {
  it('one parseable object per line with the documented fields', () => {
    const c = collect();
    new NdjsonSink(c.out).write([sampleEvent(), sampleEvent({ newState: 7, oldState: 2, cause: 'refused', error: 111, durationNs: null })]);
    const lines = c.text().trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      v: SCHEMA_VERSION, time: '2026-11-21T12:34:56.789Z', skaddr: 'ffff888102e8ca00', pid: 4321, comm: 'curl',
      owner: 'kernel', family: 4, saddr: '127.0.0.1', sport: 40000, daddr: '127.0.0.1', dport: 8080,
      oldstate: 'SYN_SENT', newstate: 'ESTABLISHED', ms: 1.235, handshake_ms: 1.235, side: 'active', cause: null,
    });
    expect(lines[1]).toMatchObject({ newstate: 'CLOSE', cause: 'refused', error: 'ECONNREFUSED', ms: null });
  });
});
