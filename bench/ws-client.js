#!/usr/bin/env node
// Benchmark WebSocket consumer: connects to tcptrace --listen's /ws endpoint, counts the
// events it receives, the events they stand for (`of`, with the largest 1-in-N `sample` the
// server announced) and the loss notices, and prints one JSON line when told to stop
// (SIGINT/SIGTERM) or when the server closes. Prints "ready" on stderr once the hello arrived.
// Usage: node bench/ws-client.js ws://127.0.0.1:PORT/ws
'use strict';
const WebSocket = require('ws');

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: node bench/ws-client.js ws://HOST:PORT/ws\n');
  process.exit(2);
}

const EVENTS_PREFIX = Buffer.from('{"type":"events","events":[');
const EVENT_START = Buffer.from('{"v":');
const SAMPLE_KEY = Buffer.from('"sample":');
const totals = { events: 0, of: 0, max_sample: 1, frames: 0, bytes: 0, lost_kernel: 0, lost_client: 0, hello: false };
let done = false;

function finish(code) {
  if (done) return;
  done = true;
  process.stdout.write(`${JSON.stringify(totals)}\n`);
  process.exit(code);
}

function connect(attempt) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('message', (data) => {
    totals.frames++;
    totals.bytes += data.length;
    // Event messages are counted without parsing them: this client shares the 2 vCPUs with
    // the tracer and the storm, and JSON.parse of every event (a dashboard's cost, on its
    // own machine) would slow the very thing measured. Each event is one object that starts
    // with {"v": (docs/SCHEMA.md); a sample is parsed to check that the count is right.
    if (data.subarray(0, EVENTS_PREFIX.length).equals(EVENTS_PREFIX)) {
      let n = 0;
      for (let i = data.indexOf(EVENT_START); i >= 0; i = data.indexOf(EVENT_START, i + 1)) n++;
      if (totals.frames % 100 === 1 && JSON.parse(data.toString()).events.length !== n) {
        process.stderr.write('ws-client: event count by prefix disagrees with JSON.parse\n');
        finish(1);
      }
      totals.events += n;
      // The tail is ,"sample":N,"of":M} (docs/STREAM.md).
      const [sample, of] = data.subarray(data.lastIndexOf(SAMPLE_KEY) + SAMPLE_KEY.length, data.length - 1).toString().split(',"of":').map(Number);
      totals.of += of;
      if (sample > totals.max_sample) totals.max_sample = sample;
      return;
    }
    const msg = JSON.parse(data.toString());
    if (msg.type === 'lost') {
      if (msg.source === 'client') totals.lost_client += msg.count;
      else totals.lost_kernel += msg.count;
    } else if (msg.type === 'hello') {
      totals.hello = true;
      process.stderr.write('ready\n');
    }
  });
  ws.on('error', (err) => {
    if (!totals.hello && attempt < 50) setTimeout(() => connect(attempt + 1), 100);
    else { process.stderr.write(`ws-client: ${err.message}\n`); finish(1); }
  });
  ws.on('close', () => { if (totals.hello) finish(0); });
}

process.on('SIGINT', () => finish(0));
process.on('SIGTERM', () => finish(0));
connect(0);
