#!/usr/bin/env node
'use strict';
// The flight recorder under a storm (BENCHMARKS.md, "Flight recorder"): `tcptrace -q` against
// `tcptrace -q --capture DIR --capture-size SIZE`, interleaved, each during the same storm
// (bench/out/storm or STORM=path) run in a network namespace of its own, the tracer filtered to
// that namespace in the kernel. The oracles are outside the recorder: the storm's own count of
// connections (each makes 10 transitions, 5 per side, and its 16 listeners 2 each) must equal
// the tracer's delivered count plus those the kernel did not run it for ("not seen", nested
// runs; in no output), with 0 lost (the live output is complete), and a replay of DIR must count
// the same events, less the lines the recorder said it could not keep; that count must be the
// same on the exit line and in the capture's own `end` record. Per run also the tracer's CPU
// (user+sys of all its threads, and of the event loop's alone, /proc) and the disk taken. Needs root and a built dist/.
//
//   sudo node bench/recorder.js [--runs 3] [--connections 100000] [--size 64M] [--rate CONN_PER_S] [--capture-only]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawn, spawnSync, execFileSync } = require('node:child_process');

const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
const runs = Number(opt('--runs', 3));
const connections = Number(opt('--connections', 100000));
const size = opt('--size', '64M');
const rate = opt('--rate', undefined); // the storm's pace (default: as fast as it can)
const captureOnly = argv.includes('--capture-only');
const root = path.join(__dirname, '..');
const bin = path.join(root, 'bin/tcptrace');
const storm = process.env.STORM || path.join(__dirname, 'out/storm');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ticks = (pid, file = `/proc/${pid}/stat`) => { const f = fs.readFileSync(file, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
/** the event loop's own CPU (the main thread: its task id is the pid) */
const loopTicks = (pid) => ticks(pid, `/proc/${pid}/task/${pid}/stat`);
const HZ = 100;
const PORTS = 16;

const ns = `tt-bench-rec-${process.pid}`;
execFileSync('ip', ['netns', 'add', ns]);
execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
const inode = fs.statSync(`/run/netns/${ns}`).ino;
process.on('exit', () => spawnSync('ip', ['netns', 'delete', ns]));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(1));

/** The capture's lines by kind, and its `end` record. */
function readCapture(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.gz')).sort();
  const r = { events: 0, accepts: 0, records: 0, end: undefined };
  for (const f of files) {
    const text = zlib.gunzipSync(fs.readFileSync(path.join(dir, f)), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();
    for (let i = 0, j; (j = text.indexOf('\n', i)) >= 0; i = j + 1) {
      const line = text.slice(i, j);
      if (!line.startsWith('{"type"')) r.events++;
      else if (line.startsWith('{"type":"accept"')) r.accepts++;
      else {
        r.records++;
        if (line.startsWith('{"type":"end"')) r.end = JSON.parse(line);
      }
    }
  }
  return r;
}

async function one(withCapture) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-recorder-'));
  const args = ['-q', '--netns', String(inode), ...(withCapture ? ['--capture', dir, '--capture-size', size] : [])];
  let err = '';
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise((r) => child.on('exit', r));
  while (!/tracing TCP/.test(err)) { if (child.exitCode !== null) throw new Error(err); await sleep(20); }
  // the start's own work after that line (the capture's census of every namespace, dropping
  // privileges: ~0.5 s of event loop) is over before the storm, so the storm measures the steady state
  await sleep(2000);
  const load = Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]); // other work on the machine
  const before = ticks(child.pid);
  const loopBefore = loopTicks(child.pid);
  const s = JSON.parse(execFileSync('ip', ['netns', 'exec', ns, storm, '--connections', String(connections), '--threads', '2', '--close', 'fin',
    '--ports', String(PORTS), ...(rate ? ['--rate', rate] : [])], { encoding: 'utf8' }).trim().split('\n').pop());
  await sleep(1500);
  const cpu = (ticks(child.pid) - before) / HZ;
  const loopCpu = (loopTicks(child.pid) - loopBefore) / HZ;
  child.kill('SIGINT');
  await done;
  const m = /(\d+) events seen, (\d+) delivered.*?, (\d+) lost/.exec(err) || [];
  const missed = Number((/\+(\d+) not seen/.exec(err) || [0, 0])[1]); // the kernel skipped them (nested runs): in no output
  const expected = 10 * (s.connections - s.failed) + 2 * PORTS;
  const r = { capture: withCapture, load: load, stormRate: Math.round(s.rate), failed: s.failed, cpuS: cpu, loopCpuS: loopCpu, expected, seen: Number(m[1]), missed, delivered: Number(m[2]), lost: Number(m[3]) };
  if (withCapture) {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.gz'));
    r.diskBytes = files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    r.files = files.length;
    r.notCaptured = Number((/(\d+) lines not captured/.exec(err) || [0, 0])[1]);
    r.why = (/lines not captured \((.*)\)$/m.exec(err) || [])[1];
    const c = readCapture(dir);
    r.endNotCaptured = c.end ? c.end.not_captured : null; // null: the end record itself was not kept
    // what is missing from the capture, by kind, against the tracer's own counts
    r.eventsMissing = r.delivered - c.events;
    r.acceptsMissing = c.end ? c.end.counters.accepts - c.accepts : null;
    const replayed = spawnSync(bin, ['-r', dir, '-q'], { encoding: 'utf8' }).stderr;
    r.replayed = Number((/replayed (\d+)/.exec(replayed) || [0, 0])[1]);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return r;
}

