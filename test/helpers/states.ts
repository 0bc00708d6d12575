// Sockets in known TCP states inside a test's namespace (test/fixtures/states.js), and what
// `ss -tan` counts there: the reference every socket count is checked against.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { CENSUS_STATES } from '../../src/census/census';
import { sleep } from './kernel';
import { Peer, type NetNamespace } from './process';

const fixture = path.resolve(__dirname, '../fixtures/states.js');
const SS_NAMES: Record<string, string> = {
  'ESTAB': 'ESTABLISHED', 'SYN-SENT': 'SYN_SENT', 'SYN-RECV': 'SYN_RECV', 'FIN-WAIT-1': 'FIN_WAIT1',
  'FIN-WAIT-2': 'FIN_WAIT2', 'TIME-WAIT': 'TIME_WAIT', 'CLOSE-WAIT': 'CLOSE_WAIT', 'LAST-ACK': 'LAST_ACK',
  'LISTEN': 'LISTEN', 'CLOSING': 'CLOSING',
};

/** `ss -tan` in the namespace, as state name → sockets (every state of the census, zeros too). */
export function ssCounts(ns: NetNamespace): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(CENSUS_STATES.map((s) => [s, 0]));
  for (const line of ns.run('ss', '-tanH').split('\n')) {
    const name = SS_NAMES[line.split(/\s+/)[0]];
    if (name) counts[name]++;
  }
  return counts;
}

/** The same counts, whatever order the keys come in. */
export function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].every((k) => a[k] === b[k]);
}

/** The states fixture running in `ns`; SYN_SENT sockets go to `blackHole` (drop its SYNs). */
export class StateBuilder {
  readonly peer: Peer;
  private done = 0;

  constructor(ns: NetNamespace, readonly blackHole: number) {
    // Past the namespace's TIME_WAIT cap the kernel makes none (and ss shows none).
    ns.run('sysctl', '-q', '-w', 'net.ipv4.tcp_max_tw_buckets=262144');
    // Loopback connects may take over a TIME_WAIT socket's port (tw_reuse 2), ending it early
    // without a trace: the census corrects that at its next sample, but then ss would not show
    // the TIME_WAIT sockets the fixture counts.
    ns.run('sysctl', '-q', '-w', 'net.ipv4.tcp_tw_reuse=0');
    this.peer = new Peer(spawn('ip', ['netns', 'exec', ns.name, process.execPath, fixture]));
  }

  ready(): Promise<unknown> {
    return this.peer.next('ports');
  }

  /** One fixture command (est, tw, half, synsent, drop, storm), once it has answered. */
  async build(op: string, n: number): Promise<void> {
    this.peer.send(JSON.stringify({ op, n, port: this.blackHole }));
    this.done++;
    const end = Date.now() + 15_000;
    while (this.peer.messages.filter((m) => 'done' in m).length < this.done) {
      if (Date.now() > end) throw new Error(`states fixture: no answer to ${op}`);
      await sleep(10);
    }
  }

  stop(): void {
    this.peer.stop();
  }
}
