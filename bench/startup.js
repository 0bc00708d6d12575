#!/usr/bin/env node
// Start-up: exec → BPF attached, median of N runs, interleaved with bare `node` runs (the floor
// on this machine at the same moment).
//
//   node bench/startup.js [--runs 15] [--compare OTHER/bin/tcptrace] [-- TCPTRACE_ARGS...]
//   (default args: -q; --compare interleaves another build, e.g. the main checkout)
//   On a shared machine, `chrt -f 20 node bench/startup.js ...` keeps the other load from
//   preempting the runs (a bare node then takes its idle time again).
//
// Columns: wall = spawn → attach as this harness sees it (its line, less the /proc scan); self = the tracer's own
// performance.now() at attach (ms since its process started), split into node + modules until
// the BPF load began and the load + attach itself; ready = after its /proc scan;
// cpu = user + system CPU of the tracer at that point (robust to a shared machine).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { tracerEnv } = require('./hooks');

const TCPTRACE = path.join(__dirname, '..', 'bin', 'tcptrace');
const SHEBANG_FLAGS = fs.readFileSync(TCPTRACE, 'utf8').split('\n')[0].split(/\s+/).filter((a) => a.startsWith('--'));

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash < 0 ? argv : argv.slice(0, dash);
const extra = dash < 0 ? ['-q'] : argv.slice(dash + 1);
const flag = (name) => { const i = own.indexOf(name); return i < 0 ? undefined : own[i + 1]; };
const runs = Number(flag('--runs') ?? 15);
const other = flag('--compare');

function timed(args, env, ready) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    let result;
    p.stderr.on('data', (d) => {
      err += d;
      const m = !result && ready.exec(err);
      if (!m) return;
      result = { wall: Number(process.hrtime.bigint() - t0) / 1e6, info: m[1] ? JSON.parse(m[1]) : {} };
      p.kill('SIGINT');
    });
    p.on('exit', () => (result ? resolve(result) : reject(new Error(`no attach line:\n${err}`))));
  });
}

// The line comes after the /proc scan; builds that report ready_ms say how long that took.
const attachWall = (x) => x.wall - (x.info.ready_ms === undefined ? 0 : x.info.ready_ms - x.info.attached_ms);
const median = (xs) => { const v = [...xs].sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };

(async () => {
  const tr = [];
  const floor = [];
  const ot = [];
  for (let i = 0; i < runs; i++) {
    floor.push((await timed([...SHEBANG_FLAGS, '-e', "process.stderr.write('up\\n')"], {}, /up\n/)).wall);
    tr.push(await timed([...SHEBANG_FLAGS, TCPTRACE, ...extra], tracerEnv(), /tcptrace-stats: (\{.*\})\n/));
    if (other) ot.push(await timed([...SHEBANG_FLAGS, other, ...extra], tracerEnv(), /tcptrace-stats: (\{.*\})\n/));
  }
  const r = {
    runs, args: extra.join(' '),
    nodeFloorMs: median(floor),
    // the line comes after the /proc scan: take that out to get exec → attached
    wallMs: median(tr.map(attachWall)),
    selfAttachedMs: median(tr.map((x) => x.info.attached_ms)),
    // the split: node and the CLI's modules until the BPF load starts, then load + attach
    loadStartedMs: median(tr.map((x) => x.info.load_started_ms)),
    bpfMs: median(tr.map((x) => x.info.attached_ms - x.info.load_started_ms)),
    readyMs: median(tr.map((x) => x.info.ready_ms)),
    cpuAtAttachMs: median(tr.map((x) => (x.info.user_us + x.info.sys_us) / 1000)),
    load: require('node:os').loadavg()[0],
  };
  if (other) {
    r.compare = {
      path: other,
      wallMs: median(ot.map(attachWall)),
      selfAttachedMs: median(ot.map((x) => x.info.attached_ms)),
      cpuAtLineMs: median(ot.map((x) => (x.info.user_us + x.info.sys_us) / 1000)),
    };
  }
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.stderr.write(`startup (${extra.join(' ')}), median of ${runs}: exec → attached ${r.wallMs.toFixed(0)} ms (self ${r.selfAttachedMs} ms: ` +
    `BPF load began at ${r.loadStartedMs} ms and took ${r.bpfMs} ms; ` +
    `ready ${r.readyMs} ms, CPU ${r.cpuAtAttachMs.toFixed(0)} ms); bare node ${r.nodeFloorMs.toFixed(0)} ms; load ${r.load.toFixed(1)}\n` +
    (r.compare ? `  ${other}: exec → attached ${r.compare.wallMs.toFixed(0)} ms (self ${r.compare.selfAttachedMs} ms, CPU ${r.compare.cpuAtLineMs.toFixed(0)} ms)\n` : ''));
})();
