// One HTTP server per listen address, shared by the sinks that serve on it (the stream's
// page and /ws, /metrics). Each sink registers its own paths; none knows the others.
import http from 'node:http';
import type { Duplex } from 'node:stream';

export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface ListenAddress {
  host: string;
  port: number;
}

export interface SharedServer {
  server: http.Server;
  address: ListenAddress;
  /** Exact path, or a prefix ending in '/' (longest match wins). */
  route(path: string, handler: RouteHandler): void;
  upgrade(path: string, handler: UpgradeHandler): void;
  close(): Promise<void>;
}

const servers = new Map<string, Promise<SharedServer>>();

/** Parses "[HOST:]PORT" ("9090", "0.0.0.0:9090", "[::1]:9090"); default host 127.0.0.1. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]:|([^:[\]]+):)?(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

function pathOf(req: http.IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://x').pathname;
}

function match<T>(table: Map<string, T>, path: string): T | undefined {
  const exact = table.get(path);
  if (exact) return exact;
  let best: string | undefined;
  for (const key of table.keys()) if (key.endsWith('/') && path.startsWith(key) && (!best || key.length > best.length)) best = key;
  return best === undefined ? undefined : table.get(best);
}

/** Starts (or returns the already started) server for this address. */
export function sharedServer(address: ListenAddress): Promise<SharedServer> {
  const key = `${address.host}|${address.port}`;
  let pending = servers.get(key);
  if (!pending) {
    pending = start(address);
    servers.set(key, pending);
    pending.catch(() => servers.delete(key));
  }
  return pending;
}

async function start(address: ListenAddress): Promise<SharedServer> {
  const routes = new Map<string, RouteHandler>();
  const upgrades = new Map<string, UpgradeHandler>();
  const server = http.createServer((req, res) => {
    const handler = match(routes, pathOf(req));
    if (handler) return handler(req, res);
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  });
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    const handler = match(upgrades, pathOf(req));
    if (handler) return handler(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${address.host}:${address.port}: ${err.code ?? err.message}`)));
    server.listen(address.port, address.host, () => resolve());
  });
  const actual = server.address();
  const bound = typeof actual === 'object' && actual ? { host: address.host, port: actual.port } : address;
  return {
    server,
    address: bound,
    route: (path, handler) => void routes.set(path, handler),
    upgrade: (path, handler) => void upgrades.set(path, handler),
    close: () => new Promise<void>((r) => { servers.delete(`${address.host}|${address.port}`); server.close(() => r()); server.closeAllConnections?.(); }),
  };
}
