// Every sink there is, in one table: the options that ask for it, what it reads, and how it is
// built. What the sinks asked for read configures the rest (readsOf): the probe sends accept
// records, the census starts at attach, the stats engine, the connection tracker and the enrich
// stage run, only when some sink reads them. Each sink module is loaded only when asked for
// (the WebSocket server, prom-client and OpenTelemetry cost start-up time and memory), so this
// table can be read before the BPF load begins. Sinks know nothing of each other.
import { allReads, type Reads, type Sink } from './sink';
import type { SinkInputs } from './context';
import type { TableOptions } from './table';
import type { CsvOptions } from './csv';
import type { SummaryOptions } from './summary';
import type { LifetimeOptions } from './lifetimes';
import type { StreamOptions } from './ws/options';
import type { FleetOptions } from './fleet';
import type { RecorderOptions } from './recorder/index';

export type { SinkInputs } from './context';
export type { Reads } from './sink';

/** Per-event lines on stdout. */
export type TerminalOptions = { format: 'table'; table: TableOptions } | { format: 'csv'; csv: CsvOptions } | { format: 'json' };

/** Every sink there is, present when asked for. */
export interface SinkOptions extends FleetOptions {
  terminal?: TerminalOptions;
  summary?: SummaryOptions;
  lifetimes?: LifetimeOptions;
  /** --listen: the dashboard and WebSocket stream */
  stream?: StreamOptions;
  /** --capture: the flight recorder */
  recorder?: RecorderOptions;
}

interface SinkKind<O> {
  /** what it reads besides the batches (src/sinks/sink.ts, Reads) */
  reads: Reads | ((options: O) => Reads);
  build(options: O, inputs: SinkInputs): Promise<Sink>;
}

type SinkTable = { [K in keyof SinkOptions]-?: SinkKind<NonNullable<SinkOptions[K]>> };

/** What a capture holds besides the events (a replay's outputs need them): -j and --capture. */
const CAPTURE_READS: Reads = { cgroup: true, totals: true, open: true };

/** In build order: the stream before the metrics (it sets the --listen server's token before /metrics can be served there). */
const SINKS: SinkTable = {
  terminal: {
    // -j is a capture: the connections still open at the end too
    reads: (o) => (o.format === 'json' ? CAPTURE_READS : {}),
    async build(o, { out, capture }) {
      if (o.format === 'csv') return new (await import('./csv')).CsvSink(out, o.csv);
      if (o.format === 'json') return new (await import('./ndjson')).NdjsonSink(out, capture);
      return new (await import('./table')).TableSink(out, o.table);
    },
  },
  summary: {
    reads: { stats: true, open: true },
    build: async (o, { out, stats, openConnections }) => new (await import('./summary')).SummarySink(out, stats!, o, openConnections),
  },
  lifetimes: {
    reads: { finished: true, open: true, totals: true },
    build: async (o, { out, openConnections, log }) => new (await import('./lifetimes')).LifetimeSink(out, o, openConnections, log),
  },
  stream: {
    reads: { stats: true, cgroup: true },
    build: async (o, inputs) => (await import('./ws')).streamSink(o, inputs),
  },
  metrics: {
    reads: { finished: true, accepts: true, census: true, totals: true },
    build: async (o, inputs) => (await import('./fleet')).metricsSink(o, inputs),
  },
  journal: {
    reads: { cgroup: true },
    build: async (o, { log }) => (await import('./journal')).JournalSink.open(o.socket, log),
  },
  otlp: {
    reads: { finished: true, accepts: true, census: true, totals: true },
    build: async (o, { status, log, census, pressure }) => new (await import('./otlp')).OtlpSink(status, { ...o, census, pressure }, log),
  },
  recorder: {
    // and the accept records (a replay's accept-queue statistics)
    reads: { ...CAPTURE_READS, accepts: true },
    build: async (o, inputs) => (await import('./recorder/index')).RecorderSink.create(o, inputs),
  },
};

/** The sinks asked for, each with what it reads. */
function asked(options: SinkOptions): { key: keyof SinkOptions; kind: SinkKind<unknown>; options: unknown; reads: Reads }[] {
  return (Object.keys(SINKS) as (keyof SinkOptions)[]).flatMap((key) => {
    const o = options[key];
    if (o === undefined) return [];
    const kind = SINKS[key] as SinkKind<unknown>;
    return [{ key, kind, options: o, reads: typeof kind.reads === 'function' ? kind.reads(o) : kind.reads }];
  });
}

/** Everything the sinks asked for read (with what the stats engine reads, when one reads it). */
export function readsOf(options: SinkOptions): Reads {
  return allReads(asked(options).map((s) => s.reads));
}

export async function buildSinks(options: SinkOptions, inputs: SinkInputs): Promise<Sink[]> {
  const sinks: Sink[] = [];
  for (const s of asked(options)) {
    if (s.reads.stats && !inputs.stats) throw new Error(`the ${s.key} sink reads the stats engine: pass one (readsOf says which sinks do)`);
    const sink = await s.kind.build(s.options, inputs);
    sinks.push(Object.assign(sink, { reads: s.reads }));
  }
  return sinks;
}
