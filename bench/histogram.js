// Histogram cost on the hot path (record) and per snapshot (three percentiles), for
// src/derive/histogram.ts against hdr-histogram-js (when installed: npm install --no-save
// hdr-histogram-js) and the √2-bucket histogram it replaced; then the socket census' cost
// per event. Needs a built dist/ (npx tsc -p .).
//   node bench/histogram.js [values=2000000] [rounds=7]
'use strict';
const { Histogram } = require('../dist/derive/histogram.js');

const N = Number(process.argv[2]) || 2_000_000;
const ROUNDS = Number(process.argv[3]) || 7;

// Handshake-like values: log-normal around 0.1 ms with a tail of seconds.
let seed = 12345;
const rnd = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed / 2 ** 32; };
const values = new Float64Array(N);
for (let i = 0; i < N; i++) values[i] = 0.1 * Math.exp(2 * Math.sqrt(-2 * Math.log(rnd() || 1e-12)) * Math.cos(2 * Math.PI * rnd()));

/** The previous histogram's record (72 buckets growing by √2 from 1 µs), for reference. */
class SqrtTwoBuckets {
  constructor() { this.counts = new Float64Array(72); this.count = 0; this.sum = 0; this.min = Infinity; this.max = 0; }
  record(ms) {
    const v = ms > 0 ? ms : 0;
    let i = v <= 0.001 ? 0 : Math.ceil(Math.log(v / 0.001) / Math.LN2 * 2 - 1e-9);
    if (i >= 72) i = 71;
    this.counts[i]++; this.count++; this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
}

const contenders = {
  'src/derive/histogram.ts (log-linear, 128/octave)': () => {
    const h = new Histogram();
    return { record: (ms) => h.record(ms), percentiles: () => [h.quantile(0.5), h.quantile(0.9), h.quantile(0.99)] };
  },
  'previous (√2 buckets)': () => {
    const h = new SqrtTwoBuckets();
    return { record: (ms) => h.record(ms), percentiles: () => [] };
  },
};
try {
  const hdr = require('hdr-histogram-js');
  contenders['hdr-histogram-js 3 (ns integers, 2 digits)'] = () => {
    const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 1e14, numberOfSignificantValueDigits: 2 });
    return { record: (ms) => h.recordValue(Math.round(ms * 1e6)), percentiles: () => [0.5, 0.9, 0.99].map((q) => h.getValueAtPercentile(q * 100) / 1e6) };
  };
} catch { /* not installed */ }

const results = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, make] of Object.entries(contenders)) { // interleaved: drift hits all alike
    const h = make();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) h.record(values[i]);
    const t1 = process.hrtime.bigint();
    for (let k = 0; k < 100; k++) h.percentiles();
    const t2 = process.hrtime.bigint();
    (results[name] ??= { record: [], pct: [] }).record.push(Number(t1 - t0) / N);
    results[name].pct.push(Number(t2 - t1) / 100 / 1000);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`${N} values, ${ROUNDS} interleaved rounds, medians`);
console.log('| histogram | record, ns/value | 3 percentiles, µs |');
console.log('|---|---:|---:|');
for (const [name, r] of Object.entries(results)) console.log(`| ${name} | ${median(r.record).toFixed(1)} | ${median(r.pct).toFixed(1)} |`);

// The census on the hot path: one namespace, events of 1000 sockets cycling through a
// connection's states (no kernel: a stand-in for sock_diag).
const { SocketCensus } = require('../dist/census/census.js');
const empty = { counts: new Array(16).fill(0), tuples: Buffer.alloc(0), startNs: 0, endNs: 0, attempts: 1, error: null };
const source = { scan: () => ({ paths: new Map([[1, '']]), unreadable: 0, own: 1 }), pathOf: () => undefined, dump: () => empty, dumpAsync: async () => empty };
const cycle = [[7, 2], [2, 1], [1, 4], [4, 5], [5, 7]];
const events = Array.from({ length: 100_000 }, (_, i) => {
  const [oldState, newState] = cycle[i % 5];
  return { netns: 1, skaddr: String(i % 1000), tsNs: 1e9 + i, oldState, newState, timeWait: newState === 7, sport: 1, dport: 2 };
});
(async () => {
  const costs = [];
  for (let r = 0; r < ROUNDS; r++) {
    const census = new SocketCensus({}, () => 0, source);
    await census.ready();
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < 10; k++) for (let i = 0; i < events.length; i += 512) census.observe(events.slice(i, i + 512));
    costs.push(Number(process.hrtime.bigint() - t0) / (10 * events.length));
    census.close();
  }
  console.log(`| census.observe, ns/event (batches of 512) | ${median(costs).toFixed(1)} | |`);
})();
