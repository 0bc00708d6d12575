// Who may use an HTTP server of tcptrace (the dashboard, /ws, /metrics): checked once per
// request or upgrade, before any route, so every path follows the same rules. The security
// model is written down in docs/STREAM.md and docs/FLEET.md.
//
// - Host allow-list on a loopback bind: a page that rebinds its own DNS name to 127.0.0.1
//   sends its name as Host, so only loopback names and addresses, the bound address and
//   names the operator added (--allow-host) are served; anything else gets 403.
// - A token, when set, is needed on every path but those opened explicitly
//   (--metrics-without-token): as ?token=, Authorization: Bearer, or the cookie the page sets.
//   Compared in constant time, before anything else: the right token always passes. A peer
//   that keeps sending wrong ones is answered 429 (and loses the connection each time).
import crypto from 'node:crypto';
import type http from 'node:http';

/** The page's cookie is named per port: browsers send a host's cookies to all of its ports. */
export const TOKEN_COOKIE = 'tcptrace_token';

/** Limits of every HTTP server (docs/STREAM.md). */
// (How many connections, and who gives way when they run short: src/http/guard.ts.)
export const HTTP_LIMITS = {
  /** time to send the request headers */
  headersTimeoutMs: 5_000,
  /** time to send a whole request */
  requestTimeoutMs: 10_000,
  /** an idle kept-alive connection is closed after this */
  keepAliveTimeoutMs: 5_000,
};

/** Wrong tokens an address may send before it has to wait; the wait doubles up to the cap. */
const FREE_FAILURES = 3;
const FIRST_WAIT_MS = 1_000;
const MAX_WAIT_MS = 30_000;
const MAX_TRACKED = 4096;

/** 127.0.0.0/8, ::1, localhost and *.localhost (with or without brackets). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** A numeric loopback address (127.0.0.0/8, ::1, ::ffff:127.x.y.z); names are not trusted here. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '');
  return a === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

// In its own module so that option parsing checks a token without loading node:crypto.
export { tokenProblem } from './access-token';

/**
 * Whose wrong tokens count together: one address, but all of loopback (127.0.0.0/8 and ::1,
 * which any local user may pick from) as one, an IPv6 client by its /64 (the block one host is
 * usually given), and an IPv4-mapped IPv6 address as the IPv4 address it is.
 */
export function guesserKey(address: string): string {
  const a = address.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (isLoopbackAddress(a)) return 'loopback';
  if (!a.includes(':')) return a;
  const halves = a.split('%')[0].split('::');
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const all = halves.length > 1 ? [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail] : head;
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export function generateToken(): string {
  return crypto.randomBytes(18).toString('base64url');
}

/** Constant-time comparison (hashes first, so lengths do not leak either). */
export function sameSecret(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

export interface AccessOptions {
  /** needed on every path but `openPaths` */
  token?: string;
  /** exact paths served without the token */
  openPaths?: string[];
  /** Host names accepted on a loopback bind besides loopback ones and the bound address */
  allowHosts?: string[];
}

export type Refusal = { status: number; reason: string; headers?: Record<string, string> };

/** Host header → the host name alone, lower case ("[::1]:8080" → "::1"). */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  const v6 = /^\[([^\]]*)\](?::\d+)?$/.exec(h);
  if (v6) return v6[1];
  return h.replace(/:\d+$/, '');
}