(async () => {
  const rows = [];
  for (let i = 0; i < runs; i++) for (const withCapture of captureOnly ? [true] : [false, true]) {
    const r = await one(withCapture);
    rows.push(r);
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const off = rows.filter((r) => !r.capture);
  const on = rows.filter((r) => r.capture);
  const complete = rows.filter((r) => r.delivered + r.missed === r.expected && r.lost === 0).length;
  const kept = on.filter((r) => r.notCaptured === 0 && r.replayed === r.delivered).length;
  // every event missing from the capture is in the count (the rest of the count: accept records
  // and records dropped with them), and the end record, when kept, says the exit line's count
  const counted = on.filter((r) => r.replayed === r.delivered - r.eventsMissing && r.eventsMissing + (r.acceptsMissing ?? 0) <= r.notCaptured &&
    (r.endNotCaptured === null || r.endNotCaptured === r.notCaptured)).length;
  const cpu = (rs) => median(rs.map((r) => r.cpuS)).toFixed(2);
  const loop = (rs) => median(rs.map((r) => r.loopCpuS)).toFixed(2);
  process.stdout.write(`live output complete (delivered + not seen = storm's 10 per connection + 2 per listener, 0 lost): ${complete} of ${rows.length} runs; ` +
    `capture kept every line (replayed = delivered): ${kept} of ${on.length}; lines missing all counted (exit line = end record): ${counted} of ${on.length}; ` +
    `median kept ${median(on.map((r) => r.replayed / r.delivered) || [0]).toFixed(3)}; ` +
    `median storm conn/s ${off.length ? median(off.map((r) => r.stormRate)) : '-'} without, ${median(on.map((r) => r.stormRate))} with; ` +
    `median tracer CPU ${off.length ? cpu(off) : '-'} s without, ${cpu(on)} s with${off.length ? ` (x${(median(on.map((r) => r.cpuS)) / median(off.map((r) => r.cpuS))).toFixed(2)})` : ''}` +
    ` (event loop ${off.length ? loop(off) : '-'} s without, ${loop(on)} s with); ` +
    `disk at most ${Math.max(...on.map((r) => r.diskBytes))} bytes (bound ${size})\n`);
})().catch((err) => { process.stderr.write(`${err.message}\n`); process.exit(1); });
