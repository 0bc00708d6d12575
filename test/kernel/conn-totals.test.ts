// A connection's totals (bytes, segments, retransmits) against independent oracles: the byte
// counts the test itself sent, `ss -ti` (the kernel's tcp_info) just before close, and `nstat`'s
// TcpRetransSegs in a network namespace the test made, with nftables dropping a share of the data
// segments there. Also the connections still open when tracing stops (sock_diag), in --summary
// and --lifetimes, against `ss -ti` for the same sockets.
import { spawn } from 'node:child_process';
import { release } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Capture, connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';
import { State } from '../../src/decode/states';
import { NetNamespace, Peer } from '../helpers/process';
import { tracedCommand } from '../helpers/servers';
import { patience } from '../helpers/patience';

function kernelAtLeast(major: number, minor: number): boolean {
  const [a, b] = release().split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

const exchangeScript = path.resolve(__dirname, '../fixtures/exchange.js');
const REQ = 1_234_567;
const ANS = 765_432;

function exchange(ns: NetNamespace, ...args: (string | number)[]): Peer {
  return new Peer(spawn('ip', ['netns', 'exec', ns.name, process.execPath, exchangeScript, ...args.map(String)]));
}

const portOf = (endpoint: string) => Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));

/** `ss -tinH` in the namespace: per socket ("LOCALPORT>PEERPORT"), the tcp_info figures it prints. */
function ssInfo(ns: NetNamespace): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  const lines = ns.run('ss', '-tinH', 'state', 'connected').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const ends = lines[i].trim().split(/\s+/).filter((w) => /:\d+$/.test(w));
    if (ends.length !== 2 || !lines[i + 1]?.startsWith('\t')) continue;
    const fields: Record<string, string> = {};
    for (const m of lines[i + 1].matchAll(/([a-z_]+):(\S+)/g)) fields[m[1]] = m[2];
    out.set(`${portOf(ends[0])}>${portOf(ends[1])}`, fields);
    i++;
  }
  return out;
}

/** ss's `retrans:CURRENT/TOTAL`: the total, tcp_info's total_retrans (0 when ss shows none). */
const ssRetrans = (f: Record<string, string>) => Number(f.retrans?.split('/')[1] ?? 0);

function nstat(ns: NetNamespace, counter: string): number {
  return ns.counters()[counter] ?? 0;
}

let ns: NetNamespace | undefined;
afterEach(() => {
  ns?.delete();
  ns = undefined;
});

