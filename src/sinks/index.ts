// Builds the sinks asked for, each from its own typed options (made from the CLI's plan in
// src/command/sink-options.ts). Each sink is built here and knows nothing of the others.
import type { Sink } from './sink';
import type { SinkInputs } from './context';
import { TableSink, type TableOptions } from './table';
import { CsvSink, type CsvOptions } from './csv';
import { NdjsonSink } from './ndjson';
import { SummarySink, type SummaryOptions } from './summary';
import { LifetimeSink } from './lifetimes';
import { fleetSinks, type FleetOptions } from './fleet';
import type { StreamOptions } from './ws/options';
import type { RecorderOptions } from './recorder/index';

export type { SinkInputs } from './context';

/** Per-event lines on stdout. */
export type TerminalOptions = { format: 'table'; table: TableOptions } | { format: 'csv'; csv: CsvOptions } | { format: 'json' };

/** Every sink there is, present when asked for. */
export interface SinkOptions extends FleetOptions {
  terminal?: TerminalOptions;
  summary?: SummaryOptions;
  lifetimes?: { json: boolean };
  /** --listen: the dashboard and WebSocket stream */
  stream?: StreamOptions;
  /** --capture: the flight recorder */
  recorder?: RecorderOptions;
}

/** Whether these sinks read the stats engine (the caller then makes one and has the pipeline feed it). */
export function readsStats(options: SinkOptions): boolean {
  return Boolean(options.summary || options.stream);
}

function terminalSink(options: TerminalOptions, { out, capture }: SinkInputs): Sink {
  switch (options.format) {
    case 'csv': return new CsvSink(out, options.csv);
    case 'json': return new NdjsonSink(out, capture);
    default: return new TableSink(out, options.table);
  }
}

export async function buildSinks(options: SinkOptions, inputs: SinkInputs): Promise<Sink[]> {
  const { out, stats } = inputs;
  if (readsStats(options) && !stats) throw new Error('--summary and the stream need the stats engine (see readsStats)');
  const sinks: Sink[] = [];
  if (options.terminal) sinks.push(terminalSink(options.terminal, inputs));
  if (options.summary) sinks.push(new SummarySink(out, stats!, options.summary));
  if (options.lifetimes) sinks.push(new LifetimeSink(out, options.lifetimes.json));
  // The stream first: it sets the --listen server's token before /metrics can be served there.
  if (options.stream) {
    const { streamSink } = await import('./ws'); // the WebSocket server, only when asked for
    sinks.push(await streamSink(options.stream, inputs));
  }
  sinks.push(...(await fleetSinks(options, inputs)));
  if (options.recorder) {
    const { RecorderSink } = await import('./recorder/index');
    sinks.push(await RecorderSink.create(options.recorder, inputs));
  }
  return sinks;
}
