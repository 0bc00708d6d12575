// The record is defined once, in bpf/tcptrace.h; its TypeScript side is generated from the
// compiled object's BTF (scripts/gen-record.js). This proves the generated files are current,
// and checks them against an independent reader: the C compiler's own offsetof/sizeof and enum
// values for the header.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cause, CONFIG_SIZE, ConfigOffset, EVENT_SIZE, EventOffset, Flag, OwnerHow } from '../../src/decode/record.generated';

const root = path.resolve(__dirname, '../..');
const gen = require('../../scripts/gen-record.js') as { generateFromTree(): Record<string, string> };

const ENUM_PREFIX = { Cause: 'TCPTRACE_CAUSE_', Flag: 'TCPTRACE_F_', OwnerHow: 'TCPTRACE_OWNER_' };
const ENUMS = { Cause, Flag, OwnerHow };

/** Compiles a program that prints the header's sizes, offsets and enum values as JSON. */
function cFacts(): Record<string, number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tcptrace-record-'));
  const offsets = [
    ...Object.keys(EventOffset).map((f) => ['tcptrace_event', f]),
    ...Object.keys(ConfigOffset).map((f) => ['tcptrace_config', f]),
  ].map(([s, f]) => `  printf("\\"${s}.${f}\\":%zu,", offsetof(struct ${s}, ${f}));`);
  const enums = Object.entries(ENUMS).flatMap(([ts, values]) =>
    Object.keys(values).map((k) => `  printf("\\"${ts}.${k}\\":%d,", (int)${ENUM_PREFIX[ts as keyof typeof ENUMS]}${k});`));
  const src = `#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "tcptrace.h"
int main(void) {
  printf("{");
${[...offsets, ...enums].join('\n')}
  printf("\\"sizeof.tcptrace_event\\":%zu,\\"sizeof.tcptrace_config\\":%zu}", sizeof(struct tcptrace_event), sizeof(struct tcptrace_config));
  return 0;
}
`;
  writeFileSync(path.join(dir, 'facts.c'), src);
  execFileSync('cc', ['-I', path.join(root, 'bpf'), '-o', path.join(dir, 'facts'), path.join(dir, 'facts.c')]);
  return JSON.parse(execFileSync(path.join(dir, 'facts'), { encoding: 'utf8' }));
}

describe('the record, defined once', () => {
  it('the generated TypeScript is current (else: npm run build:bpf)', () => {
    for (const [file, text] of Object.entries(gen.generateFromTree())) {
      expect([file, readFileSync(path.join(root, file), 'utf8') === text]).toEqual([file, true]);
    }
  });

  const c = cFacts();

  it('sizes and offsets agree with the C compiler', () => {
    expect(EVENT_SIZE).toBe(c['sizeof.tcptrace_event']);
    expect(CONFIG_SIZE).toBe(c['sizeof.tcptrace_config']);
    for (const [name, off] of Object.entries(EventOffset)) expect([name, off]).toEqual([name, c[`tcptrace_event.${name}`]]);
    for (const [name, off] of Object.entries(ConfigOffset)) expect([name, off]).toEqual([name, c[`tcptrace_config.${name}`]]);
  });

  it('every enum constant of the header is generated, with the compiler\'s value', () => {
    const header = readFileSync(path.join(root, 'bpf/tcptrace.h'), 'utf8');
    for (const [ts, values] of Object.entries(ENUMS)) {
      const prefix = ENUM_PREFIX[ts as keyof typeof ENUMS];
      const inHeader = [...header.matchAll(new RegExp(`\\b${prefix}(\\w+)\\s*=`, 'g'))].map((m) => m[1]);
      expect(Object.keys(values).sort()).toEqual(inHeader.sort());
      for (const [k, v] of Object.entries(values)) expect([k, v]).toEqual([k, c[`${ts}.${k}`]]);
    }
  });
});
