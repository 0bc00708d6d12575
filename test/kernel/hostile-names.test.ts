// Process names are chosen by any local user (prctl PR_SET_NAME); tcptrace prints them as
// root. Real processes with every class of hostile name make real loopback connections, and
// every text sink must show them escaped, one line per event, while --json keeps them exact.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { commBytes } from '../../src/decode/comm';
import { describeKernel, listen, sleep } from '../helpers/kernel';
import { patience } from '../helpers/patience';

const bin = path.resolve(__dirname, '../../bin/tcptrace');

const NAMES: Buffer[] = [
  Buffer.from('a\nFAKE LINE\n'), // forged lines
  Buffer.from('cr\roverwrite'),
  Buffer.from('\x1b]0;pwned\x07'), // retitles the terminal, then BEL
  Buffer.from('\x1b[2J\x1b[H'), // clear screen, cursor home
  Buffer.from('\x1b]52;c;aGk=\x07'), // OSC 52: writes the clipboard
  Buffer.from('abcdefghijklmn\x1b[31m'), // cut at 15 bytes: ends in a bare ESC
  Buffer.from('tab\there\x7fdel'),
  Buffer.from('c1\xc2\x9b2J'.split('').map((c) => c.charCodeAt(0))), // U+009B, the C1 CSI
  Buffer.from([0x63, 0x61, 0x66, 0xe9]), // latin1, not UTF-8
  Buffer.from([0xff, 0xfe, 0x0a, 0x80]),
  Buffer.concat([Buffer.from('aaaaaaaaaaaaa'), Buffer.from('中')]), // UTF-8 cut mid-character
  Buffer.from('back\\slash\\n'),
  Buffer.from("=cmd|' /C calc'"), // spreadsheet formula
  Buffer.from('+1+1'),
  Buffer.from('-2-2'),
  Buffer.from('@SUM(1)'),
  Buffer.from('café 中'),
  Buffer.from('del\x7f'), // DEL after plain ASCII
  Buffer.from('rlo\u202eABC\u2028x'), // reverses the rest of the line; a line separator
];

const SINKS: Record<string, string[]> = {
  table: ['-T'],
  wide: ['-w', '--on-cpu', '-t'],
  csv: ['-s', '--on-cpu'],
  lifetimes: ['--lifetimes'],
  summary: ['--summary'],
  json: ['-j'],
  lifetimesJson: ['--lifetimes', '-j'],
};

const running: ChildProcess[] = [];
afterEach(() => { for (const c of running.splice(0)) c.kill('SIGKILL'); });

interface Run { child: ChildProcess; out: Buffer[]; err: () => string; exited: Promise<number | null> }

function start(args: string[]): Run {
  const child = spawn(bin, args);
  running.push(child);
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d) => (err += d));
  return { child, out, err: () => err, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

async function until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + patience(ms);
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function compileHelper(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tcptrace-named-'));
  const exe = path.join(dir, 'named-connect');
  execFileSync('cc', ['-O2', '-o', exe, path.resolve(__dirname, '../helpers/named-connect.c')]);
  return exe;
}

describeKernel('hostile process names', () => {
  it('are escaped in every text sink, one line per event, and exact in JSON', async () => {
    const helper = compileHelper();
    const srv = await listen();
    const port = String(srv.port);
    const runs = Object.fromEntries(Object.entries(SINKS).map(([k, args]) => [k, start([...args, '-D', port])]));
    await until(() => Object.values(runs).every((r) => r.err().includes('tracing TCP state changes')), 'attach');

    const pids = new Map<number, Buffer>();
    for (const name of NAMES) {
      const child = spawn(helper, [name.toString('hex'), port], { stdio: 'ignore' });
      pids.set(child.pid!, name.subarray(0, 15));
      const code = await new Promise((r) => child.on('exit', r));
      expect(code).toBe(0);
    }
    // the transitions of the -j capture (its typed records aside: docs/SCHEMA.md, "Captures")
    const jsonEvents = () => Buffer.concat(runs.json.out).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.type === undefined);
    // Each client socket ends in CLOSE (FIN_WAIT2 → CLOSE when the server's FIN arrives).
    await until(() => jsonEvents().filter((e) => e.newstate === 'CLOSE').length >= NAMES.length, 'every close');
    await sleep(500); // the other tracers drain their batches too
    for (const r of Object.values(runs)) r.child.kill('SIGINT');
    for (const r of Object.values(runs)) expect(await r.exited).toBe(0);
    await srv.close();

    // JSON: every event of a named process carries its exact 15 bytes.
    const events = jsonEvents();
    expect(events.length).toBeGreaterThanOrEqual(NAMES.length * 4);
    for (const [pid, name] of pids) {
      const mine = events.filter((e) => e.pid === pid);
      expect(mine.length).toBeGreaterThanOrEqual(4);
      for (const e of mine) expect(commBytes(e.comm)).toEqual(name);
    }

    for (const [sink, run] of Object.entries(runs)) {
      const bytes = Buffer.concat(run.out);
      // No control byte but the line terminator, no DEL, no C1 character, nothing invalid, no
      // bidi or line-separator control: not in the JSON either (it is read on terminals too).
      for (const b of bytes) if (b !== 0x0a) expect(b >= 0x20 && b !== 0x7f, `${sink}: raw byte 0x${b.toString(16)}`).toBe(true);
      const text = bytes.toString('utf8');
      expect(Buffer.from(text, 'utf8').equals(bytes), `${sink}: invalid UTF-8`).toBe(true);
      expect(/[\u0080-\u009f]/.test(text), `${sink}: a C1 control`).toBe(false);
      expect(/[\u202a-\u202e\u2066-\u2069\u2028\u2029]/.test(text), `${sink}: a bidi or line-separator control`).toBe(false);
      if (sink === 'json') continue;
      const lines = text.split('\n');
      expect(lines.pop()).toBe('');
      if (sink === 'table' || sink === 'wide' || sink === 'csv') {
        // a header, then exactly one line per event, each a well-formed row
        expect(lines.length - 1, sink).toBe(events.length);
        const row = sink === 'csv' ? /^[0-9a-f]{16},\d*,/ : sink === 'table' ? /^\d\d:\d\d:\d\d [0-9a-f]{16} / : /^ *\d+\.\d{3} +[0-9a-f]{16} /;
        for (const l of lines.slice(1)) expect(l, sink).toMatch(row);
      }
      if (sink === 'lifetimes') expect(lines.length - 1).toBe(NAMES.length);
    }
    const table = Buffer.concat(runs.table.out).toString('utf8');
    expect(table).toContain('a\\nFAKE L…'); // cut to the column, and marked
    expect(table).toContain('\\x1b]0;pw…');
    expect(table).toContain('caf\\xe9 ');
    expect(table).toContain('back\\\\sla');
    const csv = Buffer.concat(runs.csv.out).toString('utf8');
    expect(csv).toContain(",'=cmd|' /C calc',");
    expect(csv).toContain(',aaaaaaaaaaaaa\\xe4\\xb8,');
    expect(csv).toContain(",'+1+1,");
    expect(csv).toContain(",'-2-2,");
    expect(csv).toContain(",'@SUM(1),");
    expect(csv).toContain(',café 中,');
    const lifetimes = Buffer.concat(runs.lifetimes.out).toString('utf8');
    expect(lifetimes).toContain('aaaaaaaaaaaaa…  active'); // the next escape would not fit whole: cut, and marked
    expect(lifetimes).toContain('c1\\u009b2J');
    expect(table).toContain('rlo\\u202e…');
  }, patience(60_000));
});
