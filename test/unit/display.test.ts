import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commBytes, decodeComm, kernelComm, procComm } from '../../src/decode/comm';
import { displayColumns, displayText, invisibleClass, padColumn, shownColumn, terminalSafeJson } from '../../src/format/display';
import { csvCell } from '../../src/sinks/csv';
import { sampleEvent } from '../helpers/sample';
import { TableSink } from '../../src/sinks/table';

const decode = (b: Buffer) => decodeComm(b, 0, b.length);

describe('comm decoding', () => {
  it('valid UTF-8 decodes as itself, not latin1', () => {
    expect(decode(Buffer.from('café', 'utf8'))).toBe('café');
    expect(decode(Buffer.from('中文', 'utf8'))).toBe('中文');
    expect(decode(Buffer.from('\u{1f600}x', 'utf8'))).toBe('\u{1f600}x');
  });

  it('invalid bytes become U+DC80..U+DCFF and come back exactly', () => {
    const samples = [
      Buffer.from([0x63, 0x61, 0x66, 0xe9]), // latin1 café
      Buffer.from([0xff, 0xfe, 0x80, 0xc0, 0xaf]), // never valid, overlong
      Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate
      Buffer.from([0xe4, 0xb8]), // a character cut by the 15-byte limit
      Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
    ];
    for (const b of samples) {
      const text = decode(b);
      expect(commBytes(text)).toEqual(b);
      expect(Buffer.from(JSON.parse(JSON.stringify(text)) === text ? commBytes(text) : Buffer.alloc(0))).toEqual(b);
    }
    expect(decode(Buffer.from([0x61, 0xff]))).toBe('a\udcff');
    expect(JSON.stringify(decode(Buffer.from([0x61, 0xff])))).toBe('"a\\udcff"');
  });

  it('every byte sequence round-trips (random)', () => {
    let seed = 7;
    const r = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let n = 0; n < 2000; n++) {
      const b = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 15) }, () => Math.floor(r() * 255) + 1));
      expect(commBytes(decode(b))).toEqual(b);
    }
  });

  it('/proc comm drops its newline; a filter name is cut at 15 bytes like the kernel does', () => {
    expect(procComm(Buffer.from('nginx\n'))).toBe('nginx');
    expect(procComm(Buffer.from('a\nb\n'))).toBe('a\nb');
    expect(kernelComm('abcdefghijklmnopq')).toBe('abcdefghijklmno');
    expect(kernelComm('aaaaaaaaaaaaaa中')).toBe('aaaaaaaaaaaaaa\udce4');
  });
});

