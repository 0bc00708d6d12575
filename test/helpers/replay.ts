// Replays a capture through the real pipeline and sinks, in this process and without root:
// what `tcptrace --replay FILE` runs, with stdout collected.
import { ReplaySource } from '../../src/source/replay';
import { SocketCensus } from '../../src/census/census';
import { StatsEngine } from '../../src/derive/stats';
import { Pipeline } from '../../src/pipeline';
import { buildSinks, readsOf, type SinkOptions } from '../../src/sinks';
import { statusOnly } from '../../src/status';
import type { KernelFilter } from '../../src/probe/config';

export interface Replayed {
  out: string;
  log: string[];
  source: ReplaySource;
}

export interface ReplayRun {
  filter?: KernelFilter;
  speed?: number;
  /** runs once the sinks are built, before the first event (a client connects) */
  ready?: (sinks: Awaited<ReturnType<typeof buildSinks>>) => Promise<void>;
  /** runs after the last event, before the sinks end (a scrape) */
  after?: () => Promise<void>;
}

export async function replay(path: string, options: SinkOptions, run: ReplayRun = {}): Promise<Replayed> {
  const source = await ReplaySource.open(path, { filter: run.filter, speed: run.speed });
  const chunks: string[] = [];
  const log: string[] = [];
  const out = (c: string | Uint8Array) => { chunks.push(typeof c === 'string' ? c : Buffer.from(c).toString('utf8')); };
  const reads = readsOf(options);
  const census = reads.census ? new SocketCensus(run.filter, () => { const c = source.counters(); return c.lost + c.missed; }, source.census) : undefined;
  const stats = reads.stats ? new StatsEngine(10, census) : undefined;
  const sinks = await buildSinks(options, { status: statusOnly(source), out, log: (l) => log.push(l), stats, census });
  const pipeline = new Pipeline(source, sinks, { census, stats });
  await run.ready?.(sinks);
  const ended = new Promise<void>((r) => source.once('end', () => r()));
  await source.run();
  await ended;
  await run.after?.();
  source.close();
  census?.close();
  await Promise.all(pipeline.end());
  return { out: chunks.join(''), log, source };
}
