// The HTTP gate every tcptrace server applies before any route (src/http/access.ts): real
// servers on loopback, real requests.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sharedServer, type SharedServer } from '../../src/http/server';
import { AccessGate, guesserKey, isLoopbackAddress, tokenProblem } from '../../src/http/access';
import { ConnectionGuard, GUARD_LIMITS } from '../../src/http/guard';
import { originAllowed } from '../../src/sinks/ws/admission';

const started: SharedServer[] = [];
afterEach(async () => { for (const s of started.splice(0)) await s.close(); });

async function server(host: string, access?: Parameters<typeof sharedServer>[1]): Promise<SharedServer> {
  const s = await sharedServer({ host, port: 0 }, access);
  started.push(s);
  s.route('/metrics', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('up 1\n'));
  s.route('/', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>page</p>'));
  return s;
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function get(port: number, path: string, headers: Record<string, string> = {}, host = '127.0.0.1'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('token', () => {
  it('one rule: 8 to 256 printable characters without spaces', () => {
    for (const t of ['12345678', 'a'.repeat(256), '!~abc-._XYZ']) expect(tokenProblem(t), t).toBeUndefined();
    for (const t of ['', 'x', '1234567', 'a'.repeat(257), 'with space1', 'tab\there12', 'caf\u00e9caf\u00e9']) expect(tokenProblem(t), t).toBeDefined();
  });

  it('is needed on every path when set; query, bearer and the page cookie all work', async () => {
    const s = await server('127.0.0.1', { token: 'sesame-123' });
    const port = s.address.port;
    for (const path of ['/', '/metrics', '/nope']) expect((await get(port, path)).status, path).toBe(401);
    expect((await get(port, '/metrics', { authorization: 'Bearer sesame-123' })).status).toBe(200);
    const page = await get(port, '/?token=sesame-123');
    expect(page.status).toBe(200);
    const cookie = String(page.headers['set-cookie']);
    // named per port: a browser sends one host's cookies to every port, so two tcptraces on
    // one host would each get the other's token (a wrong one, counted towards the back-off)
    expect(cookie).toBe(`tcptrace_token_${port}=sesame-123; Path=/; HttpOnly; SameSite=Strict`);
    expect((await get(port, '/metrics', { cookie: `other=1; tcptrace_token_${port}=sesame-123` })).status).toBe(200);
    expect((await get(port, '/metrics', { cookie: `tcptrace_token_1=other-token; tcptrace_token_${port}=sesame-123` })).status).toBe(200);
    expect((await get(port, '/metrics', { cookie: `tcptrace_token_${port}=wrong-wrong` })).status).toBe(401);
  });

  it('two servers on one host each keep their own page cookie (browsers ignore the port)', async () => {
    const a = await server('127.0.0.1', { token: 'token-of-a' });
    const b = await server('127.0.0.2', { token: 'token-of-b' }); // another server (one per address)
    const jar = new Map<string, string>(); // one host's cookies, by name, as a browser keeps them
    for (const [s, token] of [[a, 'token-of-a'], [b, 'token-of-b']] as const) {
      const [pair] = String((await get(s.address.port, `/?token=${token}`, {}, s.address.host)).headers['set-cookie']).split(';');
      jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
    }
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    expect((await get(a.address.port, '/metrics', { cookie }, a.address.host)).status).toBe(200);
    expect((await get(b.address.port, '/metrics', { cookie }, b.address.host)).status).toBe(200);
  });

  it('an explicitly opened path is served without it', async () => {
    const s = await server('127.0.0.1', { token: 'sesame-123', openPaths: ['/metrics'] });
    expect((await get(s.address.port, '/metrics')).status).toBe(200);
    expect((await get(s.address.port, '/')).status).toBe(401);
  });

  it('an address that keeps guessing is told to wait (429, Retry-After) and loses the connection; the right token still passes', async () => {
    const s = await server('127.0.0.1', { token: 'sesame-123' });
    const port = s.address.port;
    for (let i = 0; i < 3; i++) expect((await get(port, '/?token=guess-000')).status).toBe(401);
    const blocked = await get(port, '/?token=guess-001');
    expect(blocked.status).toBe(429);
    expect(blocked.headers.connection).toBe('close');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await get(port, '/?token=sesame-123')).status).toBe(200); // the operator is not locked out
    expect((await get(port, '/?token=guess-002')).status).toBe(429); // nor is the guesser let off
  });

  it('the wait holds for the guesser, not for one address it picked (loopback, an IPv6 /64)', async () => {
    const s = await server('127.0.0.1', { token: 'sesame-123' });
    const port = s.address.port;
    const from = (localAddress: string) => new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/?token=guess-000', localAddress, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).on('error', reject);
    });
    for (const a of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) expect(await from(a), a).toBe(401);
    expect(await from('127.0.0.4')).toBe(429); // any user may pick any of 127.0.0.0/8
    expect(guesserKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(guesserKey('192.0.2.7')).toBe('192.0.2.7');
    expect(guesserKey('2001:db8:1:2:aaaa::1')).toBe(guesserKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(guesserKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(guesserKey('2001:db8:0:3::1')).not.toBe(guesserKey('2001:db8::1'));
    expect(guesserKey('::1')).toBe(guesserKey('127.0.0.1'));
  });
});

describe('Host allow-list on a loopback bind (DNS rebinding)', () => {
  it('serves loopback names and the bound address, refuses other names on every path', async () => {
    const s = await server('127.0.0.1');
    const port = s.address.port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, 'app.localhost', '127.0.0.2']) {
      expect((await get(port, '/metrics', { host })).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, 'evil.example', '127.0.0.1.evil.example', '10.0.0.1']) {
      for (const path of ['/', '/metrics', '/nope']) {
        const r = await get(port, path, { host });
        expect(r.status, `${host} ${path}`).toBe(403);
        expect(r.headers['x-content-type-options']).toBe('nosniff');
      }
    }
  });

  it('loopback is decided by the address bound, never by a name', async () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ['localhost', 'x.localhost', '0.0.0.0', '::', '10.0.0.1', '127.0.0.1.example']) expect(isLoopbackAddress(a), a).toBe(false);
    const named = await server('localhost'); // resolves to a loopback address: Host is checked
    expect(named.access.loopback).toBe(true);
    const ip = (named.server.address() as { address: string }).address; // 127.0.0.1 or ::1
    expect((await get(named.address.port, '/metrics', { host: 'evil.example' }, ip)).status).toBe(403);
    expect((await get(named.address.port, '/metrics', { host: 'localhost' }, ip)).status).toBe(200);
    const wide = await server('0.0.0.0'); // not loopback: the token is the guard, not Host
    expect(wide.access.loopback).toBe(false);
    expect((await get(wide.address.port, '/metrics', { host: 'tcptrace.example' })).status).toBe(200);
  });

  it('names added by the operator are accepted', async () => {
    const s = await server('127.0.0.1', { allowHosts: ['Tcptrace.Example', 'proxy.example:8443', '2001:db8::1', '[2001:db8::2]'] });
    expect((await get(s.address.port, '/metrics', { host: 'tcptrace.example:443' })).status).toBe(200);
    expect((await get(s.address.port, '/metrics', { host: 'proxy.example' })).status).toBe(200);
    expect((await get(s.address.port, '/metrics', { host: '[2001:db8::1]:8080' })).status).toBe(200);
    expect((await get(s.address.port, '/metrics', { host: '[2001:db8::2]' })).status).toBe(200);
    expect((await get(s.address.port, '/metrics', { host: '[2001:db8:]' })).status).toBe(403);
    expect((await get(s.address.port, '/metrics', { host: 'other.example' })).status).toBe(403);
  });

  it('a browser Origin on a loopback bind must name a host the allow-list accepts', () => {
    const gate = new AccessGate('127.0.0.1', { allowHosts: ['proxy.example'] });
    const none = new Set<string>();
    expect(originAllowed('http://127.0.0.1:8080', '127.0.0.1:8080', gate, none)).toBe(true);
    expect(originAllowed('http://[::1]:8080', '[::1]:8080', gate, none)).toBe(true);
    expect(originAllowed('https://proxy.example', 'proxy.example', gate, none)).toBe(true);
    expect(originAllowed('http://evil.example:8080', 'evil.example:8080', gate, none)).toBe(false);
    expect(originAllowed('http://127.0.0.1:8080', 'localhost:8080', gate, none)).toBe(false); // not the page's own origin
  });

  it('a WebSocket upgrade with a foreign Host is refused before any route', async () => {
    const s = await server('127.0.0.1');
    s.upgrade('/ws', (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n'));
    const reply = await new Promise<string>((resolve) => {
      const c = net.connect(s.address.port, '127.0.0.1', () => c.write(
        'GET /ws HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
      let text = '';
      c.on('data', (d) => (text += d));
      c.on('close', () => resolve(text));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 403 /);
    expect(reply).toMatch(/x-content-type-options: nosniff/i);
  });
});

describe('limits', () => {
  it('connections per peer: an IPv6 /64 is one peer; the peer over its share gives way, loopback is not capped', () => {
    let t = 0;
    const guard = new ConnectionGuard({ ...GUARD_LIMITS, maxPerPeer: 2 }, () => t);
    const sockets: FakeSocket[] = [];
    const open = (address: string) => { const s = fakeSocket(address); sockets.push(s); guard.admit(s as never); t += 1000; return s; };
    const a = open('2001:db8::1');
    open('2001:db8::2');
    const c = open('2001:db8:0:0:ffff::3');
    const other = open('2001:db8:1::1');
    for (let i = 0; i < 10; i++) open(`127.0.0.${i + 1}`);
    guard.enforce();
    expect(a.destroyed).toBe(true); // the oldest of the /64 that was over its share
    expect(c.destroyed || other.destroyed).toBe(false);
    expect(sockets.filter((s) => s.destroyed)).toHaveLength(1);
    guard.close();
  });

  it('when full, the least valuable gives way: slow headers, then silent, then idle; the untrusted have few slots and few seconds', () => {
    let t = 0;
    const guard = new ConnectionGuard({ ...GUARD_LIMITS, maxConnections: 4, maxUntrusted: 2 }, () => t);
    const open = (bytesRead = 0) => { const s = fakeSocket('127.0.0.1', bytesRead); guard.admit(s as never); t += 1000; return s; };
    const idle = open();
    guard.trust(idle as never);
    const ws = open();
    guard.trust(ws as never);
    guard.upgraded(ws as never);
    const silent = open();
    const slow = open(40);
    const fresh = open();
    guard.enforce(); // 5 open, 3 untrusted: the slow one goes first
    expect([slow.destroyed, silent.destroyed, fresh.destroyed, idle.destroyed, ws.destroyed]).toEqual([true, false, false, false, false]);
    const newest = open();
    guard.trust(newest as never);
    guard.enforce(); // 5 open again: the silent one, untrusted longest, goes
    expect([silent.destroyed, fresh.destroyed, idle.destroyed, ws.destroyed, newest.destroyed]).toEqual([true, false, false, false, false]);
    t += GUARD_LIMITS.untrustedMs;
    guard.sweep(); // the untrusted get a few seconds, the trusted keep theirs
    expect([fresh.destroyed, idle.destroyed, ws.destroyed, newest.destroyed]).toEqual([true, false, false, false]);
    guard.close();
  });

  it('every response says nosniff (404 too)', async () => {
    const s = await server('127.0.0.1');
    expect((await get(s.address.port, '/nope')).headers['x-content-type-options']).toBe('nosniff');
    expect((await get(s.address.port, '/metrics')).headers['x-content-type-options']).toBe('nosniff');
  });

  it(`with ${GUARD_LIMITS.maxConnections} silent connections open, a newcomer with a request is served and a silent one is closed`, async () => {
    const s = await server('127.0.0.1');
    const port = s.address.port;
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < GUARD_LIMITS.maxConnections; i++) {
        held.push(await new Promise<net.Socket>((r) => { const c = net.connect(port, '127.0.0.1', () => r(c)); c.on('error', () => {}); c.resume(); }));
      }
      await new Promise((r) => setTimeout(r, 400)); // past the grace a silent connection has
      expect((await get(port, '/metrics')).status).toBe(200);
      // the silent ones beyond the untrusted slots are closed (the sweep runs every 500 ms)
      const closed = () => held.filter((c) => c.destroyed || c.readableEnded).length;
      for (let i = 0; i < 40 && closed() < GUARD_LIMITS.maxConnections - GUARD_LIMITS.maxUntrusted; i++) await new Promise((r) => setTimeout(r, 50));
      expect(closed()).toBeGreaterThanOrEqual(GUARD_LIMITS.maxConnections - GUARD_LIMITS.maxUntrusted);
    } finally {
      for (const c of held) c.destroy();
    }
  });

  it('a connection that sends no request is closed after the untrusted time', async () => {
    const s = await server('127.0.0.1');
    const c = net.connect(s.address.port, '127.0.0.1');
    c.on('error', () => {});
    const t = Date.now();
    await new Promise((r) => c.on('close', r));
    const ms = Date.now() - t;
    expect(ms).toBeGreaterThanOrEqual(GUARD_LIMITS.untrustedMs - 100);
    expect(ms).toBeLessThan(GUARD_LIMITS.untrustedMs + 1500);
  }, 15_000);
});

type FakeSocket = { remoteAddress: string; bytesRead: number; destroyed: boolean; destroy(): void; once(e: string, f: () => void): void };

/** What the guard reads of a socket: its address, whether it sent anything, destroy and close. */
function fakeSocket(remoteAddress: string, bytesRead = 0): FakeSocket {
  const closers: (() => void)[] = [];
  return {
    remoteAddress, bytesRead, destroyed: false,
    destroy() { if (!this.destroyed) { this.destroyed = true; for (const f of closers) f(); } },
    once(_e, f) { closers.push(f); },
  };
}
