#!/usr/bin/env node
// A/B of what the flight recorder costs the event loop, between another checkout and this one
// (BENCHMARKS.md, "Flight recorder"): the lines of a capture (events and accept records) are
// made into events shaped as the live tracer makes them (the decoder's object literal, then the
// cgroup the enrich stage adds: a replay's objects are built otherwise, and V8 runs the writers
// at another speed on them), then written by each side's CaptureWriter, in batches, into
//   json:     its byte writer only (writeJsonEvent), and
//   recorder: its RecorderFiles (the copy, the hand-over to the disk thread, which compresses
//             and appends to files in a temporary directory).
// Measured: the main thread's CPU per line (/proc/thread-self/schedstat: the disk thread's CPU
// is not the event loop's), sides alternating round by round; medians and the median ratio.
//   node bench/recorder-ab.js OTHER_CHECKOUT --capture FILE|DIR [--rounds N]
// (both checkouts built: dist/)
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { fromDist, abArgs } = require('./dist-path');

const { opt, other, here } = abArgs();
const capture = opt('--capture', undefined);
const rounds = Number(opt('--rounds', '11'));
if (!capture) throw new Error('--capture FILE|DIR: a capture to take the events from (tcptrace --capture DIR or -j FILE)');
const BATCH = 500; // about one ring-buffer wakeup under a storm

function captureLines() {
  const files = fs.statSync(capture).isDirectory()
    ? fs.readdirSync(capture).filter((f) => f.endsWith('.gz')).sort().map((f) => path.join(capture, f)) : [capture];
  const text = files.map((f) => {
    const b = fs.readFileSync(f);
    return (f.endsWith('.gz') ? zlib.gunzipSync(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH }) : b).toString();
  }).join('');
  return text.split('\n').filter((l) => l && (!l.startsWith('{"type"') || l.startsWith('{"type":"accept"')));
}

/** The events of the capture, shaped as the live tracer's, in batches of events and of accept records. */
function liveBatches() {
  const dist = (...names) => fromDist(here, ...names);
  const { eventFromJson } = dist('source/json-event.js');
  const { decodeEvent, EVENT_SIZE, Clock } = dist('decode/decode.js');
  const keys = Object.keys(decodeEvent(Buffer.alloc(EVENT_SIZE), 0, new Clock()));
  const literal = new Function('e', `return { ${keys.map((k) => `${k}: e.${k}`).join(', ')} };`);
  const events = captureLines().map((line) => {
    const json = JSON.parse(line);
    const accept = json.type === 'accept';
    delete json.type;
    const read = eventFromJson(json, accept);
    const e = literal(read);
    if (read.ownerExited) e.ownerExited = true; // as the attribution stage sets it
    e.cgroup = read.cgroup; // as the enrich stage adds it
    return e;
  });
  const batches = [];
  for (let i = 0; i < events.length; i += BATCH) {
    const slice = events.slice(i, i + BATCH);
    batches.push({ events: slice.filter((e) => !e.isAccept), accepts: slice.filter((e) => e.isAccept) });
  }
  return { lines: events.length, batches };
}

const onCpuNs = () => Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
const yieldLoop = () => new Promise((resolve) => setImmediate(resolve));

async function side(root, batches) {
  const dist = (...names) => fromDist(root, ...names);
  const { CaptureWriter } = dist('format/capture-writer.js');
  const { RecorderFiles } = dist('sinks/recorder/files.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recorder-ab-'));
  const files = new RecorderFiles(dir, 1 << 30, () => '{"type":"capture"}\n', (line) => process.stderr.write(`${root}: ${line}\n`), () => {});
  await files.open();
  const json = new CaptureWriter(() => {}); // the bytes are lent to an output that drops them
  const recorder = new CaptureWriter(files.output);
  const run = async (w) => {
    // each batch its own turn of the event loop, as the tracer's: the disk thread's answers
    // (handled on the event loop too) come between
    const t = onCpuNs();
    for (const b of batches) {
      w.write(b.events);
      if (b.accepts.length) w.accepts(b.accepts);
      await yieldLoop();
    }
    return onCpuNs() - t;
  };
  return {
    root, json: [], recorder: [],
    run: { json: () => run(json), recorder: async () => { const ns = await run(recorder); await files.flush(); return ns; } },
    close: async () => { await files.close(5000); fs.rmSync(dir, { recursive: true, force: true }); return files.linesNotCaptured; },
  };
}

(async () => {
  const keepAlive = setInterval(() => {}, 1000); // the disk threads are unref'd
  const { lines, batches } = liveBatches();
  const a = await side(other, batches);
  const b = await side(here, batches);
  for (let r = 0; r < rounds + 1; r++) {
    for (const kind of ['json', 'recorder']) {
      for (const s of r % 2 ? [a, b] : [b, a]) {
        const ns = await s.run[kind]();
        if (r) s[kind].push(ns / lines); // the first round warms up
      }
    }
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  for (const kind of ['json', 'recorder']) {
    const ratio = median(b[kind].map((x, i) => x / a[kind][i]));
    process.stdout.write(`${kind}: ${other} ${median(a[kind]).toFixed(0)} ns/line, ${here} ${median(b[kind]).toFixed(0)} ns/line; ` +
      `median ratio ${ratio.toFixed(3)} over ${rounds} alternating rounds of ${lines} lines (${capture})\n`);
  }
  const dropped = [await a.close(), await b.close()];
  if (dropped.some(Boolean)) process.stdout.write(`lines not captured (the disk thread fell behind; the figures include the drops): ${dropped.join(', ')}\n`);
  clearInterval(keepAlive);
})().catch((err) => { process.stderr.write(`${err.stack}\n`); process.exit(1); });
