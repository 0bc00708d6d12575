// Compiles and runs a small C program against bpf/tcptrace.h; returns its stdout bytes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const bpfDir = path.resolve(__dirname, '../../bpf');

export function runC(body: string): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'tcptrace-cc-'));
  const src = `#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <linux/types.h>
#include "tcptrace.h"
int main(void) {
${body}
  return 0;
}
`;
  writeFileSync(path.join(dir, 'prog.c'), src);
  execFileSync('cc', ['-I', bpfDir, '-o', path.join(dir, 'prog'), path.join(dir, 'prog.c')]);
  return execFileSync(path.join(dir, 'prog'));
}
