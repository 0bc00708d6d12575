#!/usr/bin/env node
// A/B of a sink's hot path through the library pipeline (decode → Pipeline: enrich stage when
// the sink needs it, then the sink) between another checkout and this one, over the same
// captured records (bench/micro.js captures them), output to /dev/null. As bench/ab.js: short
// blocks alternate, first one side then the other, and the median of per-round ratios is the
// result, so a machine shared with other work slows both alike; the time is CPU time.
//   node bench/ab-pipeline.js OTHER_CHECKOUT [--sink ndjson|table] [--records FILE] [--rounds N]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { fromDist, abArgs } = require('./dist-path');
const { EventEmitter } = require('node:events');

const { opt, other, here } = abArgs();
const sinkName = opt('--sink', 'ndjson');
const records = opt('--records', path.join(__dirname, 'out', 'records.bin'));
const rounds = Number(opt('--rounds', '40'));
const devNull = fs.openSync('/dev/null', 'w');
const out = (chunk) => { fs.writeSync(devNull, chunk); };

function side(root) {
  const dist = (...names) => fromDist(root, ...names);
  const decode = dist('decode/decode.js', 'decode.js');
  const { Pipeline } = dist('pipeline.js');
  const sink = sinkName === 'table'
    ? new (dist('sinks/table.js').TableSink)(out, { time: 'none', wide: false, onCpu: false })
    : new (dist('sinks/ndjson.js').NdjsonSink)(out);
  const source = new EventEmitter();
  const pipeline = new Pipeline(source, [sink]);
  const clock = new decode.Clock();
  return { EVENT_SIZE: dist('decode/record.generated.js', 'decode/layout.js', 'layout.js').EVENT_SIZE, run: (batches) => { for (const b of batches) pipeline.push(decode.decodeBatch(b, clock)); } };
}

const a = side(other);
const b = side(here);
const buf = fs.readFileSync(records);
const n = Math.floor(buf.length / b.EVENT_SIZE);
const batches = [];
for (let o = 0; o < n; o += 1820) batches.push(buf.subarray(o * b.EVENT_SIZE, Math.min(n, o + 1820) * b.EVENT_SIZE));
// CPU time (user + system, all threads of this process), not wall time: on a shared machine
// the time this process spends waiting for a CPU is not its cost.
const timed = (s) => { const t = process.cpuUsage(); s.run(batches); const d = process.cpuUsage(t); return ((d.user + d.system) * 1000) / n; };
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
