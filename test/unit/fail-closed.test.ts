// Every option does exactly what it says or is a usage error; names never read as tcptrace's
// own marks; a CSV cell never starts a formula (issue 24, items 5 and 7).
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../src/command/options';
import { commFilter, parsePid } from '../../src/command/fail-closed';
import { resolveUser } from '../../src/command/privileges';
import { ownerMatcher } from '../../src/filter/filter';
import { encodeConfig } from '../../src/probe/config';
import { ConfigOffset } from '../../src/decode/record.generated';
import { State } from '../../src/decode/states';
import { commBytes } from '../../src/decode/comm';
import { csvName } from '../../src/sinks/csv';
import { lifetimeJson, lifetimeLine } from '../../src/sinks/lifetimes';
import { nameText, shownName } from '../../src/format/names';
import type { TcpEvent } from '../../src/decode/event';
import { sampleEvent } from '../helpers/sample';
import type { FinishedConnection } from '../../src/derive/connections';

const usage = (argv: string[]) => {
  try {
    parseArgs(argv, undefined, {});
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
};

describe('options given twice', () => {
  it('a single-value option given twice, in any spelling, is a usage error', () => {
    expect(usage(['-p', '1', '-p', '2'])).toMatch(/^-p\/--pid given twice \(-p 1 and -p 2\)/);
    expect(usage(['-p1', '--pid=2'])).toMatch(/given twice/);
    expect(usage(['-Tp', '5', '-p', '6'])).toMatch(/given twice/);
    expect(usage(['--listen', '8080', '--listen', '9090'])).toMatch(/^--listen given twice/);
    expect(usage(['--comm', 'a', '--comm=b'])).toMatch(/^--comm given twice/);
    expect(usage(['--top', '3', '--top', '4', '--summary'])).toMatch(/^--top given twice/);
  });

  it('lists add up and flags may repeat', () => {
    expect(parseArgs(['-L', '80', '-L', '443', '--state', 'LISTEN', '--state', 'CLOSE', '-q', '-q'], undefined, {}).filter)
      .toMatchObject({ localPorts: [80, 443], states: [State.LISTEN, State.CLOSE] });
  });
});

describe('values that could never match', () => {
  it('-p at or above pid_max', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pidmax-'));
    writeFileSync(path.join(dir, 'pid_max'), '32768\n');
    expect(parsePid('32767', path.join(dir, 'pid_max'))).toBe(32767);
    expect(() => parsePid('32768', path.join(dir, 'pid_max'))).toThrow(/pids stay below 32768/);
    expect(() => parsePid('999999999', path.join(dir, 'pid_max'))).toThrow(UsageError);
  });

  it('--comm: not UTF-8 is refused; the escapes tcptrace prints give the exact bytes back', () => {
    expect(usage(['--comm', 'a\ufffd'])).toMatch(/not valid UTF-8/);
    expect(usage(['--comm', 'a\\q'])).toMatch(/bad escape/);
    expect(commBytes(commFilter('bad\\xffname'))).toEqual(Buffer.from([0x62, 0x61, 0x64, 0xff, 0x6e, 0x61, 0x6d, 0x65]));
    expect(commFilter('back\\\\slash')).toBe('back\\slash');
    expect(commFilter('tab\\there')).toBe('tab\there');
    expect(commFilter('nginx')).toBe('nginx');
    expect(commFilter('a-very-long-process-name')).toBe('a-very-long-pro'); // the kernel's 15 bytes
  });

  it('--state NEW_SYN_RECV and BOUND_INACTIVE are refused, saying what to use', () => {
    expect(usage(['--state', 'NEW_SYN_RECV'])).toMatch(/never matches.*use SYN_RECV/);
    expect(usage(['--state', 'bound-inactive'])).toMatch(/never matches/);
  });

  it('--state TIME_WAIT: the kernel passes CLOSE, user space keeps the closes that leave a TIME_WAIT socket', () => {
    const filter = parseArgs(['--state', 'TIME_WAIT'], undefined, {}).filter;
    const mask = encodeConfig(filter, { perfBuffer: false, wakeupBytes: 0 }).readUInt32LE(ConfigOffset.state_mask);
    expect(mask).toBe(1 << State.CLOSE);
    const keep = ownerMatcher({ states: filter.states })!;
    const close = (timeWait: boolean) => ({ newState: State.CLOSE, timeWait }) as TcpEvent;
    expect([keep(close(true)), keep(close(false))]).toEqual([true, false]);
    // with CLOSE asked for too every close stays, as without TIME_WAIT: nothing to finish here
    expect(ownerMatcher({ states: [State.TIME_WAIT, State.CLOSE] })).toBeUndefined();
    expect(ownerMatcher({ states: [State.CLOSE] })).toBeUndefined();
  });

  it('-Z: an unknown user or root is a usage error; a name gives its uid and groups', () => {
    expect(usage(['-Z', 'no-such-user-here'])).toMatch(/no user/);
    expect(usage(['-Z', 'root'])).toMatch(/must not be root/);
    expect(usage(['-Z', 'nobody', '--keep-privileges'])).toMatch(/choose one/);
    expect(resolveUser('nobody')).toMatchObject({ name: 'nobody', uid: 65534 });
  });
});

