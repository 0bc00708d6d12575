// Real server shapes (test/fixtures/servers.py) and a client in its own process, for the
// owner tests: which pid served which client port, and the traced events of those sockets.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Peer, type NetNamespace } from './process';
import type { Capture } from './kernel';
import type { TcpEvent } from '../../src/decode/event';
import { State } from '../../src/decode/states';
import { patience } from './patience';

const script = path.resolve(__dirname, '../fixtures/servers.py');

/** Runs the fixture in the test's namespace (the tracer filters on it: other tests' and other
 *  users' connection storms on this host never fill its buffer). `ip netns exec` keeps the pid. */
function fixture(ns: NetNamespace, args: string[]): Peer {
  return new Peer(spawn('ip', ['netns', 'exec', ns.name, 'python3', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] }));
}

export function startServer(ns: NetNamespace, ...args: string[]): Peer {
  return fixture(ns, args);
}

/** Runs `n` connections from a separate process; resolves with their local ports. */
export async function runClient(ns: NetNamespace, port: number, n: number, http = false): Promise<number[]> {
  return clientPorts(fixture(ns, ['client', String(port), String(n), ...(http ? ['http'] : [])]));
}

/** `n` connections that send a line and close before the server accepts them; their local ports. */
export async function runHangups(ns: NetNamespace, port: number, n: number): Promise<number[]> {
  return clientPorts(fixture(ns, ['hangup', String(port), String(n)]));
}

async function clientPorts(client: Peer): Promise<number[]> {
  await client.next('done', 60_000);
  return client.messages.filter((m) => 'client' in m).map((m) => m.client as number);
}

/** Waits until the server reported serving every one of `ports`; client port → serving pid. */
export async function servedBy(server: Peer, ports: number[], timeoutMs = 15_000): Promise<Map<number, number>> {
  const end = Date.now() + patience(timeoutMs);
  for (;;) {
    const served = new Map(server.messages.filter((m) => 'served' in m).map((m) => [m.served as number, m.pid as number]));
    if (ports.every((p) => served.has(p))) return served;
    if (Date.now() > end) throw new Error(`server did not report serving ${ports.filter((p) => !served.has(p))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The accepted socket's events for one client port, in time order, once it reached CLOSE. */
export async function serverSide(cap: Capture, port: number, clientPort: number): Promise<TcpEvent[]> {
  const mine = (e: TcpEvent) => e.sport === port && e.dport === clientPort;
  try {
    await cap.waitFor((evs) => evs.some((e) => mine(e) && e.newState === State.CLOSE));
  } catch (err) {
    const seen = cap.events.filter(mine).map((e) => `${e.oldState}->${e.newState}`);
    throw new Error(`${(err as Error).message}: ${port}<-${clientPort} got [${seen}], counters ${JSON.stringify(cap.tracer.counters())}`);
  }
  return cap.events.filter(mine).sort((a, b) => a.tsNs - b.tsNs);
}

/** The accept record of the connection from `clientPort` to `port`. */
export function acceptOf(cap: Capture, port: number, clientPort: number): TcpEvent | undefined {
  return cap.accepts.find((a) => a.sport === port && a.dport === clientPort);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `tcptrace ARGS --netns NS` while `during` runs, then stops it; its stdout's JSON lines. */
export async function tracedCommand(ns: NetNamespace, args: string[], during: () => Promise<void>): Promise<Record<string, any>[]> {
  const child = spawn(path.resolve(__dirname, '../../bin/tcptrace'), [...args, '--netns', String(ns.inode)]);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  for (let i = 0; !err.includes('tracing TCP'); i++) {
    if (i > patience(500)) throw new Error(`tcptrace did not attach: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await during();
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGINT');
  await new Promise((r) => child.on('close', r));
  if (!out.trim()) throw new Error(`tcptrace printed nothing: ${err}`);
  return out.trim().split('\n').map((l) => JSON.parse(l));
}
