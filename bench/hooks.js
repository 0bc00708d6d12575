// The harness's view into a running tcptrace, kept out of the product: preloaded into it
// (NODE_OPTIONS=--require bench/hooks.js, see `tracerEnv`), it wraps the library API that
// bin/tcptrace runs on and writes two `tcptrace-stats:` JSON lines on stderr: at attach (times
// in ms since the process started: load_started_ms, attached_ms; CPU so far) and at exit
// (batches and events delivered, CPU, peak RSS, counters, delivery: ring and backlog peaks,
// drain gaps). A tree from before this file printed the same lines itself (TCPTRACE_STATS=1).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const HOOKS = __filename;
/** The environment that makes a tcptrace of any tree report to the harness. */
const tracerEnv = () => ({ TCPTRACE_STATS: '1', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${HOOKS}`.trim() });
module.exports = { tracerEnv };

function install() {
  const script = process.argv[1] ?? '';
  if (!/[\\/]bin[\\/]tcptrace$/.test(script)) return; // the harness's other node processes
  const dist = path.join(path.dirname(script), '..', 'dist');
  if (fs.readFileSync(path.join(dist, 'cli.js'), 'utf8').includes('TCPTRACE_STATS')) return; // reports itself
  const say = (o) => process.stderr.write(`tcptrace-stats: ${JSON.stringify(o)}\n`);
  let loadStartedMs = NaN;
  let tracer;
  const counts = { batches: 0, events: 0 };
  // Wrapped as the CLI loads them (not loaded here: that would move their cost before the BPF load).
  const wrap = {
    [path.join(dist, 'probe', 'probe.js')]: (probe) => {
      const startProbe = probe.startProbe;
      probe.startProbe = function (...args) {
        loadStartedMs = performance.now();
        return startProbe.apply(this, args);
      };
    },
    [path.join(dist, 'tracer.js')]: ({ Tracer }) => {
      const open = Tracer.open;
      Tracer.open = function (...args) {
        tracer = open.apply(this, args);
        tracer.on('events', (batch) => { counts.batches++; counts.events += batch.length; });
        const c = process.cpuUsage();
        say({ load_started_ms: Math.round(loadStartedMs), attached_ms: Math.round(tracer.attachedAt), ready_ms: Math.round(performance.now()), user_us: c.user, sys_us: c.system });
        return tracer;
      };
    },
  };
  const Module = require('node:module');
  const load = Module._load;
  Module._load = function (request, parent, ...rest) {
    const exports = load.call(this, request, parent, ...rest);
    if (parent && request.startsWith('.')) {
      const file = Module._resolveFilename(request, parent);
      if (wrap[file]) { wrap[file](exports); delete wrap[file]; }
    }
    return exports;
  };
  process.on('exit', () => {
    if (!tracer) return;
    const r = process.resourceUsage();
    const delivery = tracer.deliveryStats();
    const { ringPeakFraction } = require(path.join(dist, 'probe', 'delivery.js'));
    say({ ...counts, attached_ms: Math.round(tracer.attachedAt), user_us: r.userCPUTime, sys_us: r.systemCPUTime, max_rss_kb: r.maxRSS,
      counters: tracer.counters(), delivery: { ...delivery, ringPeak: ringPeakFraction(delivery) } });
  });
}

install();
