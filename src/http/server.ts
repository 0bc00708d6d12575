// One HTTP server per listen address, shared by the sinks that serve on it (the stream's
// page and /ws, /metrics). Each sink registers its own paths; none knows the others.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { AccessGate, HTTP_LIMITS, type AccessOptions, type Refusal } from './access';
import { ConnectionGuard } from './guard';
import type { ListenAddress } from './listen-address';

// Re-exported: option parsing imports them without loading node:http (start-up time).
export { parseListenAddress, type ListenAddress } from './listen-address';

export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface SharedServer {
  server: http.Server;
  address: ListenAddress;
  /** Exact path, or a prefix ending in '/' (longest match wins). */
  route(path: string, handler: RouteHandler): void;
  /** A route that any `route()` of the same path, before or after, replaces. */
  fallback(path: string, handler: RouteHandler): void;
  upgrade(path: string, handler: UpgradeHandler): void;
  /** Who may use the server: token, Host allow-list (src/http/access.ts). */
  access: AccessGate;
  /** Who keeps a connection slot when they run short (src/http/guard.ts). */
  guard: ConnectionGuard;
  close(): Promise<void>;
}

/** Sent with every response, refusals and 404s included. */
const NOSNIFF = 'x-content-type-options';

const servers = new Map<string, Promise<SharedServer>>();

function match<T>(table: Map<string, T>, path: string): T | undefined {
  const exact = table.get(path);
  if (exact) return exact;
  let best: string | undefined;
  for (const key of table.keys()) if (key.endsWith('/') && path.startsWith(key) && (!best || key.length > best.length)) best = key;
  return best === undefined ? undefined : table.get(best);
}

/**
 * Starts (or returns the already started) server for this address. `access` adds to its rules
 * before the caller registers anything; give it before the first request can matter.
 */
export async function sharedServer(address: ListenAddress, access?: AccessOptions): Promise<SharedServer> {
  const key = `${address.host}|${address.port}`;
  let pending = servers.get(key);
  if (!pending) {
    pending = start(address, access);
    servers.set(key, pending);
    pending.catch(() => servers.delete(key));
  }
  const server = await pending;
  if (access) server.access.configure(access);
  return server;
}

/** host:port, with brackets around an IPv6 host. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A refusal as a raw HTTP response on a socket that was to be upgraded. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): void {
  const body = `${reason}\n`;
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.on('error', () => {});
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n${NOSNIFF}: nosniff\r\n${extra}` +
    `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** A refused request also loses its connection: it holds no slot for its next attempt. */
function refuse(res: http.ServerResponse, r: Refusal): void {
  res.shouldKeepAlive = false;
  res.writeHead(r.status, { ...r.headers, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' }).end(`${r.reason}\n`);
}

async function start(address: ListenAddress, options?: AccessOptions): Promise<SharedServer> {
  const routes = new Map<string, RouteHandler>();
  const upgrades = new Map<string, UpgradeHandler>();
  const access = new AccessGate(address.host, options);
  const guard = new ConnectionGuard();
  const server = http.createServer({
    headersTimeout: HTTP_LIMITS.headersTimeoutMs,
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
    // how often the two timeouts above are checked (Node's default, 30 s, would stretch them)
    connectionsCheckingInterval: 1_000,
  }, (req, res) => {
    res.setHeader(NOSNIFF, 'nosniff');
    guard.requestStarted(req.socket);
    res.once('close', () => guard.requestDone(req.socket));
    const url = new URL(req.url ?? '/', 'http://x');
    const refused = access.check(req, url.pathname, url.searchParams);
    if (refused) return refuse(res, refused);
    guard.trust(req.socket);
    const cookie = access.cookieFor(url.searchParams);
    if (cookie) res.setHeader('set-cookie', cookie);
    const handler = match(routes, url.pathname);
    if (handler) return handler(req, res);
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  });
  // Before the HTTP parser sees the connection: room is made for it (src/http/guard.ts).
  server.prependListener('connection', (socket: Duplex) => guard.admit(socket));
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const refused = access.check(req, url.pathname, url.searchParams);
    if (refused) return refuseUpgrade(socket, refused.status, refused.reason, refused.headers);
    guard.trust(req.socket);
    const handler = match(upgrades, url.pathname);
    if (handler) {
      guard.upgraded(req.socket);
      return handler(req, socket, head);
    }
    refuseUpgrade(socket, 404, 'not found');
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${address.host}:${address.port}: ${err.code ?? err.message}`)));
    server.listen(address.port, address.host, () => resolve());
  });
  const actual = server.address();
  if (typeof actual === 'object' && actual) access.bound(actual.address, actual.port);
  const bound = typeof actual === 'object' && actual ? { host: address.host, port: actual.port } : address;
  return {
    server,
    address: bound,
    route: (path, handler) => void routes.set(path, handler),
    fallback: (path, handler) => { if (!routes.has(path)) routes.set(path, handler); },
    upgrade: (path, handler) => void upgrades.set(path, handler),
    access,
    guard,
    close: () => new Promise<void>((r) => {
      servers.delete(`${address.host}|${address.port}`);
      guard.close();
      server.close(() => r());
      server.closeAllConnections?.();
    }),
  };
}
