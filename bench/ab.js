#!/usr/bin/env node
// A/B of the per-event cost in user space between another checkout and this one: the captured
// records (bench/micro.js captures them) go through decode → Pipeline → one sink built as the
// CLI builds it (buildSinks: its enrich stage when it reads the cgroup), output to /dev/null.
// Short blocks alternate, first one side then the other, so a machine shared with other work
// slows both alike; the result is the median of the per-round ratios of CPU time.
//   node bench/ab.js OTHER_CHECKOUT [--sink table|ndjson|csv] [--records FILE] [--other-records FILE] [--rounds N]
//   --other-records: the same capture in the other checkout's record layout, when the two differ
//   (both checkouts built: dist/)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const { fromDist, abArgs } = require('./dist-path');

const { opt, other, here } = abArgs();
const sinkName = opt('--sink', 'table');
const records = opt('--records', path.join(__dirname, 'out', 'records.bin'));
const otherRecords = opt('--other-records', records);

/** A capture in batches of 1820 records of `size` bytes. */
function batchesOf(file, size) {
  const buf = fs.readFileSync(file);
  const count = Math.floor(buf.length / size);
  const batches = [];
  for (let o = 0; o < count; o += 1820) batches.push(buf.subarray(o * size, Math.min(count, o + 1820) * size));
  return { count, batches };
}
const rounds = Number(opt('--rounds', '40'));
const devNull = fs.openSync('/dev/null', 'w');
const out = (chunk) => { fs.writeSync(devNull, chunk); };
const TERMINAL = {
  table: { format: 'table', table: { time: 'none', wide: false, onCpu: false } },
  csv: { format: 'csv', csv: { time: 'none', onCpu: false } },
  ndjson: { format: 'json' },
};

async function side(root) {
  const dist = (...names) => fromDist(root, ...names);
  const decode = dist('decode/decode.js');
  const { Pipeline } = dist('pipeline.js');
  const [sink] = await dist('sinks/index.js').buildSinks({ terminal: TERMINAL[sinkName] }, { out, log: () => {} });
  const source = new EventEmitter();
  const pipeline = new Pipeline(source, [sink]);
  const clock = new decode.Clock();
  const EVENT_SIZE = dist('decode/record.generated.js', 'decode/layout.js').EVENT_SIZE;
  return { EVENT_SIZE, run: (batches) => { for (const b of batches) pipeline.push(decode.decodeBatch(b, clock)); } };
}

(async () => {
  const a = await side(other);
  const b = await side(here);
  const mine = batchesOf(records, b.EVENT_SIZE);
  const theirs = otherRecords === records ? mine : batchesOf(otherRecords, a.EVENT_SIZE);
  if (theirs.count !== mine.count) throw new Error(`${otherRecords} holds ${theirs.count} records, ${records} ${mine.count}: not the same capture`);
  const n = mine.count;
  a.batches = theirs.batches;
  b.batches = mine.batches;
  // CPU time (user + system), not wall time: on a shared machine, waiting for a CPU is not a cost.
  const timed = (s) => { const t = process.cpuUsage(); s.run(s.batches); const d = process.cpuUsage(t); return ((d.user + d.system) * 1000) / n; };
  for (let w = 0; w < 5; w++) { timed(a); timed(b); }
  const ta = [], tb = [], ratio = [];
  for (let r = 0; r < rounds; r++) {
    let x, y;
    if (r % 2) { x = timed(a); y = timed(b); } else { y = timed(b); x = timed(a); }
    ta.push(x); tb.push(y); ratio.push(y / x);
  }
  const med = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];
  process.stdout.write(`decode+pipeline+${sinkName}: ${other} ${med(ta).toFixed(0)} CPU ns/event, ${here} ${med(tb).toFixed(0)} CPU ns/event; ` +
    `median ratio ${med(ratio).toFixed(3)} over ${rounds} alternating rounds of ${n} records\n`);
})();
