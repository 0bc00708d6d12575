#!/usr/bin/env node
// Micro-benchmark of tcptrace's user-space hot path on real records: captures the raw ring
// buffer records of one loopback storm (needs root), then times decode, decode + table and
// decode + NDJSON over them in this process, writing the output to /dev/null (no kernel in the loop).
//   node bench/micro.js [--connections N] [--records FILE]   (FILE: reuse a capture)
// Needs dist/ and the addon built, and bench/out/storm (npm run bench builds it).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const dist = (m) => require(path.join(ROOT, 'dist', m));
const { decodeBatch, Clock } = dist('decode/decode.js');
const { TableSink } = dist('sinks/table.js');
const { NdjsonSink } = dist('sinks/ndjson.js');
const { CgroupEnricher } = dist('enrich/cgroup.js');
const { EVENT_SIZE } = dist('decode/decode.js');

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const connections = Number(opt('--connections', '20000'));
let recordsFile = opt('--records', undefined);

function capture() {
  const { openProbe } = dist('probe/probe.js');
  const chunks = [];
  const opened = openProbe({}, (b) => chunks.push(Buffer.from(b)));
  const storm = path.join(__dirname, 'out', 'storm');
  const r = spawnSync(storm, ['--connections', String(connections), '--threads', '2', '--close', 'fin'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`storm failed: ${r.stderr}`);
  return new Promise((resolve) => setTimeout(() => {
    opened.probe.close();
    const all = Buffer.concat(chunks);
    recordsFile = path.join(__dirname, 'out', 'records.bin');
    fs.writeFileSync(recordsFile, all);
    resolve(all);
  }, 300));
}

function time(name, batches, total, fn) {
  for (let w = 0; w < 2; w++) for (const b of batches) fn(b);
  const reps = 5;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < reps; r++) for (const b of batches) fn(b);
  const ns = Number(process.hrtime.bigint() - t0) / (total * reps);
  process.stdout.write(`${name.padEnd(16)} ${ns.toFixed(0).padStart(6)} ns/event\n`);
}

async function main() {
  const buf = recordsFile ? fs.readFileSync(recordsFile) : await capture();
  const n = Math.floor(buf.length / EVENT_SIZE);
  const per = 1820; // one 256 KiB batch
  const batches = [];
  for (let o = 0; o < n; o += per) batches.push(buf.subarray(o * EVENT_SIZE, Math.min(n, o + per) * EVENT_SIZE));
  process.stdout.write(`${n} records (${recordsFile}), batches of ${per}\n`);
  const clock = new Clock();
  // Written to /dev/null as the CLI writes to a file: strings are encoded to UTF-8 on the way.
  const devNull = fs.openSync('/dev/null', 'w');
  const out = (chunk) => { fs.writeSync(devNull, chunk); };
  const table = new TableSink(out, { time: 'none', wide: false, onCpu: false });
  const ndjson = new NdjsonSink(out);
  time('decode', batches, n, (b) => decodeBatch(b, clock));
  time('decode+table', batches, n, (b) => table.write(decodeBatch(b, clock)));
  // NDJSON carries the cgroup: the pipeline runs the enrich stage before it, so this does too.
  const enricher = new CgroupEnricher();
  time('decode+ndjson', batches, n, (b) => { const batch = decodeBatch(b, clock); enricher.enrich(batch); ndjson.write(batch); });
}

main().catch((err) => { process.stderr.write(`micro: ${err.stack || err}\n`); process.exit(1); });
