// One WebSocket client of the stream: its filter, sample and loss account, and the ways a
// message may be sent to it without its send buffer growing past the cap.
import { WebSocket } from 'ws';
import type { TcpEvent } from '../../decode/event';
import type { ClientFilter, LostMessage } from './protocol';
import type { Sampler } from './sampler';

/** How far past the cap replies to a client's own messages may go. */
const REPLY_SLACK = 64 * 1024;

export interface Client {
  ws: WebSocket;
  /** remote address:port, for diagnostics */
  peer: string;
  /** the peer as connection limits count it (an address, an IPv6 /64, loopback) */
  peerKey: string;
  /** when it last sent a message (its connection time before) */
  lastHeard: number;
  /** a ping went out and its pong has not come back (liveness.ts) */
  awaitingPong?: boolean;
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
  /** the N those events were left out under: none of them is in a 1-in-`unsentSample` sample */
  unsentSample: number;
}

/** Whether the client's send buffer is past the cap (its events are then counted, not sent). */
export function over(c: Client, cap: number): boolean {
  return c.ws.bufferedAmount > cap;
}

/**
 * Answers a client's own request. Replies may go REPLY_SLACK past the cap, so a client
 * flooded with events before its subscribe still hears back; a client that keeps sending
 * without reading hits the slack and gets nothing more (memory stays bounded).
 */
export function reply(c: Client, text: string, cap: number): void {
  if (c.ws.readyState === WebSocket.OPEN && c.ws.bufferedAmount <= cap + REPLY_SLACK) c.ws.send(text);
}

/** Sends a control message unless the client is over its cap (then it is skipped). */
export function send(c: Client, text: string, cap: number): boolean {
  if (c.ws.readyState !== WebSocket.OPEN || over(c, cap)) return false;
  c.ws.send(text);
  return true;
}

/** Tells the client how many events it missed, once it has room again (or regardless, at the end). */
export function flushLost(c: Client, cap: number, pastCap = false): void {
  if (c.missed === 0 || c.ws.readyState !== WebSocket.OPEN || (!pastCap && over(c, cap))) return;
  const msg: LostMessage = { type: 'lost', source: 'client', count: c.missed, total: c.missedTotal, of: c.missedOf };
  c.ws.send(JSON.stringify(msg));
  c.missed = 0;
  c.missedOf = 0;
}