function cookie(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export class AccessGate {
  private token?: string;
  private readonly openPaths = new Set<string>();
  private readonly hosts = new Set<string>();
  private readonly failures = new Map<string, { count: number; last: number }>();

  /** Whether the server listens on a loopback address (decided by the address, not by a name). */
  private boundLoopback: boolean;

  /** `listenHost`: the host it was asked to listen on (an address or a name). */
  constructor(listenHost: string, options: AccessOptions = {}) {
    this.boundLoopback = isLoopbackAddress(listenHost);
    this.allowHost(listenHost);
    this.configure(options);
  }

  /** The cookie that carries the token: TOKEN_COOKIE, then _PORT once bound. */
  private cookieName = TOKEN_COOKIE;

  /** The address and port the server actually listens on, once it does. */
  bound(address: string, port?: number): void {
    if (port !== undefined) this.cookieName = `${TOKEN_COOKIE}_${port}`;
    this.boundLoopback = isLoopbackAddress(address);
    this.allowHost(address);
  }

  get loopback(): boolean {
    return this.boundLoopback;
  }

  /** A name, a name:port, an IPv4 address, or an IPv6 address with or without brackets. */
  private allowHost(host: string): void {
    const bareIpv6 = !host.startsWith('[') && host.indexOf(':') !== host.lastIndexOf(':');
    this.hosts.add(hostName(bareIpv6 ? `[${host}]` : host));
  }

  get requiredToken(): string | undefined {
    return this.token;
  }

  /** Adds to the rules (sinks sharing a server each bring theirs; a token, once set, stays). */
  configure(options: AccessOptions): void {
    if (options.token) this.token = options.token;
    for (const p of options.openPaths ?? []) this.openPaths.add(p);
    for (const h of options.allowHosts ?? []) this.allowHost(h);
  }

  /** Whether a host name (no port; IPv6 with or without brackets) may appear in Host on a loopback bind. */
  hostAllowed(name: string): boolean {
    const h = name.toLowerCase().replace(/^\[|\]$/g, '');
    return isLoopbackHost(h) || this.hosts.has(h);
  }

  /** Why this request may not be served, or undefined if it may. `path` is its URL path. */
  check(req: http.IncomingMessage, path: string, query: URLSearchParams): Refusal | undefined {
    if (this.loopback) {
      const host = req.headers.host;
      if (host === undefined) return { status: 403, reason: 'a Host header is required' };
      const name = hostName(host);
      if (!this.hostAllowed(name)) {
        return { status: 403, reason: `host '${name.slice(0, 64)}' not allowed (add it with --allow-host)` };
      }
    }
    if (!this.token || this.openPaths.has(path)) return undefined;
    // The token is looked at first: the right one passes whatever others sent from the same
    // peer (all of loopback is one), so a guesser's back-off never locks the operator out.
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const given = query.get('token') ?? bearer ?? cookie(req, this.cookieName);
    if (given === undefined || given === '') return { status: 401, reason: 'missing token (?token=, Authorization: Bearer, or the page\'s cookie)' };
    if (sameSecret(given, this.token)) return undefined;
    // A wrong one: the guesser's count grows; past the free ones it is told to wait (and, like
    // every refusal, loses its connection: each guess costs it a new one).
    const peer = guesserKey(req.socket.remoteAddress ?? '?');
    const wait = this.fail(peer, Date.now());
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      return { status: 429, reason: `too many wrong tokens: retry in ${seconds} s`, headers: { 'retry-after': String(seconds) } };
    }
    return { status: 401, reason: 'wrong token' };
  }

  /** A Set-Cookie value that lets the page's own files and /ws through after ?token= worked. */
  cookieFor(query: URLSearchParams): string | undefined {
    if (!this.token || query.get('token') === null) return undefined;
    return `${this.cookieName}=${encodeURIComponent(this.token)}; Path=/; HttpOnly; SameSite=Strict`;
  }

  /**
   * Counts a wrong token from `peer`; returns how long it is now told to wait (0 while it has
   * free tries). A count is forgotten once its peer has sent no wrong token for MAX_WAIT_MS.
   */
  private fail(peer: string, now: number): number {
    let record = this.failures.get(peer);
    if (!record || now > record.last + MAX_WAIT_MS) record = { count: 0, last: now };
    record.count++;
    record.last = now;
    this.failures.delete(peer); // re-inserted last: the oldest entries go first when full
    if (this.failures.size >= MAX_TRACKED) this.failures.delete(this.failures.keys().next().value as string);
    this.failures.set(peer, record);
    return record.count > FREE_FAILURES ? Math.min(FIRST_WAIT_MS * 2 ** (record.count - FREE_FAILURES - 1), MAX_WAIT_MS) : 0;
  }
}
