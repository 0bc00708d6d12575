// Proves that src/decode/layout.ts agrees with bpf/tcptrace.h (compiled with the C compiler; the flag
// values read from it) and with the BTF inside the shipped BPF object.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_SIZE, ConfigOffset, EVENT_SIZE, EventCField, EventOffset, Flag } from '../../src/decode/layout';

const root = path.resolve(__dirname, '../..');

/** Compiles a program that prints sizeof/offsetof for the header's structs as JSON. */
function cLayout(): Record<string, number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tcptrace-layout-'));
  const fields = [
    ...Object.values(EventCField).map((f) => ['tcptrace_event', f]),
    ...Object.keys(ConfigOffset).map((f) => ['tcptrace_config', f]),
  ];
  const lines = fields.map(([s, f]) => `  printf("\\"${s}.${f}\\":%zu,", offsetof(struct ${s}, ${f}));`);
  const src = `#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "tcptrace.h"
int main(void) {
  printf("{");
${lines.join('\n')}
  printf("\\"sizeof.tcptrace_event\\":%zu,\\"sizeof.tcptrace_config\\":%zu}", sizeof(struct tcptrace_event), sizeof(struct tcptrace_config));
  return 0;
}
`;
  writeFileSync(path.join(dir, 'layout.c'), src);
  execFileSync('cc', ['-I', path.join(root, 'bpf'), '-o', path.join(dir, 'layout'), path.join(dir, 'layout.c')]);
  return JSON.parse(execFileSync(path.join(dir, 'layout'), { encoding: 'utf8' }));
}

describe('record layout', () => {
  const c = cLayout();

  it('event size matches the C header', () => {
    expect(EVENT_SIZE).toBe(c['sizeof.tcptrace_event']);
  });

  it('every decoded event field sits at the header offset', () => {
    for (const [key, cName] of Object.entries(EventCField)) {
      expect([key, EventOffset[key as keyof typeof EventOffset]]).toEqual([key, c[`tcptrace_event.${cName}`]]);
    }
  });

  it('config size and offsets match the C header', () => {
    expect(CONFIG_SIZE).toBe(c['sizeof.tcptrace_config']);
    for (const [name, off] of Object.entries(ConfigOffset)) {
      expect([name, off]).toEqual([name, c[`tcptrace_config.${name}`]]);
    }
  });

  it('event flags match enum tcptrace_flags', () => {
    const header = readFileSync(path.join(root, 'bpf/tcptrace.h'), 'utf8');
    const c = Object.fromEntries([...header.matchAll(/TCPTRACE_F_(\w+) = 1 << (\d+)/g)].map((m) => [m[1], 1 << Number(m[2])]));
    expect(Flag).toEqual(c);
  });

  it('the shipped BPF object carries the same event layout in its BTF', () => {
    const btf = JSON.parse(
      execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', path.join(root, 'bpf/tcptrace.bpf.o')], { encoding: 'utf8' }),
    ) as { types: { kind: string; name: string; size: number; members?: { name: string; bits_offset: number }[] }[] };
    const ev = btf.types.find((t) => t.kind === 'STRUCT' && t.name === 'tcptrace_event');
    expect(ev).toBeDefined();
    expect(ev!.size).toBe(EVENT_SIZE);
    const offsets = Object.fromEntries(ev!.members!.map((m) => [m.name, m.bits_offset / 8]));
    for (const [key, cName] of Object.entries(EventCField)) {
      expect([cName, offsets[cName]]).toEqual([cName, EventOffset[key as keyof typeof EventOffset]]);
    }
  });
});
