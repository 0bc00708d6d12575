// `--listen`: the dashboard page and a WebSocket stream of events, stats and loss notices
// (docs/STREAM.md). This folder is the whole sink: stream-sink.ts (clients, delivery, ticks),
// client.ts (one client's sends), admission.ts, protocol.ts, messages.ts, encoded-batch.ts,
// sampler.ts, arrows.ts, static.ts (the page's files), options.ts.
import { statusReport } from '../../status';
import type { SinkInputs } from '../context';
import type { Writer } from '../sink';
import type { StreamOptions } from './options';
import { StreamSink } from './stream-sink';

export { StreamSink } from './stream-sink';
export { STREAM_DEFAULTS, type StreamOptions } from './options';
export { SECURITY_HEADERS } from './static';
export { isLoopbackHost } from '../../http/access';

/** Builds the sink for `--listen`; logs where to point a browser. */
export async function streamSink(options: StreamOptions, inputs: SinkInputs): Promise<StreamSink> {
  if (!inputs.stats) throw new Error('the stream needs the stats engine');
  const sink = await StreamSink.start(statusReport(inputs.status), inputs.stats, options);
  logStart(inputs.log, sink, options.token !== undefined);
  return sink;
}

/** The URL on stderr (often a log others read): with a token only when tcptrace made it up. */
export function startMessage(url: string, tokenGiven: boolean): string {
  return tokenGiven ? `dashboard at ${url.split('?')[0]}?token=… (your token; WebSocket at /ws)` : `dashboard at ${url} (WebSocket at /ws)`;
}

function logStart(log: Writer, sink: StreamSink, tokenGiven: boolean): void {
  log(startMessage(sink.url, tokenGiven && sink.token !== undefined));
  if (sink.token && !tokenGiven) log(`generated access token for a non-loopback address: ${sink.token}`);
}

