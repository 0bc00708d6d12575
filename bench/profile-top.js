#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function, heaviest first.
// Usage: node bench/profile-top.js FILE.cpuprofile [N]
'use strict';
const fs = require('node:fs');

const file = process.argv[2];
const top = Number(process.argv[3] || 25);
if (!file) {
  process.stderr.write('usage: node bench/profile-top.js FILE.cpuprofile [N]\n');
  process.exit(2);
}
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
// timeDeltas[i] is the time before samples[i]; charge it to that sample's node.
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  selfUs.set(id, (selfUs.get(id) || 0) + (prof.timeDeltas[i] || 0));
}
const byFn = new Map();
let total = 0;
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const where = cf.url ? `${cf.url.replace(/^.*\/(src|dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}` : '';
  const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
  byFn.set(key, (byFn.get(key) || 0) + us);
  total += us;
}
const idle = [...byFn].filter(([k]) => k === '(idle)' || k === '(program)' || k === '(garbage collector)');
const rows = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top);
process.stdout.write(`total sampled ${(total / 1000).toFixed(0)} ms\n`);
for (const [k, us] of rows) process.stdout.write(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}\n`);
void idle;
