#!/usr/bin/env node
// What the owner hooks on send/recv cost where they bite: a keep-alive HTTP load (wrk against
// nginx, many requests per connection, so almost every BPF run is a send or a receive, not a
// state change). Interleaved rounds without and with tcptrace -q; per round the load's
// requests/s and, with tcptrace -q --netns (the load's namespace), each BPF program's
// run_time_ns / run_cnt over the load (kernel.bpf_stats_enabled; the programs run for the whole
// host, the filter only keeps other load out of user space). Medians at the end. See BENCHMARKS.md.
//
//   node bench/keepalive.js [--rounds 5] [--seconds 5] [--connections 32] [--tcptrace DIR] [--args '...']
//
// --args adds tcptrace options, e.g. '--attach tracepoint': the first-use hook without socket
// storage (rcv_space_tp, a lookup in `socks`) instead of recv_length_btf/send_length_btf.
// --tcptrace DIR runs DIR/bin/tcptrace instead of this tree's (e.g. a checkout of main, for a
// before/after). Needs root, nginx, wrk, bpftool, ip (runs in a network namespace of its own).
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROUNDS = Number(opt('rounds', 5));
const SECONDS = Number(opt('seconds', 5));
const CONNECTIONS = Number(opt('connections', 32));
const TREE = path.resolve(opt('tcptrace', path.join(__dirname, '..')));
const EXTRA = (opt('args', '') || '').split(' ').filter(Boolean);
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
const PORT = 8080;
const ns = `tt-ka-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcptrace-keepalive-'));

const inNs = (...cmd) => ['netns', 'exec', ns, ...cmd];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };

function startNginx() {
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `
daemon on; master_process on; worker_processes 2; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 120;
  client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  server { listen 127.0.0.1:${PORT}; location / { return 200 "ok\\n"; } }
}
`);
  execFileSync('ip', inNs(NGINX, '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')));
}

function wrk() {
  const out = execFileSync('ip', inNs('wrk', '-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, `http://127.0.0.1:${PORT}/`), { encoding: 'utf8' });
  return Number(out.match(/Requests\/sec:\s+([\d.]+)/)[1]);
}

/** run_time_ns and run_cnt of each BPF program a process holds, by program name. */
function progStats(pid) {
  const out = new Map();
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    let m;
    try { m = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1').match(/^prog_id:\s+(\d+)/m); } catch { continue; }
    if (!m) continue;
    const info = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', m[1]], { encoding: 'utf8' }));
    out.set(info.name, { ns: info.run_time_ns || 0, cnt: info.run_cnt || 0 });
  }
  return out;
}

async function withTracer() {
  // only this namespace reaches user space: other load on the host stays out of the ratio
  const netns = String(fs.statSync(`/run/netns/${ns}`).ino);
  const child = spawn(path.join(TREE, 'bin', 'tcptrace'), ['-q', '--netns', netns, ...EXTRA], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  for (let i = 0; !err.includes('tracing TCP'); i++) {
    if (i > 500) throw new Error(`tcptrace did not attach: ${err}`);
    await sleep(20);
  }
  await sleep(300);
  const before = progStats(child.pid);
  const rps = wrk();
  const after = progStats(child.pid);
  child.kill('SIGINT');
  await new Promise((r) => child.on('exit', r));
  const perProg = {};
  for (const [name, a] of after) {
    const b = before.get(name) ?? { ns: 0, cnt: 0 };
    if (a.cnt > b.cnt) perProg[name] = { calls: a.cnt - b.cnt, ns: (a.ns - b.ns) / (a.cnt - b.cnt) };
  }
  return { rps, perProg };
}

async function main() {
  const stats = '/proc/sys/kernel/bpf_stats_enabled';
  const statsBefore = fs.readFileSync(stats, 'latin1').trim();
  fs.writeFileSync(stats, '1');
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', inNs('ip', 'link', 'set', 'lo', 'up'));
  try {
    startNginx();
    await sleep(300);
    wrk(); // warm-up
    const rows = [];
    for (let r = 0; r < ROUNDS; r++) {
      // alternate the order so drift on a shared machine hits both sides alike
      let without; let traced;
      if (r % 2 === 0) { without = wrk(); traced = await withTracer(); } else { traced = await withTracer(); without = wrk(); }
      rows.push({ without, with: traced.rps, ratio: traced.rps / without, perProg: traced.perProg });
      const hooks = Object.entries(traced.perProg).map(([n, p]) => `${n} ${p.ns.toFixed(0)} ns x ${p.calls}`).join(', ');
      console.log(`round ${r + 1}: without ${without.toFixed(0)} req/s, with ${traced.rps.toFixed(0)} req/s, ratio ${(traced.rps / without).toFixed(3)}; ${hooks}`);
    }
    const names = [...new Set(rows.flatMap((r) => Object.keys(r.perProg)))];
    console.log(`median of ${ROUNDS}: without ${median(rows.map((r) => r.without)).toFixed(0)} req/s, with ${median(rows.map((r) => r.with)).toFixed(0)} req/s, ratio ${median(rows.map((r) => r.ratio)).toFixed(3)}`);
    for (const n of names) {
      const xs = rows.map((r) => r.perProg[n]).filter(Boolean);
      console.log(`  ${n}: ${median(xs.map((p) => p.ns)).toFixed(1)} ns/call, ${median(xs.map((p) => p.calls / SECONDS)).toFixed(0)} calls/s`);
    }
  } finally {
    try { process.kill(Number(fs.readFileSync(path.join(dir, 'nginx.pid'), 'utf8')), 'SIGTERM'); } catch { /* not started */ }
    try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* gone */ }
    fs.writeFileSync(stats, statsBefore);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(`keepalive: ${err.message}`); process.exit(1); });