describeKernel('connection totals at CLOSE', () => {
  it('the --lifetimes record carries the bytes each side sent and received, exactly, on both sides', async () => {
    ns = new NetNamespace();
    let port = 0;
    let clientPort = 0;
    let before = new Map<string, Record<string, string>>();
    const records = await tracedCommand(ns, ['--lifetimes', '--json'], async () => {
      const server = exchange(ns!, 'server', '127.0.0.1', REQ, ANS);
      port = (await server.next('port')).port as number;
      const client = exchange(ns!, 'client', '127.0.0.1', port, REQ, ANS);
      clientPort = (await client.next('exchanged')).port as number;
      await sleep(200); // the last ACKs
      before = ssInfo(ns!);
      client.send('close');
      await client.next('closed');
      await sleep(300);
      server.stop();
    });
    const closed = records.filter((r) => r.type === 'connection' && !r.open);
    const client = closed.find((r) => r.sport === clientPort && r.dport === port);
    const server = closed.find((r) => r.sport === port && r.dport === clientPort);
    // The kernel counts the SYN of an active open and each FIN as one byte of sequence space
    // (tcp_info and ss do the same): payload + those, exactly.
    expect({ acked: client?.bytes_acked, received: client?.bytes_received }).toEqual({ acked: REQ + 2, received: ANS + 1 });
    expect({ acked: server?.bytes_acked, received: server?.bytes_received }).toEqual({ acked: ANS + 1, received: REQ + 1 });
    // ss just before close: the same counters without the FINs still to come.
    expect(Number(before.get(`${clientPort}>${port}`)!.bytes_acked)).toBe(REQ + 1);
    expect(Number(before.get(`${clientPort}>${port}`)!.bytes_received)).toBe(ANS);
    expect(Number(before.get(`${port}>${clientPort}`)!.bytes_received)).toBe(REQ);
    expect(Number(before.get(`${port}>${clientPort}`)!.bytes_acked)).toBe(ANS);
    for (const r of [client!, server!]) {
      const f = before.get(`${r.sport}>${r.dport}`)!;
      // segments and retransmits only grow while closing (a tail loss probe on a loaded machine
      // is a retransmit too, even on loopback)
      expect(r.segs_out).toBeGreaterThan(Number(f.segs_out));
      expect(r.segs_in).toBeGreaterThan(Number(f.segs_in));
      expect(r.retrans_segs).toBeGreaterThanOrEqual(ssRetrans(f));
      expect(r.rtt_min_us).toBeGreaterThan(0);
      // tcp_sock.total_rto exists from 6.7 on: read there (CO-RE field check), null before
      expect(r.retrans_rto === null).toBe(!kernelAtLeast(6, 7));
    }
  }, patience(60_000));

  it('retransmits: per connection what ss -ti showed before close, in total what nstat counted in the namespace', async () => {
    ns = new NetNamespace();
    ns.run('ip', 'link', 'set', 'lo', 'mtu', '1500'); // many segments, not a few 64 KiB ones
    ns.run('nft', 'add', 'table', 'inet', 'tcptrace_loss'); // deleted before the closes
    ns.run('nft', 'add', 'chain', 'inet', 'tcptrace_loss', 'in', '{ type filter hook input priority 0; }');
    const retransBefore = nstat(ns, 'TcpRetransSegs');
    const beforeClose = new Map<string, number>();
    const ports: number[] = [];
    let port = 0;
    const records = await tracedCommand(ns, ['--lifetimes', '--json'], async () => {
      const server = exchange(ns!, 'server', '127.0.0.1', REQ, ANS);
      port = (await server.next('port')).port as number;
      // one data segment in 20 to the server and from it dropped: both sides retransmit
      for (const dir of ['dport', 'sport']) {
        ns!.run('nft', 'add', 'rule', 'inet', 'tcptrace_loss', 'in', 'tcp', dir, String(port), 'meta', 'length', '>', '200',
          'numgen', 'random', 'mod', '20', '==', '0', 'drop');
      }
      const clients: Peer[] = [];
      for (let i = 0; i < 3; i++) {
        const client = exchange(ns!, 'client', '127.0.0.1', port, REQ, ANS);
        ports.push((await client.next('exchanged', 60_000)).port as number);
        clients.push(client);
      }
      // No drops while closing, and time for the last retransmits and ACKs: then what ss shows
      // is what each socket has at its CLOSE.
      ns!.run('nft', 'delete', 'table', 'inet', 'tcptrace_loss');
      await sleep(patience(500));
      const ss = ssInfo(ns!);
      for (const clientPort of ports) {
        for (const key of [`${clientPort}>${port}`, `${port}>${clientPort}`]) beforeClose.set(key, ssRetrans(ss.get(key)!));
      }
      for (const client of clients) {
        client.send('close');
        await client.next('closed', 30_000);
      }
      await sleep(patience(1000));
      server.stop();
    });
    const retransAfter = nstat(ns, 'TcpRetransSegs');
    const closed = records.filter((r) => r.type === 'connection' && !r.open && (r.sport === port || r.dport === port));
    expect(closed).toHaveLength(6);
    const sum = closed.reduce((n, r) => n + r.retrans_segs, 0);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBe(retransAfter - retransBefore);
    for (const r of closed) {
      const key = `${r.sport}>${r.dport}`;
      expect({ key, retrans: r.retrans_segs }).toEqual({ key, retrans: beforeClose.get(key) });
      expect(r.bytes_acked).toBe(r.sport === port ? ANS + 1 : REQ + 2);
      expect(r.bytes_received).toBe(r.sport === port ? REQ + 1 : ANS + 1);
    }
  }, patience(120_000));

  it('connections still open when tracing stops: --summary gives what ss -ti shows for the same sockets', async () => {
    ns = new NetNamespace();
    let port = 0;
    const clientPorts: number[] = [];
    let ss = new Map<string, Record<string, string>>();
    const peers: Peer[] = [];
    const summary = await tracedCommand(ns, ['--summary', '--json'], async () => {
      const server = exchange(ns!, 'server', '127.0.0.1', REQ, ANS);
      peers.push(server);
      port = (await server.next('port')).port as number;
      for (let i = 0; i < 2; i++) {
        const client = exchange(ns!, 'client', '127.0.0.1', port, REQ, ANS);
        peers.push(client);
        clientPorts.push((await client.next('exchanged')).port as number);
      }
      await sleep(300);
      ss = ssInfo(ns!);
    });
    for (const p of peers) p.stop();
    const report = summary.find((r) => r.type === 'summary')!;
    expect(report.open.total).toBe(4);
    const open = report.traffic.topConnections.filter((c: any) => c.open);
    expect(open).toHaveLength(4);
    for (const c of open) {
      const key = `${c.sport}>${c.dport}`;
      const f = ss.get(key)!;
      expect({ key, acked: c.totals.bytesAcked, received: c.totals.bytesReceived, retrans: c.totals.retransSegs })
        .toEqual({ key, acked: Number(f.bytes_acked ?? 0), received: Number(f.bytes_received ?? 0), retrans: ssRetrans(f) });
    }
    expect(open.map((c: any) => `${c.sport}>${c.dport}`).sort()).toEqual([...ss.keys()].sort());
    const listener = report.traffic.byListenPort.find((r: any) => r.key === `port ${port}`);
    expect(listener.open.connections).toBe(2);
    expect(listener.bytesReceived).toBe(2 * REQ);
  }, patience(60_000));

  it('--lifetimes ends with the connections still open, marked open, with what ss -ti shows', async () => {
    ns = new NetNamespace();
    let port = 0;
    let clientPort = 0;
    let ss = new Map<string, Record<string, string>>();
    const peers: Peer[] = [];
    const records = await tracedCommand(ns, ['--lifetimes', '--json'], async () => {
      const server = exchange(ns!, 'server', '127.0.0.1', REQ, ANS);
      peers.push(server);
      port = (await server.next('port')).port as number;
      const client = exchange(ns!, 'client', '127.0.0.1', port, REQ, ANS);
      peers.push(client);
      clientPort = (await client.next('exchanged')).port as number;
      await sleep(300);
      ss = ssInfo(ns!);
    });
    for (const p of peers) p.stop();
    const open = records.filter((r) => r.type === 'connection' && r.open);
    expect(open.map((r) => `${r.sport}>${r.dport}`).sort()).toEqual([`${clientPort}>${port}`, `${port}>${clientPort}`].sort());
    for (const r of open) {
      const f = ss.get(`${r.sport}>${r.dport}`)!;
      expect([r.bytes_acked, r.bytes_received, r.segs_out, r.segs_in]).toEqual([f.bytes_acked, f.bytes_received, f.segs_out, f.segs_in].map((v) => Number(v ?? 0)));
      expect(r.last_state).toBe('ESTABLISHED');
      expect(r.side).toBe(r.sport === port ? 'passive' : null);
      // named by the process holding the socket (/proc, as ss -p)
      expect(r.pid).toBe(r.sport === port ? peers[0].pid : peers[1].pid);
      expect(r.comm).toBe('node');
    }
  }, patience(60_000));

  it('the kernel reads them only when an output shows them: without, a CLOSE carries none', async () => {
    for (const connTotals of [false, true]) {
      const cap = new Capture({ connTotals });
      const server = await listen();
      await connectAndClose(server.port);
      await cap.waitForCloses(server.port, 2);
      const closes = cap.onPort(server.port).filter((e) => e.newState === State.CLOSE && e.oldState !== State.LISTEN);
      cap.close();
      await server.close();
      expect({ connTotals, read: closes.map((e) => e.totals !== null) }).toEqual({ connTotals, read: [connTotals, connTotals] });
    }
  });
});
