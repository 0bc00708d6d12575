// The stream's pure parts: client message validation, per-client filters, loopback
// detection, --listen options, and the static file table.
import { describe, expect, it } from 'vitest';
import type { TcpEvent } from '../../src/decode/event';
import { parseArgs, UsageError } from '../../src/command/options';
import { isLoopbackHost } from '../../src/sinks/ws';
import { filterFromQuery, filterMatcher, parseClientMessage, ProtocolError } from '../../src/sinks/ws/protocol';
import { staticFiles } from '../../src/sinks/ws/static';
import { inSample, Sampler, skaddrHash } from '../../src/sinks/ws/sampler';
import fs from 'node:fs';
import { recordZeros } from '../helpers/sample';

function ev(over: Partial<TcpEvent>): TcpEvent {
  return {
    ...recordZeros(),
    tsNs: 1, time: 0, skaddr: 'ff', pid: 10, comm: 'curl', ownerSource: 'kernel', cgroupId: 0, cpuPid: 10, cpuTid: 10,
    cpuComm: 'curl', family: 4, saddr: '127.0.0.1', sport: 40000, daddr: '127.0.0.1', dport: 80, oldState: 2,
    newState: 1, durationNs: null, netns: 1, sockIno: 1, rttUs: 0, handshakeUs: 0, error: 0, cause: '',
    timeWait: false, side: 'active', synRetrans: 0, synackRetrans: 0, acceptWaitUs: 0, holders: null, isAccept: false, ...over,
  } as TcpEvent;
}

describe('client messages', () => {
  it('parses subscribe and ping, normalizing state names', () => {
    expect(parseClientMessage('{"type":"subscribe","filter":{"ports":[80],"states":["syn-sent","Close"],"family":6,"pid":3,"comm":"nginx"}}'))
      .toEqual({ type: 'subscribe', filter: { ports: [80], states: ['SYN_SENT', 'CLOSE'], family: 6, pid: 3, comm: 'nginx' } });
    expect(parseClientMessage('{"type":"subscribe"}')).toEqual({ type: 'subscribe', filter: {} });
    expect(parseClientMessage('{"type":"ping","id":7}')).toEqual({ type: 'ping', id: 7 });
  });

  it.each([
    ['', /JSON/], ['nope', /JSON/], ['[1]', /object/], ['"x"', /object/], ['null', /object/], ['{}', /type/],
    ['{"type":"x"}', /unknown message type/], ['{"type":{}}', /type/],
    ['{"type":"subscribe","filter":[]}', /object/], ['{"type":"subscribe","filter":{"port":1}}', /unknown filter field/],
    ['{"type":"subscribe","filter":{"ports":"80"}}', /ports/], ['{"type":"subscribe","filter":{"ports":[1.5]}}', /ports/],
    ['{"type":"subscribe","filter":{"ports":[-1]}}', /ports/], [`{"type":"subscribe","filter":{"ports":[${Array(65).fill(1)}]}}`, /ports/],
    ['{"type":"subscribe","filter":{"pid":"1"}}', /pid/], ['{"type":"subscribe","filter":{"comm":""}}', /comm/],
    ['{"type":"subscribe","filter":{"comm":5}}', /comm/], ['{"type":"subscribe","filter":{"states":["NOPE"]}}', /unknown state/],
    ['{"type":"subscribe","filter":{"states":[1]}}', /unknown state/], ['{"type":"subscribe","filter":{"family":5}}', /family/],
    ['{"type":"ping","id":{}}', /id/], ['{"type":"subscribe","filter":{"__proto__":{"x":1}}}', /unknown filter field/],
  ])('refuses %s', (text, why) => {
    expect(() => parseClientMessage(text)).toThrow(ProtocolError);
    expect(() => parseClientMessage(text)).toThrow(why);
  });
});

describe('filter in the /ws URL', () => {
  const q = (text: string) => filterFromQuery(new URLSearchParams(text));
  it('reads the subscribe fields and ignores the token', () => {
    expect(q('')).toEqual({});
    expect(q('token=abc')).toEqual({});
    expect(q('ports=80,443&states=established,close&pid=7&comm=nginx&family=6'))
      .toEqual({ ports: [80, 443], states: ['ESTABLISHED', 'CLOSE'], pid: 7, comm: 'nginx', family: 6 });
  });
  it.each(['ports=x', 'ports=99999', 'pid=-1', 'pid=abc', 'family=5', 'states=NOPE', 'colour=red', 'ports=1&ports=2', 'comm='])('refuses %s', (text) => {
    expect(() => q(text)).toThrow(ProtocolError);
  });
});

describe('client filter', () => {
  it('lets everything through when empty', () => {
    expect(filterMatcher({})).toBeUndefined();
    expect(filterMatcher({ ports: [], states: [] })).toBeUndefined();
  });

  it('matches ports at either end, states, pid, comm and family together', () => {
    const m = filterMatcher({ ports: [80], states: ['ESTABLISHED'], pid: 10, comm: 'curl', family: 4 })!;
    expect(m(ev({}))).toBe(true);
    expect(m(ev({ sport: 80, dport: 5000 }))).toBe(true);
    expect(m(ev({ dport: 81 }))).toBe(false);
    expect(m(ev({ newState: 7 }))).toBe(false);
    expect(m(ev({ pid: 11 }))).toBe(false);
    expect(m(ev({ comm: 'wget' }))).toBe(false);
    expect(m(ev({ family: 6 }))).toBe(false);
  });
});

