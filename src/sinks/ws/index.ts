// `--listen`: the dashboard page and a WebSocket stream of events, stats and loss notices
// (docs/STREAM.md). This folder is the whole sink: stream-sink.ts (clients, delivery, ticks),
// client.ts (one client's sends), admission.ts, protocol.ts, messages.ts, encoded-batch.ts,
// sampler.ts, arrows.ts, static.ts (the page's files), options.ts.
import type { ListenAddress } from '../../http';
import { statusReport } from '../../status';
import type { SinkContext } from '../context';
import type { Writer } from '../sink';
import { StreamSink } from './stream-sink';

export { StreamSink } from './stream-sink';
export { STREAM_DEFAULTS, type StreamOptions } from './options';
export { SECURITY_HEADERS } from './static';
export { isLoopbackHost } from '../../http-access';

/** Builds the sink for `--listen` from the CLI's plan; logs where to point a browser. */
export async function streamSink(ctx: SinkContext, listen: ListenAddress): Promise<StreamSink> {
  const { plan } = ctx;
  const sink = await StreamSink.start(statusReport(ctx.status), ctx.stats(), {
    listen,
    token: plan.token,
    maxClients: plan.maxClients,
    allowHosts: plan.allowHosts,
    options: { filter: plan.filter, attach: plan.attach, perf_buffer: plan.perfBuffer, ring_bytes: plan.ringBytes ?? null },
  });
  logStart(ctx.log, sink, plan.token !== undefined);
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

