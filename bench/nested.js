#!/usr/bin/env node
// State changes nested in softirq, A/B: for each tree given, round by round, open its Tracer
// (tp_btf), run a FIN storm from more client threads than CPUs, and print what the kernel
// skipped the handler for (`missed`: not seen) and what the nested handler took (`nested`).
//
// Usage: node bench/nested.js [--rounds 5] [--connections 50000] [--threads 8] TREE...
//        (root; TREE is a checkout with dist/ and the addon built; default: this one)
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const OUT = path.join(__dirname, 'out');
const STORM = path.join(OUT, 'storm');

function options(argv) {
  const o = { rounds: 5, connections: 50000, threads: 8, trees: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rounds') o.rounds = Number(argv[++i]);
    else if (argv[i] === '--connections') o.connections = Number(argv[++i]);
    else if (argv[i] === '--threads') o.threads = Number(argv[++i]);
    else o.trees.push(path.resolve(argv[i]));
  }
  if (!o.trees.length) o.trees.push(path.resolve(__dirname, '..'));
  return o;
}

/** One tracer of `tree` under one storm, in a child process (one addon per process). */
function once(tree, o) {
  const script = `
    const { Tracer } = require(${JSON.stringify(path.join(tree, 'dist/tracer.js'))});
    const t = Tracer.open({ attach: 'tp_btf' });
    t.on('events', () => {});
    setTimeout(() => {
      require('node:child_process').execFileSync(${JSON.stringify(STORM)}, ['--connections', '${o.connections}', '--threads', '${o.threads}', '--close', 'fin']);
      setTimeout(() => { const c = t.close(); console.log(JSON.stringify({ missed: c.missed, nested: c.nested ?? null })); }, 300);
    }, 300);`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim().split('\n').pop());
}

const o = options(process.argv.slice(2));
fs.mkdirSync(OUT, { recursive: true });
if (!fs.existsSync(STORM)) execFileSync('gcc', ['-O2', '-pthread', '-o', STORM, path.join(__dirname, 'storm.c')]);
for (let r = 0; r < o.rounds; r++) {
  for (const tree of r % 2 ? [...o.trees].reverse() : o.trees) {
    const res = once(tree, o);
    console.log(`round ${r + 1} ${tree}: not seen ${res.missed}${res.nested === null ? '' : `, taken by the nested handler ${res.nested}`}`);
  }
}
