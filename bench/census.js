// Cost of the socket census with many TIME_WAIT sockets: a network namespace of its own gets
// N connections from bench/out/storm (the server closes first, so N TIME_WAIT sockets), then
// the full count at start (synchronous, lists every other socket) and the once-a-second
// TIME_WAIT/SYN_RECV sample (on a worker thread) are timed. Needs root, a built addon and
// bench/out/storm (gcc -O2 -pthread -o bench/out/storm bench/storm.c).
//   node bench/census.js [connections=200000] [rounds=7]
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const binding = require('../build/Release/tcptrace.node');

const N = Number(process.argv[2]) || 200_000;
const ROUNDS = Number(process.argv[3]) || 7;
const ns = `tt-census-${process.pid}`;
const run = (...cmd) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });

execFileSync('ip', ['netns', 'add', ns]);
try {
  run('ip', 'link', 'set', 'lo', 'up');
  run('sysctl', '-q', '-w', `net.ipv4.tcp_max_tw_buckets=${N * 2}`);
  run(path.resolve(__dirname, 'out/storm'), '--connections', String(N), '--threads', '2', '--close', 'fin', '--ports', '16');
  const nsPath = `/run/netns/${ns}`;
  const all = 0x1fff & ~(1 << 7) & ~1;
  const sampled = (1 << 6) | (1 << 3) | (1 << 12);
  const full = [];
  const sample = [];
  let tw = 0;
  let tupleBytes = 0;
  const rss0 = process.memoryUsage().rss;
  let rssPeak = rss0;
  (async () => {
    for (let r = 0; r < ROUNDS; r++) {
      let t = process.hrtime.bigint();
      const f = binding.socketCensus({ netnsPath: nsPath, states: all, tuples: true });
      full.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (f.error) throw new Error(f.error);
      tw = f.counts[6];
      tupleBytes = f.tuples.length;
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      t = process.hrtime.bigint();
      const s = await binding.socketCensusAsync({ netnsPath: nsPath, states: sampled, tuples: false });
      sample.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (s.error) throw new Error(s.error);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1].toFixed(1);
    const ss = Number(execFileSync('sh', ['-c', `ip netns exec ${ns} ss -tanH state time-wait | wc -l`], { encoding: 'utf8' }));
    console.log(`${tw} TIME_WAIT sockets (ss -tan: ${ss}), ${ROUNDS} rounds, medians`);
    console.log('| census | ms | memory |');
    console.log('|---|---:|---|');
    console.log(`| at start: every state, other sockets listed (synchronous) | ${median(full)} | ${tupleBytes} bytes of socket list; RSS +${((rssPeak - rss0) / 1048576).toFixed(1)} MiB at most |`);
    console.log(`| each second: TIME_WAIT + SYN_RECV counted (worker thread) | ${median(sample)} | counts only |`);
  })().catch((err) => { console.error(err.message); process.exitCode = 1; }).finally(() => execFileSync('ip', ['netns', 'del', ns]));
} catch (err) {
  execFileSync('ip', ['netns', 'del', ns]);
  throw err;
}
