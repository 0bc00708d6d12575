// Chooses the sinks a plan asks for. Each sink is built here and knows nothing of the others.
import type { Sink } from './sink';
import type { SinkContext } from './context';
import { TableSink } from './table';
import { CsvSink } from './csv';
import { NdjsonSink } from './ndjson';
import { SummarySink } from './summary';
import { LifetimeSink } from './lifetimes';
import { fleetSinks } from './fleet';

export type { SinkContext } from './context';

/** Terminal output: table, CSV or NDJSON, unless the plan turned it off. */
function terminalSink(ctx: SinkContext): Sink | undefined {
  const { plan, out } = ctx;
  if (plan.quiet) return undefined;
  switch (plan.format) {
    case 'csv': return new CsvSink(out, { time: plan.time, onCpu: plan.onCpu });
    case 'json': return new NdjsonSink(out);
    default: return new TableSink(out, { time: plan.time, wide: plan.wide, onCpu: plan.onCpu });
  }
}

export async function buildSinks(ctx: SinkContext): Promise<Sink[]> {
  const sinks: Sink[] = [];
  const terminal = terminalSink(ctx);
  if (terminal) sinks.push(terminal);
  const { plan } = ctx;
  if (plan.summary) {
    sinks.push(new SummarySink(ctx.out, ctx.stats(), { json: plan.format === 'json', intervalSec: plan.intervalSec }));
  }
  if (plan.lifetimes) sinks.push(new LifetimeSink(ctx.out, plan.format === 'json'));
  // The stream first: it sets the --listen server's token before /metrics can be served there.
  if (plan.listen) {
    const { streamSink } = await import('./ws'); // the WebSocket server, only when asked for
    sinks.push(await streamSink(ctx, plan.listen));
  }
  sinks.push(...(await fleetSinks(ctx)));
  return sinks;
}
