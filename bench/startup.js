#!/usr/bin/env node
// Start-up: exec → BPF attached, median of N runs, interleaved with bare `node` runs (the floor
// on this machine at the same moment).
//
//   node bench/startup.js [--runs 15] [-- TCPTRACE_ARGS...]     (default args: -q)
//
// Columns: wall = spawn → attach as this harness sees it (its line, less the /proc scan); self = the tracer's own
// performance.now() at attach (ms since its process started); ready = after its /proc scan;
// cpu = user + system CPU of the tracer at that point (robust to a shared machine).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const TCPTRACE = path.join(__dirname, '..', 'bin', 'tcptrace');
const SHEBANG_FLAGS = fs.readFileSync(TCPTRACE, 'utf8').split('\n')[0].split(/\s+/).filter((a) => a.startsWith('--'));

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash < 0 ? argv : argv.slice(0, dash);
const extra = dash < 0 ? ['-q'] : argv.slice(dash + 1);
const runs = own[0] === '--runs' ? Number(own[1]) : 15;

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

const median = (xs) => { const v = [...xs].sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };

(async () => {
  const tr = [];
  const floor = [];
  for (let i = 0; i < runs; i++) {
    floor.push((await timed([...SHEBANG_FLAGS, '-e', "process.stderr.write('up\\n')"], {}, /up\n/)).wall);
    tr.push(await timed([...SHEBANG_FLAGS, TCPTRACE, ...extra], { TCPTRACE_STATS: '1' }, /tcptrace-stats: (\{.*\})\n/));
  }
  const r = {
    runs, args: extra.join(' '),
    nodeFloorMs: median(floor),
    // the line comes after the /proc scan: take that out to get exec → attached
    wallMs: median(tr.map((x) => x.wall - (x.info.ready_ms - x.info.attached_ms))),
    selfAttachedMs: median(tr.map((x) => x.info.attached_ms)),
    readyMs: median(tr.map((x) => x.info.ready_ms)),
    cpuAtAttachMs: median(tr.map((x) => (x.info.user_us + x.info.sys_us) / 1000)),
    load: require('node:os').loadavg()[0],
  };
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.stderr.write(`startup (${extra.join(' ')}), median of ${runs}: exec → attached ${r.wallMs.toFixed(0)} ms (self ${r.selfAttachedMs} ms, ` +
    `ready ${r.readyMs} ms, CPU ${r.cpuAtAttachMs.toFixed(0)} ms); bare node ${r.nodeFloorMs.toFixed(0)} ms; load ${r.load.toFixed(1)}\n`);
})();