describe('names and tcptrace\'s marks (item 7)', () => {
  it('a process named - or nginx+ is escaped where - means no owner and + a shared listener', () => {
    expect(nameText('-')).toBe('\\x2d');
    expect(nameText('nginx+')).toBe('nginx\\x2b');
    expect(nameText('job*')).toBe('job\\x2a');
    expect(shownName('job*', 10, '*').text).toBe('job\\x2a*');
    expect(nameText('a-b')).toBe('a-b');
    expect(shownName('nginx', 10, '+').text).toBe('nginx+');
    expect(shownName('nginx+', 10, '+').text).toBe('nginx\\x2b+');
    expect(csvName('nginx+')).toBe('nginx\\x2b');
    expect(csvName('nginx', '+')).toBe('nginx+');
  });

  it('a name cut to its column ends in …, so a cut escape cannot hide (nginx + zero-width space is not nginx)', () => {
    expect(shownName('nginx\u200b', 10)).toEqual({ text: 'nginx…', columns: 6 });
    expect(shownName('nginx', 10).text).toBe('nginx');
    expect(shownName('systemd-network', 10)).toEqual({ text: 'systemd-n…', columns: 10 });
    expect(shownName('0123456789', 10).text).toBe('0123456789');
    expect(shownName('0123456789', 10, '+')).toEqual({ text: '01234567…+', columns: 10 });
    expect(shownName('postgres', 10, '*').text).toBe('postgres*');
    // a process that calls itself `top…` is escaped like `nginx+`, and then cut
    expect(nameText('top…')).toBe('top\\u2026');
    expect(shownName('top…', 10).text).toBe('top\\u2026');
    expect(shownName('topx…', 10).text).toBe('topx\\u2026');
    expect(shownName('topxy…', 10).text).toBe('topxy…');
    expect(shownName('wide世界世界世界', 10)).toEqual({ text: 'wide世界…', columns: 9 });
  });

  it('--lifetimes: an empty name is "" in JSON (as in -j) and blank in text; no owner is null and -', () => {
    const base = { skaddr: 'ffff', family: 4, saddr: '127.0.0.1', sport: 1, daddr: '127.0.0.1', dport: 2, side: 'active', handshakeMs: null,
      acceptWaitMs: null, lifetimeMs: null, established: false, cause: '', error: 0, timeWait: false, synRetrans: 0, synackRetrans: 0,
      lastState: 'ESTABLISHED', time: 0, close: sampleEvent({ oldState: 1, newState: 7 }) };
    const empty = { ...base, pid: 42, comm: '' } as unknown as FinishedConnection;
    const none = { ...base, pid: 0, comm: '' } as unknown as FinishedConnection;
    const dash = { ...base, pid: 43, comm: '-' } as unknown as FinishedConnection;
    expect(JSON.parse(lifetimeJson(empty)).comm).toBe('');
    expect(JSON.parse(lifetimeJson(none)).comm).toBeNull();
    const commColumn = (c: FinishedConnection) => lifetimeLine(c).slice(8, 23).trim();
    expect([commColumn(empty), commColumn(none), commColumn(dash)]).toEqual(['', '-', '\\x2d']);
  });

  it('CSV: a formula after spaces or in full-width form is neutralised; U+200B and a BOM are escapes', () => {
    for (const name of ['=cmd', ' =cmd', '\uff1dcmd', '\u3000@cmd', '"-cmd', '\uff0bcmd']) {
      expect(csvName(name).replace(/^"/, ''), JSON.stringify(name)).toMatch(/^'/);
    }
    // shown as escapes (src/format/display.ts), they never reach the spreadsheet raw
    expect([csvName('\u200b=cmd'), csvName('\ufeff+cmd'), csvName('\u200b\uff1dcmd')]).toEqual(['\\u200b=cmd', '\\ufeff+cmd', '\\u200b\uff1dcmd']);
    expect(csvName('nginx')).toBe('nginx');
  });
});

describe('the stream\'s state filter agrees with --state', () => {
  it('TIME_WAIT takes the closes that leave a TIME_WAIT socket; NEW_SYN_RECV is refused', async () => {
    const { filterMatcher, parseClientMessage } = await import('../../src/sinks/ws/protocol');
    const m = filterMatcher({ states: ['TIME_WAIT'] })!;
    expect([m({ newState: State.CLOSE, timeWait: true } as TcpEvent), m({ newState: State.CLOSE, timeWait: false } as TcpEvent)]).toEqual([true, false]);
    expect(() => parseClientMessage('{"type":"subscribe","filter":{"states":["NEW_SYN_RECV"]}}')).toThrow(/no transition/);
  });
});
