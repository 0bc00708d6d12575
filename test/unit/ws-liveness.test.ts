// Which WebSocket clients the stream keeps (src/sinks/ws/liveness.ts): a client that stops
// answering pings is dropped (a real ws pair, the client's automatic pong turned off), and a
// full stream closes its least valuable client for a newcomer.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { leastValuable, pingClients, watch } from '../../src/sinks/ws/liveness';
import type { Client } from '../../src/sinks/ws/client';

async function pair(autoPong: boolean): Promise<{ server: Client; client: WebSocket; close: () => void }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { autoPong });
  const [ws] = (await once(wss, 'connection')) as [WebSocket];
  const server = { ws, peerKey: 'loopback', lastHeard: 0 } as unknown as Client;
  watch(server);
  return { server, client, close: () => { client.terminate(); wss.close(); } };
}

const settle = () => new Promise((r) => setTimeout(r, 100));

describe('liveness', () => {
  it('a client that answers pings stays; one that does not is dropped at the next ping', async () => {
    const alive = await pair(true);
    const silent = await pair(false);
    for (let round = 0; round < 3; round++) {
      pingClients([alive.server, silent.server]);
      await settle();
    }
    expect(alive.server.ws.readyState).toBe(WebSocket.OPEN);
    expect(silent.server.ws.readyState).toBe(WebSocket.CLOSED);
    alive.close();
    silent.close();
  });

  it('the least valuable client: past its cap, then owing a pong, then of the biggest peer, then silent longest', () => {
    const c = (peerKey: string, lastHeard: number, over = false, awaitingPong = false) =>
      ({ peerKey, lastHeard, awaitingPong, ws: { bufferedAmount: over ? 2 : 0 } }) as unknown as Client;
    const quiet = c('a', 1);
    const talker = c('a', 5);
    const other = c('b', 0);
    expect(leastValuable([talker, quiet], 1)).toBe(quiet);
    expect(leastValuable([talker, quiet, other], 1)).toBe(quiet); // peer a holds two
    const owing = c('b', 9, false, true);
    expect(leastValuable([talker, quiet, owing], 1)).toBe(owing);
    const full = c('c', 9, true);
    expect(leastValuable([talker, quiet, owing, full], 1)).toBe(full);
  });
});
