#!/usr/bin/env node
// The kernel side alone, A/B: for each tree given, start its tracer, read what the verifier
// processed for each program it loaded, run a loopback storm, and read the programs' run time.
// Trees alternate round by round so drift on a shared machine hits both.
//
// Usage: node bench/bpf-cost.js [--rounds 5] [--connections 30000] [--args "-q"] TREE...
//        (root; TREE is a checkout with dist/ and the addon built; default: this one)
// Prints per round and tree: the state-change program's ns per call, all programs' ns per
// state change, the storm's wall time per connection (what tracing costs the traced workload,
// other probes on the tracepoint included), and verified instructions.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { tracerEnv } = require('./hooks');

const OUT = path.join(__dirname, 'out');
const STORM = path.join(OUT, 'storm');
const PROGS = path.join(OUT, 'bpf-progs');

function options(argv) {
  const o = { rounds: 5, connections: 30000, args: '-q', trees: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rounds') o.rounds = Number(argv[++i]);
    else if (argv[i] === '--connections') o.connections = Number(argv[++i]);
    else if (argv[i] === '--args') o.args = argv[++i];
    else o.trees.push(path.resolve(argv[i]));
  }
  if (!o.trees.length) o.trees.push(path.resolve(__dirname, '..'));
  return o;
}

function build() {
  fs.mkdirSync(OUT, { recursive: true });
  if (!fs.existsSync(STORM)) execFileSync('gcc', ['-O2', '-pthread', '-o', STORM, path.join(__dirname, 'storm.c')]);
  if (!fs.existsSync(PROGS)) execFileSync('gcc', ['-O2', '-o', PROGS, path.join(__dirname, 'bpf-progs.c'), '-lbpf']);
}

/** name -> { verified, xlated, runs, ns } for the programs `pid` holds. */
function programs(pid) {
  const out = {};
  for (const line of execFileSync(PROGS, [String(pid)], { encoding: 'latin1' }).trim().split('\n')) {
    const [name, verified, xlated, runs, ns] = line.split(' ');
    if (name) out[name] = { verified: +verified, xlated: +xlated, runs: +runs, ns: +ns };
  }
  return out;
}

function startTracer(tree, args) {
  const child = spawn(process.execPath, [path.join(tree, 'bin/tcptrace'), ...args.split(' ').filter(Boolean)], {
    env: { ...process.env, ...tracerEnv() }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const attached = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => { err += d; if (err.includes('tcptrace-stats:')) resolve(); });
    child.on('exit', (code) => reject(new Error(`tracer in ${tree} exited (${code}): ${err}`)));
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return { child, attached, exited };
}

const STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** One tracer under one storm; null if something else turned bpf_stats off meanwhile. */
async function once(tree, o) {
  fs.writeFileSync(STATS, '1');
  const t = startTracer(tree, o.args);
  await t.attached;
  const before = programs(t.child.pid);
  const stormStart = process.hrtime.bigint();
  execFileSync(STORM, ['--connections', String(o.connections), '--threads', '2', '--close', 'fin']);
  const stormNs = Number(process.hrtime.bigint() - stormStart);
  await new Promise((r) => setTimeout(r, 300));
  const after = programs(t.child.pid);
  t.child.kill('SIGINT');
  await t.exited;
  if (fs.readFileSync(STATS, 'latin1').trim() !== '1') return null;
  // the handler (not the nested handler, bpf/nested.bpf.h, which runs on the same tracepoint)
  const state = Object.keys(after).find((n) => n === 'set_state_btf' || n === 'set_state_tp');
  const transitions = after[state].runs - before[state].runs;
  let total = 0;
  for (const n of Object.keys(after)) total += after[n].ns - (before[n]?.ns ?? 0);
  return {
    stateNs: (after[state].ns - before[state].ns) / transitions,
    totalNs: total / transitions,
    // the storm's wall time: also what the tracepoint's other probes (a perf counter) cost it
    stormUs: stormNs / 1e3 / o.connections,
    verified: Object.fromEntries(Object.entries(after).map(([n, p]) => [n, p.verified])),
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const o = options(process.argv.slice(2));
  build();
  const previous = fs.readFileSync(STATS, 'latin1').trim();
  const results = new Map(o.trees.map((t) => [t, []]));
  try {
    for (let r = 0; r < o.rounds; r++) {
      for (const tree of r % 2 ? [...o.trees].reverse() : o.trees) {
        let res = null;
        // another session's benchmark may restore bpf_stats_enabled=0 mid-run: run again
        for (let tries = 0; !res && tries < 3; tries++) res = await once(tree, o);
        if (!res) throw new Error('kernel.bpf_stats_enabled keeps being turned off by something else');
        results.get(tree).push(res);
        console.log(`round ${r + 1} ${tree}: set_state ${res.stateNs.toFixed(0)} ns/call, all programs ${res.totalNs.toFixed(0)} ns/transition, storm ${res.stormUs.toFixed(1)} µs/connection`);
      }
    }
  } finally {
    fs.writeFileSync(STATS, previous);
  }
  const first = results.get(o.trees[0]);
  for (const [tree, rs] of results) {
    console.log(`\n${tree} (${o.args}): median set_state ${median(rs.map((r) => r.stateNs)).toFixed(0)} ns/call, ` +
      `all programs ${median(rs.map((r) => r.totalNs)).toFixed(0)} ns/transition, storm ${median(rs.map((r) => r.stormUs)).toFixed(1)} µs/connection`);
    if (tree !== o.trees[0]) {
      const ratio = (k) => median(rs.map((r, i) => r[k] / first[i][k])).toFixed(3);
      console.log(`  median of per-round ratios to ${o.trees[0]}: set_state ${ratio('stateNs')}, all programs ${ratio('totalNs')}, storm ${ratio('stormUs')}`);
    }
    console.log(`  verified instructions: ${Object.entries(rs[0].verified).map(([n, v]) => `${n} ${v}`).join(', ')}`);
  }
}

main().catch((e) => { console.error(e.message); process.exit(1); });
