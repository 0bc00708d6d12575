// Which WebSocket clients the stream keeps: a client that stops answering pings is dropped, and
// when every client slot is taken a newcomer is let in by closing the least valuable client
// rather than refused (docs/STREAM.md, "Connection limits").
import { WebSocket } from 'ws';
import type { Client } from './client';

/** A client gets a ping this often and must answer before the next one. */
export const PING_INTERVAL_MS = 10_000;

/** Close code for a client closed to make room for a newer one (RFC 6455: try again later). */
export const EVICTED = 1013;

/**
 * Pings every client; one that did not answer the previous ping (a dead peer, a host that
 * vanished, a client that stopped reading its socket altogether) is dropped.
 */
export function pingClients(clients: Iterable<Client>): void {
  for (const c of clients) {
    if (c.ws.readyState !== WebSocket.OPEN) continue;
    if (c.awaitingPong) {
      c.ws.terminate();
      continue;
    }
    c.awaitingPong = true;
    c.ws.ping();
  }
}

/** Starts watching a new client's pongs and messages. */
export function watch(c: Client): void {
  c.ws.on('pong', () => { c.awaitingPong = false; });
}

/**
 * The client to close for a newcomer: first one whose send buffer is past the cap (it reads
 * nothing we send), then one that owes a pong, then one of the peer holding the most clients,
 * then the one that has said nothing for longest (a dashboard subscribes; an idle hoarder never
 * speaks).
 */
export function leastValuable(clients: Iterable<Client>, cap: number): Client | undefined {
  const perPeer = new Map<string, number>();
  for (const c of clients) perPeer.set(c.peerKey, (perPeer.get(c.peerKey) ?? 0) + 1);
  const worth = (c: Client): number[] => [
    c.ws.bufferedAmount > cap ? 0 : 1,
    c.awaitingPong ? 0 : 1,
    -(perPeer.get(c.peerKey) ?? 0),
    c.lastHeard,
  ];
  let victim: Client | undefined;
  let low: number[] | undefined;
  for (const c of clients) {
    const w = worth(c);
    if (!low || lessThan(w, low)) {
      victim = c;
      low = w;
    }
  }
  return victim;
}

function lessThan(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

/** Closes a client to make room: it is told why, and cut off if it does not close within 1 s. */
export function evict(c: Client): void {
  try {
    c.ws.close(EVICTED, 'server full: closed for a newer client');
  } catch {
    /* already closing */
  }
  setTimeout(() => c.ws.terminate(), 1000).unref();
}

/** Whether a full stream has a client to give way; with `make`, that client is closed now. */
export function roomFor(clients: Set<Client>, cap: number, make: boolean): boolean {
  const victim = leastValuable(clients, cap);
  if (!victim) return false;
  if (make) {
    clients.delete(victim);
    evict(victim);
  }
  return true;
}
