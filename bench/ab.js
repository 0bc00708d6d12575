#!/usr/bin/env node
// A/B of the table's hot path (decode + table row) between another checkout and this one, in
// one process over the same captured records (bench/micro.js captures them): short blocks
// alternate, first one side then the other, so a machine shared with other work slows both
// alike; the median of the per-round ratios is the result.
//   node bench/ab.js OTHER_CHECKOUT [--records FILE] [--rounds N]   (both need dist/ built)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { fromDist, abArgs } = require('./dist-path');

const { opt, other, here } = abArgs();
const records = opt('--records', path.join(__dirname, 'out', 'records.bin'));
const rounds = Number(opt('--rounds', '40'));

function side(root) {
  const decode = fromDist(root, 'decode/decode.js', 'decode.js');
  const { TableSink } = fromDist(root, 'sinks/table.js');
  const { EVENT_SIZE } = fromDist(root, 'decode/record.generated.js', 'decode/layout.js', 'layout.js');
  const clock = new decode.Clock();
  const table = new TableSink(() => {}, { time: 'none', wide: false, onCpu: false });
  return { EVENT_SIZE, run: (batches) => { for (const b of batches) table.write(decode.decodeBatch(b, clock)); } };
}

const a = side(other);
const b = side(here);
const buf = fs.readFileSync(records);
const n = Math.floor(buf.length / b.EVENT_SIZE);
const batches = [];
for (let o = 0; o < n; o += 1820) batches.push(buf.subarray(o * b.EVENT_SIZE, Math.min(n, o + 1820) * b.EVENT_SIZE));
const timed = (s) => { const t = process.hrtime.bigint(); s.run(batches); return Number(process.hrtime.bigint() - t) / n; };
for (let w = 0; w < 5; w++) { timed(a); timed(b); }
const ta = [], tb = [], ratio = [];
for (let r = 0; r < rounds; r++) {
  let x, y;
  if (r % 2) { x = timed(a); y = timed(b); } else { y = timed(b); x = timed(a); }
  ta.push(x); tb.push(y); ratio.push(y / x);
}
const med = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];
process.stdout.write(`decode+table: ${other} ${med(ta).toFixed(0)} ns/event, ${here} ${med(tb).toFixed(0)} ns/event; ` +
  `median ratio ${med(ratio).toFixed(3)} over ${rounds} alternating rounds of ${n} records\n`);
