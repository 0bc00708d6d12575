// The WebSocket sink's own options and their defaults.
import type { ListenAddress } from '../../http/server';
import { PING_INTERVAL_MS } from './liveness';

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
  /** a client is pinged this often, and dropped when it has not answered the previous ping */
  pingIntervalMs: PING_INTERVAL_MS,
};

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
  pingIntervalMs?: number;
  /** Host names accepted on a loopback address besides loopback ones (src/http/access.ts). */
  allowHosts?: string[];
  /** Extra browser origins allowed besides the page's own (e.g. a reverse proxy's). */
  allowOrigins?: string[];
  /** What the `hello` message reports as the tracer's options. */
  options?: Record<string, unknown>;
}

/** The limits a StreamSink runs with: the options given, the defaults for the rest. */
export type StreamLimits = Required<Omit<StreamOptions, 'listen' | 'token' | 'allowHosts' | 'allowOrigins' | 'options'>>;

export function streamLimits(opts: StreamOptions): StreamLimits {
  return {
    maxClients: opts.maxClients ?? STREAM_DEFAULTS.maxClients,
    maxPayload: opts.maxPayload ?? STREAM_DEFAULTS.maxPayload,
    bufferCap: opts.bufferCap ?? STREAM_DEFAULTS.bufferCap,
    statsIntervalMs: opts.statsIntervalMs ?? STREAM_DEFAULTS.statsIntervalMs,
    chunkEvents: opts.chunkEvents ?? STREAM_DEFAULTS.chunkEvents,
    maxSample: opts.maxSample ?? STREAM_DEFAULTS.maxSample,
    pingIntervalMs: opts.pingIntervalMs ?? STREAM_DEFAULTS.pingIntervalMs,
  };
}
