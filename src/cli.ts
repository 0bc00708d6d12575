// The command: flags → plan → tracer → sinks. The only module that knows about stdout,
// signals and exit codes.
import { chownSync } from 'node:fs';
import { CommanderError } from 'commander';
import { parseArgs, UsageError, type Plan } from './command/options';
import type { Tracer, Counters, TracerOptions } from './tracer';
import { leftOutText, ownerHooks, ProbeError, startProbe } from './probe/probe';
import type { Writer } from './sinks/sink';
import type { StatsEngine } from './derive/stats';
import { displayText } from './format/display';
import { StdoutOutput } from './command/stdout';
import { sinkOptions } from './command/sink-options';
import { dropPrivileges } from './command/privileges';
import { buildSinks, readsOf } from './sinks';
import { statusOnly } from './status';
import type { ReplaySource } from './source/replay';

const EXIT_USAGE = 2;
/** Bytes of stdout we hold for a slow reader (TCPTRACE_OUTPUT_BUFFER overrides, for tests). */
const OUTPUT_BUFFER_CAP = Number(process.env.TCPTRACE_OUTPUT_BUFFER) || 32 << 20;
const EXIT_FAILURE = 1;
/** From a stop signal to exit at most (README, docs/STREAM.md); the reserve is for the summary and exit. */
const SHUTDOWN_MS = 2000;
const EXIT_RESERVE_MS = 300;

/**
 * One line on stderr. Messages can carry text from outside (a collector's reply, a path), so
 * they are escaped like every other human-facing text (src/format/display.ts). A stderr that fails
 * (closed, EPIPE) loses its lines but never stops the tracing: see the error handler in main.
 */
function note(line: string): void {
  if (stderrOpen) process.stderr.write(`tcptrace: ${displayText(line)}\n`);
}

let stderrOpen = true;

function fail(message: string, code: number): never {
  note(message);
  process.exit(code);
}

function notSeenWhy(c: Counters): string {
  const busy = c.missed - c.hidden;
  if (!c.hidden) return 'the kernel skipped them, BPF program busy on that CPU';
  const hidden = `${c.hidden} while PID 1 was running, which this kernel hides from BPF`;
  return `the kernel skipped them: ${busy ? `${busy} with the BPF program busy on that CPU, ` : ''}${hidden}`;
}

/** The start note on a kernel that hides PID 1's work from BPF ('' elsewhere). */
export function pid1HidingNote(hiding: { uncounted: string } | null): string {
  if (!hiding) return '';
  const counted = hiding.uncounted ? `NOT counted (${hiding.uncounted})` : 'counted as not seen';
  return `this kernel runs no BPF program while PID 1 is the current task: state changes made then are ${counted}`;
}

export function summaryLine(c: Counters): string {
  const filtered = c.filtered ? `, ${c.filtered} filtered after attribution` : '';
  const missed = c.missed ? ` (+${c.missed} not seen: ${notSeenWhy(c)})` : '';
  const accepts = c.acceptsLost ? `; ${c.acceptsLost} accept records lost (missing from the accept-queue wait statistics)` : '';
  return `tcptrace: ${c.seen} events seen, ${c.delivered} delivered${filtered}, ${c.lost} lost${missed}${accepts}`;
}

function replayLine(r: ReplaySource): string {
  const kept = r.delivered === r.read - r.accepted ? `${r.delivered} events` : `${r.delivered} of ${r.read - r.accepted} events (the rest filtered out)`;
  const bad = r.badLines ? `; ${r.badLines} lines were not JSON and were skipped` : '';
  const cut = r.cut ? `; the capture was cut: ${r.cut}` : '';
  const notCaptured = r.notCaptured ? `; ${r.notCaptured} lines the flight recorder could not keep are missing` : '';
  return `replayed ${kept}${bad}${cut}${notCaptured}`;
}

function replayStartLine(r: ReplaySource, speed?: number): string {
  const h = r.header;
  const from = h ? `captured on ${h.host} (kernel ${h.kernel}, ${h.attach}) at ${h.time}` : 'a capture without a header (schema 1): no census nor loss counters';
  return `replaying ${from}, ${speed ? `at ×${speed}` : 'as fast as possible'}`;
}

