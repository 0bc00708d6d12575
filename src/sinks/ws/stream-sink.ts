// The WebSocket stream of events, stats and loss notices, and the dashboard page, on the
// shared HTTP server. Protocol and security model: docs/STREAM.md.
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
import type { TcpEvent } from '../../decode/event';
import { hostPort, refuseUpgrade, sharedServer, type ListenAddress, type SharedServer } from '../../http/server';
import { generateToken, guesserKey } from '../../http/access';
import type { StatsEngine } from '../../derive/stats';
import type { StatusReport } from '../../status';
import { ByteWriter } from '../../format/bytes';
import type { Sink } from '../sink';
import { originAllowed } from './admission';
import { flushLost, over, reply, send, type Client } from './client';
import { pingClients, roomFor, watch } from './liveness';
import { EncodedBatch } from './encoded-batch';
import { helloMessage, StatsMessages } from './messages';
import { streamLimits, type StreamLimits, type StreamOptions } from './options';
import { filterFromQuery, filterMatcher, parseClientMessage, ProtocolError, type ClientFilter, type LostMessage } from './protocol';
import { inSample, Sampler, skaddrHash } from './sampler';
import { SECURITY_HEADERS, staticHandler } from './static';

export class StreamSink implements Sink {
  readonly url: string;
  readonly token?: string;
  private readonly bytes = new ByteWriter();
  private readonly clients = new Set<Client>();
  private readonly wss: WebSocketServer;
  private readonly limits: StreamLimits;
  private readonly allowOrigins: Set<string>;
  private pending = 0;
  private readonly statsMessage = new StatsMessages();
  private lastKernelLost = 0;
  private ended = false;
  /** Stats and loss notices go out on the pipeline's ticks, this often. */
  readonly tickMs: number;
  /** The latest stats (without the per-client part), sent to newcomers right after hello. */
  private lastStats?: Record<string, unknown>;
  private readonly pinger: NodeJS.Timeout;