describe('addresses and options', () => {
  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '127.0.0.1.example.com', 'fe80::1']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('parses --listen, --token and --max-clients', () => {
    expect(parseArgs(['--listen', '8080'])).toMatchObject({ listen: { host: '127.0.0.1', port: 8080 } });
    expect(parseArgs(['--listen', '0.0.0.0:9', '--token', 'abcdefgh', '--max-clients', '3']))
      .toMatchObject({ listen: { host: '0.0.0.0', port: 9 }, token: 'abcdefgh', maxClients: 3 });
    expect(parseArgs(['--listen', '[::1]:80']).listen).toEqual({ host: '::1', port: 80 });
    expect(parseArgs([]).listen).toBeUndefined();
    expect(() => parseArgs(['--listen', 'x:y'])).toThrow(UsageError);
    expect(() => parseArgs(['--listen', '70000'])).toThrow(UsageError);
    expect(() => parseArgs(['--token', 'abcdefgh'])).toThrow(/need --listen/);
    expect(() => parseArgs(['--listen', '1', '--token', 'short'])).toThrow(/8 to 256/);
    expect(() => parseArgs(['--listen', '1', '--max-clients', '0'])).toThrow(UsageError);
  });
});

describe('static files', () => {
  it('maps a fixed set of paths to files that exist', () => {
    const files = staticFiles();
    for (const [p, file] of files) expect(fs.existsSync(file), `${p} → ${file}`).toBe(true);
    expect(files.has('/vendor/uPlot.iife.min.js')).toBe(true);
  });

  it('keeps event data out of innerHTML in the page scripts, and serves every script index.html loads', () => {
    const files = staticFiles();
    const scripts = [...files].filter(([p]) => p.endsWith('.js') && !p.startsWith('/vendor/'));
    expect(scripts.map(([p]) => p)).toEqual(expect.arrayContaining(['/app.js', '/core.js', '/views/events.js']));
    for (const [, file] of scripts) {
      const text = fs.readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '');
      expect([file, text]).not.toEqual([file, expect.stringMatching(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/)]);
    }
    const html = fs.readFileSync(files.get('/index.html')!, 'utf8');
    for (const [, src] of html.matchAll(/<script src="([^"]+)"/g)) expect(files.has(`/${src}`), src).toBe(true);
  });
});

describe('sampling a slow client', () => {
  const limits = { high: 1000, low: 100, maxN: 1024, windowMs: 10, lowerAfterMs: 100 };

  it('raises N as the buffer grows past the threshold, and lowers it by halves once the client keeps up', () => {
    const s = new Sampler(limits, 0);
    expect(s.adjust(500, 2)).toBe(1);
    // within a window: 4x per high/2 of growth since the last raise
    expect(s.adjust(1200, 4)).toBe(4);
    expect(s.adjust(1400, 6)).toBe(4);
    expect(s.adjust(1700, 8)).toBe(16);
    // at the window's end: 4000 sent, 2300 drained: the power of two over 2 x 4000/2300
    s.sent(4000);
    expect(s.adjust(1700, 10)).toBe(64);
    // over the threshold but shrinking: no change
    s.sent(100);
    expect(s.adjust(1500, 20)).toBe(64);
    // nothing drained in a window: 8x per window, up to maxN
    s.sent(500);
    expect(s.adjust(2000, 30)).toBe(512);
    s.sent(500);
    expect(s.adjust(2500, 40)).toBe(1024);
    // kept under `low` for lowerAfterMs: halves, one step per period
    expect(s.adjust(50, 60)).toBe(1024);
    expect(s.adjust(50, 139)).toBe(1024);
    expect(s.adjust(50, 150)).toBe(512);
    expect(s.adjust(50, 160)).toBe(512);
    expect(s.adjust(50, 255)).toBe(256);
    // a buffer above `low` restarts the wait
    expect(s.adjust(500, 300)).toBe(256);
    expect(s.adjust(50, 390)).toBe(256);
    expect(s.adjust(50, 400)).toBe(128);
  });

  it('samples whole connections, and a larger N keeps a subset of a smaller one', () => {
    const addrs = Array.from({ length: 4096 }, (_, i) => (0xffff8a0c4e1a0000n + BigInt(i) * 2368n).toString(16));
    const kept = (n: number) => addrs.filter((a) => inSample(skaddrHash(a), n));
    expect(kept(1)).toHaveLength(4096);
    for (const n of [2, 4, 8, 16]) {
      expect(kept(n).length).toBeGreaterThan(4096 / n * 0.8);
      expect(kept(n).length).toBeLessThan(4096 / n * 1.2);
      const wider = new Set(kept(n / 2));
      expect(kept(n).every((a) => wider.has(a))).toBe(true);
    }
    expect(skaddrHash('ffff8a0c4e1a8000')).toBe(skaddrHash('ffff8a0c4e1a8000'));
  });
});
