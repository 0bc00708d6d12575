#!/usr/bin/env node
'use strict';
// The flight recorder's cost under a storm (BENCHMARKS.md, "Flight recorder"): `tcptrace -q`
// against `tcptrace -q --capture DIR --capture-size SIZE`, interleaved, each during the same
// storm (bench/out/storm or STORM=path). Per run: the tracer's CPU (user+sys, /proc), events
// delivered and lost, and with the recorder the lines it could not write, the disk it took,
// and the events a replay of DIR counts. Needs root and a built dist/.
//
//   sudo node bench/recorder.js [--runs 3] [--connections 50000] [--size 16M] [--rate CONN_PER_S]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync, execFileSync } = require('node:child_process');

const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
const runs = Number(opt('--runs', 3));
const connections = Number(opt('--connections', 50000));
const size = opt('--size', '16M');
const rate = opt('--rate', undefined); // the storm's pace (default: as fast as it can)
const root = path.join(__dirname, '..');
const bin = path.join(root, 'bin/tcptrace');
const storm = process.env.STORM || path.join(__dirname, 'out/storm');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ticks = (pid) => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
const HZ = 100;

async function one(withCapture) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-recorder-'));
  const args = ['-q', ...(withCapture ? ['--capture', dir, '--capture-size', size] : [])];
  let err = '';
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise((r) => child.on('exit', r));
  while (!/tracing TCP/.test(err)) { if (child.exitCode !== null) throw new Error(err); await sleep(20); }
  await sleep(300);
  const before = ticks(child.pid);
  const s = JSON.parse(execFileSync(storm, ['--connections', String(connections), '--threads', '2', '--close', 'fin', ...(rate ? ['--rate', rate] : [])], { encoding: 'utf8' }).trim().split('\n').pop());
  await sleep(1500);
  const cpu = (ticks(child.pid) - before) / HZ;
  child.kill('SIGINT');
  await done;
  const m = /(\d+) events seen, (\d+) delivered.*?, (\d+) lost/.exec(err) || [];
  const r = { capture: withCapture, stormRate: Math.round(s.rate), cpuS: cpu, seen: Number(m[1]), delivered: Number(m[2]), lost: Number(m[3]) };
  if (withCapture) {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.gz'));
    r.diskBytes = files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    r.files = files.length;
    r.notCaptured = Number((/(\d+) lines not captured/.exec(err) || [0, 0])[1]);
    const replayed = spawnSync(bin, ['-r', dir, '-q'], { encoding: 'utf8' }).stderr;
    r.replayed = Number((/replayed (\d+)/.exec(replayed) || [0, 0])[1]);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return r;
}

(async () => {
  const rows = [];
  for (let i = 0; i < runs; i++) for (const withCapture of [false, true]) rows.push(await one(withCapture));
  for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const off = rows.filter((r) => !r.capture);
  const on = rows.filter((r) => r.capture);
  process.stdout.write(`median tracer CPU: without ${median(off.map((r) => r.cpuS)).toFixed(2)} s, with --capture ${median(on.map((r) => r.cpuS)).toFixed(2)} s` +
    ` (x${(median(on.map((r) => r.cpuS)) / median(off.map((r) => r.cpuS))).toFixed(2)}); storm conn/s ${median(off.map((r) => r.stormRate))} vs ${median(on.map((r) => r.stormRate))};` +
    ` lost ${Math.max(...rows.map((r) => r.lost))}; lines not captured ${Math.max(...on.map((r) => r.notCaptured))}; disk ${Math.max(...on.map((r) => r.diskBytes))} bytes (bound ${size})\n`);
})().catch((err) => { process.stderr.write(`${err.message}\n`); process.exit(1); });