/** What the CLI needs from attach on: loaded while the kernel verifies the programs (startProbe). */
async function loadRest() {
  const [{ Tracer }, { StatsEngine }, { SocketCensus }, { Pipeline }, { deliveryText }, { OpenConnections }] = await Promise.all([
    import('./tracer'), import('./derive/stats'), import('./census/census'), import('./pipeline'), import('./probe/delivery'),
    import('./derive/open-connections'),
  ]);
  return { Tracer, StatsEngine, SocketCensus, Pipeline, deliveryText, OpenConnections };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  process.stderr.on('error', () => { stderrOpen = false; });
  let plan: Plan;
  try {
    plan = parseArgs(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(0); // --help / --version, already printed
    fail(`${(err as Error).message} (see tcptrace --help)`, EXIT_USAGE);
  }
  // What the sinks asked for read decides what runs: accept records, census, stats engine.
  const asked = sinkOptions(plan);
  const reads = readsOf(asked);

  let tracer: Tracer | ReplaySource;
  let live: Tracer | undefined;
  /** what the start note said of the changes PID 1 hides (the exit says so again if it changed) */
  let startHiding: { uncounted: string } | null = null;
  let replay: ReplaySource | undefined;
  let lib: Awaited<ReturnType<typeof loadRest>>;
  if (plan.replay) {
    try {
      const { ReplaySource } = await import('./source/replay');
      tracer = replay = await ReplaySource.open(plan.replay, { filter: plan.filter, speed: plan.speed });
      lib = await loadRest();
    } catch (err) {
      fail((err as Error).message, EXIT_FAILURE);
    }
  } else try {
    const options: TracerOptions = {
      filter: plan.filter,
      attach: plan.attach,
      delivery: plan.perfBuffer ? 'perfbuf' : 'auto',
      ringBytes: plan.ringBytes,
      wakeupBytes: plan.wakeupBytes,
      flushMs: plan.flushMs,
      verbose: plan.verbose,
      btf: plan.btf,
      acceptRecords: Boolean(reads.accepts),
      connTotals: Boolean(reads.totals),
    };
    const started = startProbe(options);
    lib = await loadRest();
    tracer = live = lib.Tracer.open(options, started);
  } catch (err) {
    if (err instanceof ProbeError) {
      if (plan.verbose && err.detail) process.stderr.write(err.detail);
      fail(err.message, EXIT_FAILURE);
    }
    fail((err as Error).message, EXIT_FAILURE);
  }

  const stdout = new StdoutOutput(process.stdout, OUTPUT_BUFFER_CAP);
  const out = stdout.write;
  const log: Writer = note;
  const { StatsEngine, SocketCensus, Pipeline, deliveryText } = lib;
  // Counted now, right after attach: sockets older than the probe come from the kernel's
  // tables, the ring buffer holds the transitions that happen meanwhile.
  const census = reads.census ? new SocketCensus(plan.filter, () => { const c = tracer.counters(); return c.lost + c.missed; }, replay?.census) : undefined;
  // listeners under pressure: sampled live (for a capture too, which keeps the samples), the capture's in a replay
  const pressure = replay ? (census ? replay.pressure : undefined) : census || plan.capture ? (await import('./derive/listener-pressure')).listenerPressure() : undefined;
  const stats: StatsEngine | undefined = reads.stats ? new StatsEngine(plan.top, census, pressure) : undefined;
  // connections still open at a report (--summary, --lifetimes at exit): sock_diag, as the census
  // (a replay's are the capture's `open` records: src/source/replay-open.ts)
  const liveOpen = reads.open && !replay ? new lib.OpenConnections(plan.filter) : undefined;
  const openConnections = reads.open && replay ? replay.open : liveOpen;
  // -j and --capture write a capture (docs/SCHEMA.md, "Captures"): the tracer's facts and census too.
  const { liveCaptureFeed } = await import('./source/capture-feed');
  const capture = live && (plan.capture || (plan.format === 'json' && !plan.quiet)) ? liveCaptureFeed(live, statusOnly(tracer), plan.filter, liveOpen, pressure) : undefined;
  let sinks;
  try {
    sinks = await buildSinks(asked, { status: statusOnly(tracer), out, log, stats, census, openConnections, pressure, capture });
  } catch (err) {
    tracer.close();
    fail((err as Error).message, EXIT_FAILURE);
  }
  const pipeline = new Pipeline(tracer, sinks, { census, stats, pressure });
  // A replay holds no privilege to drop (it runs as whoever starts it). A capture's count at start
  // is made first; the flight recorder counts again in every namespace later (as the census does).
  if (!plan.keepPrivileges && !replay) {
    await capture?.ready;
    try {
      // -Z USER: the flight recorder goes on writing its directory as that user
      if (plan.capture && plan.user) chownSync(plan.capture.dir, plan.user.uid, plan.user.gid);
      const done = dropPrivileges({ census: Boolean(census || openConnections || plan.capture) }, plan.user);
      if (plan.verbose || plan.user) log(done);
    } catch (err) {
      tracer.close();
      fail(`${(err as Error).message} (--keep-privileges runs without dropping them)`, EXIT_FAILURE);
    }
  }

  let stopping = false;
  const stop = (code = 0) => {
    if (stopping) return;
    stopping = true;
    const asked = performance.now();
    const counters = tracer.close(); // its last batch still goes through the pipeline
    census?.close();
    capture?.close();
    pressure?.stop();
    const pending = pipeline.end();
    // Sinks that flush over the network (OTLP, WebSocket clients) get a moment: the whole
    // shutdown, from the signal to exit, stays within 2 s even when a client stopped reading.
    const wait = Math.max(0, SHUTDOWN_MS - EXIT_RESERVE_MS - (performance.now() - asked));
    const flushed = pending.length ? Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, wait))]) : undefined;
    void (flushed ?? Promise.resolve())
      .then(() => stdout.close(Math.max(0, SHUTDOWN_MS - EXIT_RESERVE_MS - (performance.now() - asked))))
      .then(() => finish(counters, code));
  };
  const finish = (counters: ReturnType<Tracer['close']>, code: number) => {
    const dropped = stdout.linesNotWritten ? `; ${stdout.linesNotWritten} output lines not written: the reader of stdout fell behind` : '';
    const cut = stdout.linesQueuedAtExit ? `; output cut at exit: up to ${stdout.linesQueuedAtExit} lines the reader of stdout had not taken within the shutdown time` : '';
    const unwritten = dropped + cut;
    const delivery = plan.verbose ? `; ${deliveryText(tracer.deliveryStats())}` : '';
    // the count of what PID 1 hid may have stopped being whole since the start note
    const hiding = live?.pid1Hiding;
    if (hiding?.uncounted && hiding.uncounted !== startHiding?.uncounted) note(pid1HidingNote(hiding));
    if (stderrOpen) process.stderr.write(`${summaryLine(counters)}${unwritten}${delivery}\n`);
    if (replay) note(replayLine(replay));
    process.exit(code);
  };
  process.on('SIGINT', () => stop());
  process.on('SIGTERM', () => stop());
  process.on('SIGHUP', () => stop());
  process.on('SIGUSR2', () => {
    for (const sink of sinks) sink.saveRecent?.().catch((err: Error) => note(`capture: the save failed: ${err.message}`));
  });
  // The reader went away (e.g. `| head`): detach quietly, keep the summary.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      stdout.open = false;
      stop();
    } else {
      fail(`cannot write output: ${err.message}`, EXIT_FAILURE);
    }
  });
  if (plan.durationSec) setTimeout(() => stop(), plan.durationSec * 1000);
  if (replay) {
    const r = replay;
    r.on('end', () => (plan.listen || plan.metrics ? log('the capture is replayed; serving until Ctrl-C') : stop()));
    r.run().catch((err: Error) => { note(`replay failed: ${err.message}`); stop(EXIT_FAILURE); });
    log(replayStartLine(r, plan.speed));
    return;
  }
  const via = tracer.delivery === 'ringbuf' ? 'ring buffer' : 'perf buffer';
  if (plan.verbose) for (const l of live!.leftOut) log(`left out ${l.program} (this kernel has no ${l.missing})${l.feature ? `: no ${l.feature}` : ', another program stands in'}`);
  log(`tracing TCP state changes (${tracer.attach}, ${via}; ${ownerHooks(tracer.programs)}${leftOutText(live!.leftOut)}); Ctrl-C to stop`);
  startHiding = live!.pid1Hiding;
  const hiding = pid1HidingNote(startHiding);
  if (hiding) log(hiding);
}
