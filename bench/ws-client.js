#!/usr/bin/env node
// Benchmark WebSocket consumer: connects to tcptrace --listen's /ws endpoint, counts the
// events it receives and the loss notices, and prints one JSON line when told to stop
// (SIGINT/SIGTERM) or when the server closes. Prints "ready" on stderr once the hello arrived.
// Usage: node bench/ws-client.js ws://127.0.0.1:PORT/ws
'use strict';
const WebSocket = require('ws');

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: node bench/ws-client.js ws://HOST:PORT/ws\n');
  process.exit(2);
}

const totals = { events: 0, frames: 0, bytes: 0, lost_kernel: 0, lost_client: 0, hello: false };
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
    const msg = JSON.parse(data.toString());
    if (msg.type === 'events') totals.events += msg.events.length;
    else if (msg.type === 'lost') {
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
