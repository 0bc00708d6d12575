// `--listen`: the dashboard page and a WebSocket stream of events, stats and loss notices on
// the shared HTTP server. Protocol and security model: docs/STREAM.md.
//
// Every client has its own server-side filter, sample and loss account. A client that drains
// slower than its events arrive gets 1 connection in N (sampler.ts), announced in
// every `events` message; stats stay exact. A client that stops reading is never waited for:
// once its send buffer (ws bufferedAmount) passes the cap, the events meant for it are counted
// and dropped, and it gets one `lost` notice with the count as soon as its buffer has room
// again. Memory per client is bounded by the cap plus one frame.
import http from 'node:http';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { TcpEvent } from '../../event';
import { hostPort, refuseUpgrade, sharedServer, type ListenAddress, type SharedServer } from '../../http';
import { generateToken, isLoopbackHost } from '../../http-access';
import { originAllowed } from './admission';
import { EncodedBatch } from './encoded-batch';
import { inSample, Sampler, skaddrHash } from './sampler';
import { SCHEMA_VERSION } from '../../schema';
import { ByteWriter } from '../../util/bytes';
import { ringPeakFraction } from '../../delivery';
import type { StatsEngine } from '../../stats';
import { ArrowCounter } from './arrows';
import type { TracerStatus } from '../../status';
import {
  filterFromQuery, filterMatcher, parseClientMessage, ProtocolError, PROTOCOL_VERSION,
  type ClientFilter, type HelloMessage, type LostMessage,
} from './protocol';
import { SECURITY_HEADERS, staticHandler } from './static';
import type { Sink, Writer } from '../sink';
import type { SinkContext } from '../context';
import { VERSION } from '../../version';

export const STREAM_DEFAULTS = {
  maxClients: 16,
  /** largest frame a client may send (its messages are a few hundred bytes) */
  maxPayload: 16 * 1024,
  /** per-client send buffer above which its events are dropped */
  bufferCap: 1024 * 1024,
  statsIntervalMs: 1000,
  /** events per `events` frame at most */
  chunkEvents: 512,
  /** the largest 1-in-N sample a slow client is given (1: never sample) */
  maxSample: 1024,
};

/** How far past the cap replies to a client's own messages may go. */
const REPLY_SLACK = 64 * 1024;

export interface StreamOptions {
  listen: ListenAddress;
  /** Required on a non-loopback address; generated (and logged) there when absent. */
  token?: string;
  maxClients?: number;
  maxPayload?: number;
  bufferCap?: number;
  statsIntervalMs?: number;
  chunkEvents?: number;
  maxSample?: number;
  /** Host names accepted on a loopback address besides loopback ones (src/http-access.ts). */
  allowHosts?: string[];
  /** Extra browser origins allowed besides the page's own (e.g. a reverse proxy's). */
  allowOrigins?: string[];
  /** What the `hello` message reports as the tracer's options. */
  options?: Record<string, unknown>;
}

interface Client {
  ws: WebSocket;
  /** remote address:port, for diagnostics */
  peer: string;
  filter: ClientFilter;
  match?: (e: TcpEvent) => boolean;
  /** events dropped and not yet reported */
  missed: number;
  missedTotal: number;
  /** the events of its filter that the dropped messages stood for, not yet reported */
  missedOf: number;
  sampler: Sampler;
  /** events the filter took but the sample left out, not yet counted in a message's `of` */
  unsent: number;
}

export class StreamSink implements Sink {
  readonly url: string;
  readonly token?: string;
  private readonly bytes = new ByteWriter();
  private readonly clients = new Set<Client>();
  private readonly wss: WebSocketServer;
  private readonly limits: Required<Omit<StreamOptions, 'listen' | 'token' | 'allowHosts' | 'allowOrigins' | 'options'>>;
  private readonly allowOrigins: Set<string>;
  private pending = 0;
  private timer?: NodeJS.Timeout;
  private lastTick = performance.now();
  private lastEvents = 0;
  private lastInto: Record<string, number> = {};
  private readonly arrows = new ArrowCounter();
  private lastKernelLost = 0;
  private ended = false;
  /** The latest stats (without the per-client part), sent to newcomers right after hello. */
  private lastStats?: Record<string, unknown>;

