#!/usr/bin/env node
// decode + table over captured records (bench/micro.js makes them), nothing else: for
// instruction counts under callgrind, where timing noise from a shared machine does not reach.
//   valgrind --tool=callgrind node --single-threaded --predictable bench/table-only.js CHECKOUT REPS
// The difference between two REPS values, divided by the extra events, is instructions per event.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { fromDist } = require('./dist-path');
const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
const decode = fromDist(root, 'decode/decode.js', 'decode.js');
const { TableSink } = fromDist(root, 'sinks/table.js');
const { EVENT_SIZE } = fromDist(root, 'decode/record.generated.js', 'decode/layout.js', 'layout.js');
const buf = fs.readFileSync(process.env.RECORDS ?? path.join(__dirname, 'out', 'records.bin'));
const n = Math.floor(buf.length / EVENT_SIZE);
const batches = [];
for (let o = 0; o < n; o += 1820) batches.push(buf.subarray(o * EVENT_SIZE, Math.min(n, o + 1820) * EVENT_SIZE));
const clock = new decode.Clock();
const table = new TableSink(() => {}, { time: 'none', wide: false, onCpu: false });
const reps = Number(process.argv[3] || 1);
for (let r = 0; r < reps; r++) for (const b of batches) table.write(decode.decodeBatch(b, clock));
