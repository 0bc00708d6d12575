// Who keeps a connection slot of tcptrace's HTTP server when there are not enough for everyone
// (docs/STREAM.md, "Connection limits"). A newcomer is never refused for want of a slot: the
// least valuable connection makes room for it, so whoever holds slots without using them (slow
// headers, idle keep-alives without the token, a flood from one peer) loses them first, and the
// operator's request, which passes the access check at once, is always served.
import type { Duplex } from 'node:stream';
import { guesserKey } from './access';

export const GUARD_LIMITS = {
  /** open connections at once (WebSocket clients included) */
  maxConnections: 64,
  /** of those, from one remote peer (an IPv4 address, an IPv6 /64); loopback is bounded by the total only */
  maxPerPeer: 16,
  /** of those, connections that have not yet passed the access check (token, Host) */
  maxUntrusted: 16,
  /** time a connection has to pass the access check before it is closed */
  untrustedMs: 3_000,
};

/** How long a new connection has before the limits are applied to it (see admit). */
const ENFORCE_AFTER_MS = 25;
/**
 * Past this many times maxConnections open, the limits apply at once and spare no one: the
 * bound on what a flood of new connections can hold (a few KiB each) before they are judged.
 */
const FLOOD_FACTOR = 4;
/** How long a connection that has sent nothing yet is spared by the limits (see enforce). */
const SILENT_GRACE_MS = 250;

type Socket = Duplex & { remoteAddress?: string; bytesRead?: number };

interface Tracked {
  socket: Socket;
  peer: string;
  opened: number;
  /** a request or upgrade on it passed the access check */
  trusted: boolean;
  /** an accepted WebSocket upgrade */
  ws: boolean;
  /** requests in flight */
  busy: number;
  /** when it last started a request (its opening time before) */
  lastActive: number;
}

/**
 * Lower is evicted first: a connection that sent part of a request and not the rest (slow
 * headers), then one that has sent nothing yet, then an idle kept-alive one, then one with a
 * request in flight, last a WebSocket client (the stream's own limit chooses among those,
 * src/sinks/ws/liveness.ts). A client that sends its request at once is parsed, checked and
 * trusted before it could ever rank with the slow ones.
 */
function rank(c: Tracked): number {
  if (!c.trusted) return c.socket.bytesRead ? -1 : 0;
  if (c.ws) return 3;
  return c.busy ? 2 : 1;
}

export class ConnectionGuard {
  private readonly open = new Map<Socket, Tracked>();
  private readonly perPeer = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  /** connections closed to make room, and for taking too long to pass the check */
  evicted = 0;
  expired = 0;

  constructor(private readonly limits = GUARD_LIMITS, private readonly now = () => performance.now()) {
    this.timer = setInterval(() => this.sweep(), Math.min(500, limits.untrustedMs / 2));
    this.timer.unref();
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * A new connection, before the HTTP parser sees it. The limits are enforced a moment later
   * (ENFORCE_AFTER_MS): by then a client that sent its request at once has been parsed, checked
   * and trusted, and the room is made at the expense of those that did not. Only a flood past
   * FLOOD_FACTOR times the limit is cut at once.
   */
  admit(socket: Socket): void {
    const peer = guesserKey(socket.remoteAddress ?? '?');
    const t = this.now();
    this.open.set(socket, { socket, peer, opened: t, trusted: false, ws: false, busy: 0, lastActive: t });
    this.perPeer.set(peer, (this.perPeer.get(peer) ?? 0) + 1);
    socket.once('close', () => this.forget(socket));
    if (this.open.size > FLOOD_FACTOR * this.limits.maxConnections) this.enforce();
    else this.pending ??= setTimeout(() => this.enforce(), ENFORCE_AFTER_MS);
  }

  /**
   * Closes the least valuable connections until every limit holds. A connection that has sent
   * nothing yet is spared for a moment (SILENT_GRACE_MS): on a loaded machine its request may
   * simply not have been read yet. Past FLOOD_FACTOR times the limit nothing is spared.
   */
  enforce(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    const flood = this.open.size > FLOOD_FACTOR * this.limits.maxConnections;
    const settled = this.now() - SILENT_GRACE_MS;
    const spared = (c: Tracked) => !flood && !c.trusted && !c.socket.bytesRead && c.opened >= settled;
    for (const [peer, n] of this.perPeer) {
      if (peer !== 'loopback' && n > this.limits.maxPerPeer) this.evict(n - this.limits.maxPerPeer, (c) => c.peer === peer && !spared(c));
    }
    this.evict(this.open.size - this.limits.maxConnections, (c) => !spared(c));
    this.evict(this.untrusted() - this.limits.maxUntrusted, (c) => !c.trusted && !spared(c));
    if (this.untrusted() > this.limits.maxUntrusted || this.open.size > this.limits.maxConnections) {
      this.pending = setTimeout(() => this.enforce(), SILENT_GRACE_MS);
    }
  }

  private evict(count: number, pool: (c: Tracked) => boolean): void {
    for (let i = 0; i < count; i++) {
      const victim = this.leastValuable(pool);
      if (!victim) return;
      this.evicted++;
      this.drop(victim);
    }
  }

  /** A request began on this connection. */
  requestStarted(socket: Socket): void {
    const c = this.open.get(socket);
    if (!c) return;
    c.busy++;
    c.lastActive = this.now();
  }

  requestDone(socket: Socket): void {
    const c = this.open.get(socket);
    if (c && c.busy > 0) c.busy--;
  }

  /** A request on this connection passed the access check (token, Host). */
  trust(socket: Socket): void {
    const c = this.open.get(socket);
    if (c) c.trusted = true;
  }

  /** This connection is now a WebSocket client. */
  upgraded(socket: Socket): void {
    const c = this.open.get(socket);
    if (c) c.ws = true;
  }

  /** Of the connections `pool` admits, the one to close first (see rank). */
  private leastValuable(pool: (c: Tracked) => boolean): Tracked | undefined {
    let best: Tracked | undefined;
    for (const c of this.open.values()) {
      if (!pool(c)) continue;
      if (!best || this.before(c, best)) best = c;
    }
    return best;
  }

  /** Whether `a` gives way before `b`: lower rank; then the peer holding more; then the longer idle. */
  private before(a: Tracked, b: Tracked): boolean {
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== rb) return ra < rb;
    const pa = this.perPeer.get(a.peer) ?? 0;
    const pb = this.perPeer.get(b.peer) ?? 0;
    if (pa !== pb) return pa > pb;
    return a.lastActive < b.lastActive;
  }

  private untrusted(): number {
    let n = 0;
    for (const c of this.open.values()) if (!c.trusted) n++;
    return n;
  }

  /** Closes connections that did not pass the check in time (slow headers, idle without a token). */
  sweep(): void {
    const limit = this.now() - this.limits.untrustedMs;
    for (const c of this.open.values()) {
      if (!c.trusted && c.opened < limit) {
        this.expired++;
        this.drop(c);
      }
    }
  }

  private drop(c: Tracked): void {
    this.forget(c.socket);
    c.socket.destroy();
  }

  private forget(socket: Socket): void {
    const c = this.open.get(socket);
    if (!c) return;
    this.open.delete(socket);
    const n = (this.perPeer.get(c.peer) ?? 1) - 1;
    if (n <= 0) this.perPeer.delete(c.peer);
    else this.perPeer.set(c.peer, n);
  }

  close(): void {
    clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
  }
}