  private constructor(
    private readonly server: SharedServer,
    private readonly tracer: TracerStatus,
    private readonly stats: StatsEngine,
    private readonly opts: StreamOptions,
  ) {
    this.limits = {
      maxClients: opts.maxClients ?? STREAM_DEFAULTS.maxClients,
      maxPayload: opts.maxPayload ?? STREAM_DEFAULTS.maxPayload,
      bufferCap: opts.bufferCap ?? STREAM_DEFAULTS.bufferCap,
      statsIntervalMs: opts.statsIntervalMs ?? STREAM_DEFAULTS.statsIntervalMs,
      chunkEvents: opts.chunkEvents ?? STREAM_DEFAULTS.chunkEvents,
      maxSample: opts.maxSample ?? STREAM_DEFAULTS.maxSample,
    };
    this.token = server.access.requiredToken;
    this.allowOrigins = new Set((opts.allowOrigins ?? []).map((o) => o.toLowerCase()));
    const shown = server.address.host === '0.0.0.0' || server.address.host === '::' ? os.hostname() : server.address.host;
    this.url = `http://${hostPort(shown, server.address.port)}/${this.token ? `?token=${encodeURIComponent(this.token)}` : ''}`;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxPayload, perMessageDeflate: false, clientTracking: false });
    this.lastKernelLost = tracer.counters().lost;
    const files = staticHandler();
    for (const p of ['/', '/index.html', '/app.js', '/style.css', '/favicon.svg', '/favicon.ico', '/vendor/']) server.route(p, files);
    server.upgrade('/ws', (req, socket, head) => this.onUpgrade(req, socket, head));
    server.route('/ws', (req, res) => {
      // A plain GET says why an upgrade with this query would be refused: browsers hide the
      // status of a failed WebSocket handshake, so the dashboard asks here (web/app.js).
      const refused = this.admissionError(req);
      if (refused) {
        res.writeHead(refused[0], { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
        return res.end(`${refused[1]}\n`);
      }
      res.writeHead(426, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket', connection: 'Upgrade' });
      res.end('this is a WebSocket endpoint (docs/STREAM.md)\n');
    });
    this.timer = setInterval(() => this.tick(), this.limits.statsIntervalMs);
    this.timer.unref();
  }

  /** Registers the page and /ws on the shared server for `opts.listen` (starting it if needed). */
  static async start(tracer: TracerStatus, stats: StatsEngine, opts: StreamOptions): Promise<StreamSink> {
    const server = await sharedServer(opts.listen, { token: opts.token, allowHosts: opts.allowHosts });
    // A non-loopback address never goes without a token: one is made up when none was given.
    // (The CLI starts the stream first, so until now that server had no routes: only 404s.)
    if (!server.access.requiredToken && !server.access.loopback) server.access.configure({ token: generateToken() });
    return new StreamSink(server, tracer, stats, opts);
  }

  get address(): ListenAddress {
    return this.server.address;
  }

  /** Per-client send buffer and loss account (for tests and diagnostics). */
  clientStats(): { peer: string; buffered: number; missed: number; missedTotal: number; sample: number; filter: ClientFilter }[] {
    return [...this.clients].map((c) => ({
      peer: c.peer, buffered: c.ws.bufferedAmount, missed: c.missed, missedTotal: c.missedTotal, sample: c.sampler.n, filter: c.filter,
    }));
  }

  // ---- admission ----------------------------------------------------------------------------

  /** Why this upgrade request may not become a client, or undefined if it may. */
  private admissionError(req: http.IncomingMessage): [number, string] | undefined {
    if (this.ended) return [503, 'tracer stopped'];
    // The token and Host were checked by the server before any route (src/http-access.ts).
    const url = new URL(req.url ?? '/', 'http://x');
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, req.headers.host, this.server.access, this.allowOrigins)) return [403, 'origin not allowed'];
    if (this.clients.size + this.pending >= this.limits.maxClients) return [503, `too many clients (at most ${this.limits.maxClients})`];
    try {
      filterFromQuery(url.searchParams);
    } catch (err) {
      return [400, err instanceof ProtocolError ? err.message : 'bad filter'];
    }
    return undefined;
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const refused = this.admissionError(req);
    if (refused) return refuseUpgrade(socket, refused[0], refused[1]);
    this.pending++;
    let settled = false;
    const settle = () => { if (!settled) { settled = true; this.pending--; } };
    socket.on('error', () => {});
    // handleUpgrade answers a bad handshake itself and never calls back: count it on close.
    socket.once('close', settle);
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const filter = filterFromQuery(new URL(req.url ?? '/', 'http://x').searchParams);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      settle();
      this.accept(ws, peer, filter);
    });
  }

  private accept(ws: WebSocket, peer: string, filter: ClientFilter): void {
    // N rises once an eighth of the cap is queued, leaving room for the frames of a batch
    // already under way, and falls after 2 s under 1/64 of it.
    const sampler = new Sampler({ high: this.limits.bufferCap / 8, low: this.limits.bufferCap / 64, maxN: this.limits.maxSample }, performance.now());
    const c: Client = { ws, peer, filter, match: filterMatcher(filter), missed: 0, missedTotal: 0, missedOf: 0, sampler, unsent: 0 };
    if (this.ended) return ws.close(1001, 'tracer stopped');
    this.clients.add(c);
    ws.on('error', () => {}); // too-big or invalid frames: ws closes the connection itself
    ws.on('close', () => this.clients.delete(c));
    ws.on('message', (data, isBinary) => this.onMessage(c, data, isBinary));
    this.send(c, JSON.stringify({ ...this.hello(), filter: c.filter }));
    if (this.lastStats) this.send(c, JSON.stringify({ ...this.lastStats, clients: this.clients.size, client: { missed: 0, sample: 1, filter: c.filter } }));
  }

  private hello(): HelloMessage {
    return {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      schema: SCHEMA_VERSION,
      version: VERSION,
      host: os.hostname(),
      kernel: os.release(),
      attach: this.tracer.attach,
      delivery: this.tracer.delivery,
      options: this.opts.options ?? {},
      limits: {
        max_clients: this.limits.maxClients,
        max_payload: this.limits.maxPayload,
        buffer_cap: this.limits.bufferCap,
        stats_interval_ms: this.limits.statsIntervalMs,
        max_sample: this.limits.maxSample,
      },
      time: new Date().toISOString(),
    };
  }

  private onMessage(c: Client, data: RawData, isBinary: boolean): void {
    if (isBinary) return this.error(c, 'binary frames are not accepted: send JSON text');
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as Buffer).toString('utf8');
    let msg;
    try {
      msg = parseClientMessage(text);
    } catch (err) {
      return this.error(c, err instanceof ProtocolError ? err.message : 'malformed message');
    }
    if (msg.type === 'subscribe') {
      c.filter = msg.filter;
      c.match = filterMatcher(msg.filter);
      this.reply(c, JSON.stringify({ type: 'subscribed', filter: msg.filter }));
    } else {
      this.reply(c, JSON.stringify({ type: 'pong', id: msg.id ?? null, time: new Date().toISOString() }));
    }
  }

  private error(c: Client, message: string): void {
    this.reply(c, JSON.stringify({ type: 'error', message }));
  }

  // ---- delivery -----------------------------------------------------------------------------

  private over(c: Client): boolean {
    return c.ws.bufferedAmount > this.limits.bufferCap;
  }

  /** Sends a control message unless the client is over its cap (then it is skipped). */
  /**
   * Answers a client's own request. Replies may go REPLY_SLACK past the cap, so a client
   * flooded with events before its subscribe still hears back; a client that keeps sending
   * without reading hits the slack and gets nothing more (memory stays bounded).
   */
  private reply(c: Client, text: string): void {
    if (c.ws.readyState === WebSocket.OPEN && c.ws.bufferedAmount <= this.limits.bufferCap + REPLY_SLACK) c.ws.send(text);
  }

  private send(c: Client, text: string): boolean {
    if (c.ws.readyState !== WebSocket.OPEN || this.over(c)) return false;
    c.ws.send(text);
    return true;
  }

  /** Tells the client how many events it missed, once it has room again (or regardless, at the end). */
  private flushLost(c: Client, pastCap = false): void {
    if (c.missed === 0 || c.ws.readyState !== WebSocket.OPEN || (!pastCap && this.over(c))) return;
    const msg: LostMessage = { type: 'lost', source: 'client', count: c.missed, total: c.missedTotal, of: c.missedOf };
    c.ws.send(JSON.stringify(msg));
    c.missed = 0;
    c.missedOf = 0;
  }

  /** A `lost` notice for kernel loss since the last one, if any. */
  private kernelLossNotice(lost: number): string | undefined {
    const count = lost - this.lastKernelLost;
    this.lastKernelLost = lost;
    return count > 0 ? JSON.stringify({ type: 'lost', source: 'kernel', count, total: lost } satisfies LostMessage) : undefined;
  }

  /** Sends the picked events, standing for `of` events of the client's filter, or counts them lost. */
  private deliver(c: Client, encoded: EncodedBatch, picked: number[], sample: number, of: number): void {
    if (this.over(c)) {
      c.missed += picked.length;
      c.missedTotal += picked.length;
      c.missedOf += of;
      return;
    }
    this.flushLost(c);
    const msg = encoded.message(picked, sample, of);
    c.sampler.sent(msg.length);
    c.ws.send(msg, { binary: false });
  }

  write(batch: TcpEvent[]): void {
    if (this.clients.size === 0 || batch.length === 0) return;
    this.bytes.moveTo(0); // nothing half-written survives a batch that threw
    const encoded = new EncodedBatch(this.bytes, batch);
    const chunk = this.limits.chunkEvents;
    const now = performance.now();
    let hashes: Uint32Array | undefined; // of each event's skaddr, made when a sample needs it
    for (const c of this.clients) {
      if (c.ws.readyState !== WebSocket.OPEN) continue;
      let n = c.sampler.adjust(c.ws.bufferedAmount, now);
      let picked: number[] = [];
      let of = c.unsent;
      for (let i = 0; i < batch.length; i++) {
        if (c.match && !c.match(batch[i])) continue;
        of++;
        if (n > 1) {
          hashes ??= batch.reduce((h, e, k) => ((h[k] = skaddrHash(e.skaddr)), h), new Uint32Array(batch.length));
          if (!inSample(hashes[i], n)) continue;
        }
        picked.push(i);
        if (picked.length >= chunk) {
          this.deliver(c, encoded, picked, n, of);
          picked = [];
          of = 0;
          n = c.sampler.adjust(c.ws.bufferedAmount, now); // one batch can be many frames
        }
      }
      c.unsent = 0;
      if (picked.length) this.deliver(c, encoded, picked, n, of);
      else c.unsent = of;
    }
  }

  /** Sends an empty `events` message for events the sample left out, so `of` adds up. */
  private flushUnsent(c: Client, pastCap = false): void {
    if (c.unsent === 0 || c.ws.readyState !== WebSocket.OPEN || (!pastCap && this.over(c))) return;
    this.bytes.moveTo(0);
    c.ws.send(new EncodedBatch(this.bytes, []).message([], c.sampler.n, c.unsent), { binary: false });
    c.unsent = 0;
  }

  /** Once per interval: kernel loss notices, pending client loss notices, stats. */
  private tick(): void {
    if (this.ended || this.clients.size === 0) return; // rates then span the quiet time
    const now = performance.now();
    const seconds = Math.max((now - this.lastTick) / 1000, 1e-3);
    this.lastTick = now;
    const counters = this.tracer.counters();
    const snap = this.stats.snapshot();
    const byState: Record<string, number> = {};
    for (const [state, n] of Object.entries(snap.intoState)) {
      const rate = (n - (this.lastInto[state] ?? 0)) / seconds;
      if (rate > 0) byState[state] = Math.round(rate * 100) / 100;
    }
    const rate = Math.round(((snap.events - this.lastEvents) / seconds) * 100) / 100;
    this.lastInto = snap.intoState;
    this.lastEvents = snap.events;
    const kernelNotice = this.kernelLossNotice(counters.lost);
    const base = {
      type: 'stats',
      time: new Date().toISOString(),
      interval_ms: Math.round(seconds * 1000),
      events: snap.events,
      rate,
      by_state: byState,
      into_state: snap.intoState,
      current: snap.current,
      census: snap.census,
      ...this.arrows.next(snap, seconds),
      handshake: { active: snap.handshake.active, passive: snap.handshake.passive },
      accept_wait: snap.acceptWait.all,
      failed_connects: { total: snap.failedConnects.total, by_cause: snap.failedConnects.byCause },
      closes: snap.closes,
      kernel: { seen: counters.seen, delivered: counters.delivered, lost: counters.lost, missed: counters.missed, ring_peak: ringPeak(this.tracer) },
      clients: this.clients.size,
    };
    this.lastStats = base;
    for (const c of this.clients) {
      if (kernelNotice) this.send(c, kernelNotice);
      this.flushLost(c);
      this.flushUnsent(c);
      this.send(c, JSON.stringify({ ...base, client: { missed: c.missedTotal, sample: c.sampler.n, filter: c.filter } }));
    }
  }

  /**
   * Stops the stream; the shared HTTP server stays up for the other sinks until exit. The
   * tracer is closed by now, so its counters are final: loss the last tick did not report is
   * sent, then each client is closed after what is queued for it. The promise resolves once
   * every client has closed (the CLI waits at most 2 s), so the last events are not cut off by
   * the process exiting.
   */
  end(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    const notice = this.kernelLossNotice(this.tracer.counters().lost);
    const closed: Promise<void>[] = [];
    for (const c of this.clients) {
      // Last words go out past the client's buffer cap: without them its counts would not add up.
      if (notice && c.ws.readyState === WebSocket.OPEN) c.ws.send(notice);
      this.flushLost(c, true);
      this.flushUnsent(c, true);
      closed.push(new Promise((resolve) => {
        if (c.ws.readyState === WebSocket.CLOSED) resolve();
        else c.ws.once('close', () => resolve());
      }));
      try {
        c.ws.close(1001, 'tracer stopped');
      } catch {
        c.ws.terminate();
      }
    }
    return Promise.all(closed).then(() => undefined);
  }

  /** end(), then drops every client and closes the HTTP server (tests, library use). */
  async close(): Promise<void> {
    void this.end();
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    this.wss.close();
    await this.server.close();
  }
}

/** Builds the sink for `--listen` from the CLI's plan; logs where to point a browser. */
export async function streamSink(ctx: SinkContext, listen: ListenAddress): Promise<StreamSink> {
  const { plan } = ctx;
  const sink = await StreamSink.start(ctx.status, ctx.stats(), {
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

export { SECURITY_HEADERS, isLoopbackHost };

/** The ring's high-water mark (fraction full, 3 decimals), null with a perf buffer. */
function ringPeak(tracer: TracerStatus): number | null {
  const peak = ringPeakFraction(tracer.deliveryStats());
  return peak === undefined ? null : Math.round(peak * 1000) / 1000;
}