  private constructor(
    private readonly server: SharedServer,
    /** The tracer when the stream started: its facts for hello, its loss so far. */
    private readonly started: StatusReport,
    private readonly stats: StatsEngine,
    private readonly opts: StreamOptions,
  ) {
    this.limits = streamLimits(opts);
    this.token = server.access.requiredToken;
    this.allowOrigins = new Set((opts.allowOrigins ?? []).map((o) => o.toLowerCase()));
    const shown = server.address.host === '0.0.0.0' || server.address.host === '::' ? os.hostname() : server.address.host;
    this.url = `http://${hostPort(shown, server.address.port)}/${this.token ? `?token=${encodeURIComponent(this.token)}` : ''}`;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxPayload, perMessageDeflate: false, clientTracking: false });
    this.tickMs = this.limits.statsIntervalMs;
    this.lastKernelLost = started.counters.lost;
    this.pinger = setInterval(() => pingClients(this.clients), this.limits.pingIntervalMs);
    this.pinger.unref();
    const files = staticHandler();
    for (const p of ['/', '/index.html', '/app.js', '/style.css', '/favicon.svg', '/favicon.ico', '/vendor/']) server.route(p, files);
    // The page asks whether a flight recorder runs (web/views/replay.js); without one, "no
    // content" rather than a 404 the browser would log as an error.
    server.fallback('/capture', (_req, res) => void res.writeHead(204).end());
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
  }

  /** Registers the page and /ws on the shared server for `opts.listen` (starting it if needed). */
  static async start(started: StatusReport, stats: StatsEngine, opts: StreamOptions): Promise<StreamSink> {
    const server = await sharedServer(opts.listen, { token: opts.token, allowHosts: opts.allowHosts });
    // A non-loopback address never goes without a token: one is made up when none was given.
    // (The CLI starts the stream first, so until now that server had no routes: only 404s.)
    if (!server.access.requiredToken && !server.access.loopback) server.access.configure({ token: generateToken() });
    return new StreamSink(server, started, stats, opts);
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

  /** Why this upgrade may not become a client; when full, `makeRoom` evicts for it (liveness.ts). */
  private admissionError(req: http.IncomingMessage, makeRoom = false): [number, string] | undefined {
    if (this.ended) return [503, 'tracer stopped'];
    // The token and Host were checked by the server before any route (src/http/access.ts).
    const url = new URL(req.url ?? '/', 'http://x');
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, req.headers.host, this.server.access, this.allowOrigins)) return [403, 'origin not allowed'];
    try {
      filterFromQuery(url.searchParams);
    } catch (err) {
      return [400, err instanceof ProtocolError ? err.message : 'bad filter'];
    }
    if (this.clients.size + this.pending < this.limits.maxClients) return undefined;
    return roomFor(this.clients, this.limits.bufferCap, makeRoom) ? undefined : [503, `too many clients (at most ${this.limits.maxClients})`];
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const refused = this.admissionError(req, true);
    if (refused) return refuseUpgrade(socket, refused[0], refused[1]);
    this.pending++;
    let settled = false;
    const settle = () => { if (!settled) { settled = true; this.pending--; } };
    socket.on('error', () => {});
    // handleUpgrade answers a bad handshake itself and never calls back: count it on close.
    socket.once('close', settle);
    const peer = { text: `${req.socket.remoteAddress}:${req.socket.remotePort}`, key: guesserKey(req.socket.remoteAddress ?? '?') };
    const filter = filterFromQuery(new URL(req.url ?? '/', 'http://x').searchParams);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      settle();
      this.accept(ws, peer, filter);
    });
  }

  private accept(ws: WebSocket, peer: { text: string; key: string }, filter: ClientFilter): void {
    // N rises once an eighth of the cap is queued, leaving room for the frames of a batch
    // already under way, and falls after 2 s under 1/64 of it.
    const sampler = new Sampler({ high: this.limits.bufferCap / 8, low: this.limits.bufferCap / 64, maxN: this.limits.maxSample }, performance.now());
    const c: Client = { ws, peer: peer.text, peerKey: peer.key, lastHeard: performance.now(), filter, match: filterMatcher(filter),
      missed: 0, missedTotal: 0, missedOf: 0, sampler, unsent: 0, unsentSample: 1 };
    if (this.ended) return ws.close(1001, 'tracer stopped');
    this.clients.add(c);
    watch(c);
    ws.on('error', () => {}); // too-big or invalid frames: ws closes the connection itself
    ws.on('close', () => this.clients.delete(c));
    ws.on('message', (data, isBinary) => this.onMessage(c, data, isBinary));
    send(c, JSON.stringify({ ...helloMessage(this.started, this.opts.options ?? {}, this.limits), filter: c.filter }), this.limits.bufferCap);
    if (this.lastStats) send(c, JSON.stringify({ ...this.lastStats, clients: this.clients.size, client: { missed: 0, sample: 1, filter: c.filter } }), this.limits.bufferCap);
  }

  private onMessage(c: Client, data: RawData, isBinary: boolean): void {
    c.lastHeard = performance.now();
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
      reply(c, JSON.stringify({ type: 'subscribed', filter: msg.filter }), this.limits.bufferCap);
    } else {
      reply(c, JSON.stringify({ type: 'pong', id: msg.id ?? null, time: new Date().toISOString() }), this.limits.bufferCap);
    }
  }

  private error(c: Client, message: string): void {
    reply(c, JSON.stringify({ type: 'error', message }), this.limits.bufferCap);
  }

  /** A `lost` notice for kernel loss since the last one, if any. */
  private kernelLossNotice(lost: number): string | undefined {
    const count = lost - this.lastKernelLost;
    this.lastKernelLost = lost;
    return count > 0 ? JSON.stringify({ type: 'lost', source: 'kernel', count, total: lost } satisfies LostMessage) : undefined;
  }

  /** Sends the picked events, standing for `of` events of the client's filter, or counts them lost. */
  private deliver(c: Client, encoded: EncodedBatch, picked: number[], sample: number, of: number): void {
    if (over(c, this.limits.bufferCap)) {
      c.missed += picked.length;
      c.missedTotal += picked.length;
      c.missedOf += of;
      return;
    }
    flushLost(c, this.limits.bufferCap);
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
      // Events left out under a larger N may be in a smaller N's sample: they go out on their
      // own, announced with the N they were left out under, before this batch counts any.
      if (c.unsent && n < c.unsentSample) this.flushUnsent(c, true);
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
      else {
        c.unsent = of;
        c.unsentSample = n; // any carried in were left out under an N no larger (flushed above)
      }
    }
  }

  /** Sends an empty `events` message for events the sample left out, so `of` adds up. */
  private flushUnsent(c: Client, pastCap = false): void {
    if (c.unsent === 0 || c.ws.readyState !== WebSocket.OPEN || (!pastCap && over(c, this.limits.bufferCap))) return;
    // As EncodedBatch writes an empty message, without its buffer: a batch may be half-sent.
    c.ws.send(`{"type":"events","events":[],"sample":${c.unsentSample},"of":${c.unsent}}`, { binary: false });
    c.unsent = 0;
  }

  /** Once per interval: kernel loss notices, pending client loss notices, stats. */
  tick(status: StatusReport): void {
    if (this.ended || this.clients.size === 0) return; // rates then span the quiet time
    const kernelNotice = this.kernelLossNotice(status.counters.lost);
    const base = this.statsMessage.next(this.stats.snapshot(), status, this.clients.size);
    this.lastStats = base;
    for (const c of this.clients) {
      if (kernelNotice) send(c, kernelNotice, this.limits.bufferCap);
      flushLost(c, this.limits.bufferCap);
      this.flushUnsent(c);
      send(c, JSON.stringify({ ...base, client: { missed: c.missedTotal, sample: c.sampler.n, filter: c.filter } }), this.limits.bufferCap);
    }
  }

  /**
   * Stops the stream; the shared HTTP server stays up for the other sinks until exit. The
   * tracer is closed by now, so the counters given are final: loss the last tick did not report
   * is sent, then each client is closed after what is queued for it. The promise resolves once
   * every client has closed (the CLI waits at most 2 s), so the last events are not cut off by
   * the process exiting.
   */
  end(status?: StatusReport): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    clearInterval(this.pinger);
    const notice = status && this.kernelLossNotice(status.counters.lost);
    const closed: Promise<void>[] = [];
    for (const c of this.clients) {
      // Last words go out past the client's buffer cap: without them its counts would not add up.
      if (notice && c.ws.readyState === WebSocket.OPEN) c.ws.send(notice);
      flushLost(c, this.limits.bufferCap, true);
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
  async close(status?: StatusReport): Promise<void> {
    void this.end(status);
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    this.wss.close();
    await this.server.close();
  }
}