describe('display rule', () => {
  it('control bytes, DEL, C1, invalid bytes and backslashes are visible escapes', () => {
    expect(displayText('plain')).toBe('plain');
    expect(displayText('a\nb\rc\td')).toBe('a\\nb\\rc\\td');
    expect(displayText('\x1b]0;pwn\x07')).toBe('\\x1b]0;pwn\\x07');
    expect(displayText('\x7f\x01')).toBe('\\x7f\\x01');
    expect(displayText('\u0085\u009b')).toBe('\\u0085\\u009b');
    expect(displayText('caf\udce9')).toBe('caf\\xe9');
    expect(displayText('a\\nb')).toBe('a\\\\nb');
    expect(displayText('\u202eevil')).toBe('\\u202eevil');
    expect(displayText('café 中文 \u{1f600}')).toBe('café 中文 \u{1f600}');
  });

  it('invisible characters are escapes, so a name cannot pass for another', () => {
    expect(displayText('nginx\u200b')).toBe('nginx\\u200b');
    expect(displayText('ng\u00adinx\u2060\ufeff')).toBe('ng\\u00adinx\\u2060\\ufeff');
    expect(displayText('sshd\u{e0041}')).toBe('sshd\\udb40\\udc41');
    expect(displayText('x\u{1bca0}')).toBe('x\\ud82f\\udca0'); // a pair, not an invalid byte
    expect(displayText('a\u200db \u{1f600}')).toBe('a\\u200db \u{1f600}');
    const json = terminalSafeJson(JSON.stringify({ comm: 'nginx\u200b\u{e0041}' }));
    expect(json).toBe('{"comm":"nginx\\u200b\\udb40\\udc41"}');
    expect(JSON.parse(json).comm).toBe('nginx\u200b\u{e0041}');
  });

  it('the dashboard escapes the same characters', () => {
    const core = readFileSync(new URL('../../web/core.js', import.meta.url), 'utf8');
    expect(core).toContain(`/[\\\\\\x00-\\x1f${invisibleClass()}\\ud800-\\udfff]/gu`);
  });

  it('the displayed form is unambiguous: different names never display alike', () => {
    const names = ['\n', '\\n', '\\\n', '\u0085', '\udc85', '\\x85', '\\u0085', 'a\\', 'a\\\\'];
    const shown = names.map(displayText);
    expect(new Set(shown).size).toBe(names.length);
    for (const s of shown) expect(/[\x00-\x1f\x7f-\x9f]/.test(s)).toBe(false);
  });

  it('columns count displayed width; cuts never split an escape or a character', () => {
    expect(displayColumns('中文')).toBe(4);
    expect(displayColumns('e\u0301')).toBe(1);
    // as wcwidth counts them: emoji outside the old ranges, invisible format characters
    expect(displayColumns('\u{1f680}rock')).toBe(6);
    expect(displayColumns('\u231a')).toBe(2);
    expect(displayColumns('\ufeffbom')).toBe(3);
    expect(displayColumns('t\u{e0041}\u{e0042}\u{e0043}')).toBe(1);
    expect(displayColumns('w\u2060j')).toBe(2);
    expect(displayColumns('\u0600')).toBe(1);
    expect(shownColumn('\x1b\x1b\x1b', 10)).toEqual({ text: '\\x1b\\x1b', columns: 8 });
    expect(shownColumn('中文中文中文', 5)).toEqual({ text: '中文', columns: 4 });
    expect(padColumn('a\nb', 6)).toBe('a\\nb  ');
    expect(padColumn('\u{1f600}\u{1f600}', 3)).toBe('\u{1f600}…'); // cut: marked
  });

  it('table rows stay aligned with hostile and wide names', () => {
    let text = '';
    const sink = new TableSink((s) => { text += typeof s === 'string' ? s : Buffer.from(s).toString('utf8'); }, { time: 'none', wide: false, onCpu: true });
    sink.write(['curl', 'a\nb', '\x1b[2J\x1b[H', '中文中文中文', 'x\udcff\\'].map((comm) => sampleEvent({ comm, cpuComm: comm })));
    const rows = text.trimEnd().split('\n').slice(1);
    expect(rows).toHaveLength(5);
    const lport = rows.map((r) => displayColumns(r.slice(0, r.indexOf('127.0.0.1'))));
    expect(new Set(lport).size).toBe(1);
    expect(rows[1]).toContain('a\\nb      ');
    expect(rows[2]).toContain('\\x1b[2J…  '); // the next escape would not fit whole: cut, and marked
  });
});

describe('CSV cells', () => {
  it('formula starters neutralised, apostrophe rule reversible, RFC 4180 quoting', () => {
    expect(csvCell('curl')).toBe('curl');
    expect(csvCell("=cmd|' /C calc'!A0")).toBe(`'=cmd|' /C calc'!A0`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-x')).toBe("'-x");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell("'=x")).toBe("''=x");
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell('=a,b')).toBe(`"'=a,b"`);
    expect(csvCell('\n=x')).toBe('\\n=x');
    // spaces and double quotes before a starter: some importers trim them and run the rest
    expect(csvCell(' =1+1')).toBe("' =1+1");
    expect(csvCell('  @SUM(1)')).toBe("'  @SUM(1)");
    expect(csvCell('"=1+1"')).toBe(`"'""=1+1"""`);
    expect(csvCell('\u3000=1')).toBe("'\u3000=1");
    expect(csvCell(' x=1')).toBe(' x=1');
  });
});
