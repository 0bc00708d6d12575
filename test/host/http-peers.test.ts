// One remote peer cannot hold every connection slot of tcptrace's HTTP server: in a network
// namespace of the test's own, with two non-loopback addresses, the first peer is cut at its
// share while the second is still served.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GUARD_LIMITS } from '../../src/http/guard';
import { describeKernel } from '../helpers/kernel';
import { NetNamespace } from '../helpers/process';

const dist = path.resolve(__dirname, '../../dist');

// Runs inside the namespace: the server on 10.77.0.1, a greedy peer 10.77.0.2 opening one more
// connection than its share, then a second peer 10.77.0.3 asking for /metrics.
const script = `
const net = require('net');
const { sharedServer } = require(${JSON.stringify(path.join(dist, 'http', 'server.js'))});
const open = (from, port) => new Promise((resolve) => {
  const c = net.connect({ host: '10.77.0.1', port, localAddress: from });
  c.on('error', () => {});
  let closed = false;
  c.on('close', () => { closed = true; });
  c.on('connect', () => setTimeout(() => resolve({ c, closed: () => closed }), 50));
});
(async () => {
  const s = await sharedServer({ host: '10.77.0.1', port: 0 });
  s.route('/metrics', (req, res) => res.end('ok\\n'));
  const port = s.address.port;
  const greedy = [];
  for (let i = 0; i <= ${GUARD_LIMITS.maxPerPeer}; i++) greedy.push(await open('10.77.0.2', port));
  await new Promise((r) => setTimeout(r, 200));
  const cut = greedy.filter((g) => g.closed()).length;
  const other = await new Promise((resolve) => {
    const req = require('http').get({ host: '10.77.0.1', port, path: '/metrics', localAddress: '10.77.0.3' }, (res) => resolve(res.statusCode));
    req.on('error', (e) => resolve(e.code));
  });
  for (const g of greedy) g.c.destroy();
  await s.close();
  console.log(JSON.stringify({ cut, other }));
})();
`;

describeKernel('HTTP connections per peer', () => {
  let ns: NetNamespace;
  beforeAll(() => {
    ns = new NetNamespace();
    for (const a of ['10.77.0.1', '10.77.0.2', '10.77.0.3']) ns.run('ip', 'addr', 'add', `${a}/32`, 'dev', 'lo');
  });
  afterAll(() => ns?.delete());

  it(`a peer past ${GUARD_LIMITS.maxPerPeer} open connections is cut; another peer is still served`, () => {
    const out = execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ cut: 1, other: 200 });
  });
});
