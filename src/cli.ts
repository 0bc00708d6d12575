// The command: flags → plan → tracer → sinks. The only module that knows about stdout,
// signals and exit codes.
import { CommanderError } from 'commander';
import { parseArgs, UsageError, type Plan } from './options';
import { Tracer, type Counters } from './tracer';
import { ProbeError } from './probe';
import { keep, ownerMatcher } from './filter';
import type { Sink, Writer } from './sinks/sink';
import { TableSink } from './sinks/table';
import { CsvSink } from './sinks/csv';
import { NdjsonSink } from './sinks/ndjson';

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

function fail(message: string, code: number): never {
  process.stderr.write(`tcptrace: ${message}\n`);
  process.exit(code);
}

function buildSinks(plan: Plan, out: Writer): Sink[] {
  switch (plan.format) {
    case 'csv': return [new CsvSink(out, { time: plan.time, onCpu: plan.onCpu })];
    case 'json': return [new NdjsonSink(out)];
    default: return [new TableSink(out, { time: plan.time, wide: plan.wide, onCpu: plan.onCpu })];
  }
}

export function summaryLine(c: Counters): string {
  return `tcptrace: ${c.seen} events seen, ${c.delivered} delivered, ${c.lost} lost`;
}

export function main(argv = process.argv.slice(2)): void {
  let plan: Plan;
  try {
    plan = parseArgs(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(0); // --help / --version, already printed
    fail(`${(err as Error).message} (see tcptrace --help)`, EXIT_USAGE);
  }

  let tracer: Tracer;
  try {
    tracer = Tracer.open({
      filter: plan.filter,
      attach: plan.attach,
      delivery: plan.perfBuffer ? 'perfbuf' : 'auto',
      ringBytes: plan.ringBytes,
      wakeupBytes: plan.wakeupBytes,
      flushMs: plan.flushMs,
      verbose: plan.verbose,
    });
  } catch (err) {
    if (err instanceof ProbeError) {
      if (plan.verbose && err.detail) process.stderr.write(err.detail);
      fail(err.message, EXIT_FAILURE);
    }
    fail((err as Error).message, EXIT_FAILURE);
  }

  let stopping = false;
  let outputOpen = true;
  const out: Writer = (text) => {
    if (outputOpen) process.stdout.write(text);
  };
  const sinks = buildSinks(plan, out);
  const ownerOk = ownerMatcher({ pid: plan.filter.pid, comm: plan.filter.comm });
  tracer.on('events', (batch) => {
    const shown = keep(batch, ownerOk);
    for (const sink of sinks) sink.write(shown);
  });

  const stop = (code = 0) => {
    if (stopping) return;
    stopping = true;
    const counters = tracer.close();
    outputOpen = false;
    for (const sink of sinks) sink.end?.();
    process.stderr.write(`${summaryLine(counters)}\n`);
    process.exit(code);
  };
  process.on('SIGINT', () => stop());
  process.on('SIGTERM', () => stop());
  process.on('SIGHUP', () => stop());
  // The reader went away (e.g. `| head`): detach quietly, keep the summary.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      outputOpen = false;
      stop();
    } else {
      fail(`cannot write output: ${err.message}`, EXIT_FAILURE);
    }
  });
  if (plan.durationSec) setTimeout(() => stop(), plan.durationSec * 1000);
}
