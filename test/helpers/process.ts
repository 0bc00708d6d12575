// Peers in other processes (and optionally other network namespaces) for kernel tests.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { patience } from './patience';

const peerScript = path.resolve(__dirname, '../fixtures/peer.js');

export class Peer {
  readonly messages: Record<string, unknown>[] = [];
  readonly exited: Promise<void>;
  private buffered = '';

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      this.buffered += d;
      let i;
      while ((i = this.buffered.indexOf('\n')) >= 0) {
        this.messages.push(JSON.parse(this.buffered.slice(0, i)));
        this.buffered = this.buffered.slice(i + 1);
      }
    });
    this.exited = new Promise((r) => child.on('exit', () => r()));
  }

  get pid(): number {
    return this.child.pid!;
  }

  async next(key: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const end = Date.now() + patience(timeoutMs);
    for (;;) {
      const m = this.messages.find((x) => key in x);
      if (m) return m;
      if (Date.now() > end) throw new Error(`peer ${this.pid}: no '${key}' message`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  stop(): void {
    this.child.stdin!.end();
    this.child.kill();
  }
}

/** Starts peer.js, optionally inside network namespace `netns`. */
export function startPeer(args: string[], opts: { netns?: string; env?: Record<string, string> } = {}): Peer {
  const argv = [peerScript, ...args];
  const child = opts.netns
    ? spawn('ip', ['netns', 'exec', opts.netns, process.execPath, ...argv], { env: { ...process.env, ...opts.env } })
    : spawn(process.execPath, argv, { env: { ...process.env, ...opts.env } });
  return new Peer(child);
}

/** A network namespace of the test's own, with lo up. */
export class NetNamespace {
  readonly name = `tt-${randomBytes(4).toString('hex')}`;
  readonly inode: number;

  constructor() {
    execFileSync('ip', ['netns', 'add', this.name]);
    this.run('ip', 'link', 'set', 'lo', 'up');
    this.inode = statSync(`/run/netns/${this.name}`).ino;
  }

  run(...cmd: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.name, ...cmd], { encoding: 'utf8' });
  }

  /** The namespace's own TCP/IP counters (nstat -az: absolute values, a fresh namespace's are its tests'). */
  counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const line of this.run('nstat', '-az').split('\n')) {
      const [name, value] = line.trim().split(/\s+/);
      if (name && /^\d+$/.test(value ?? '')) out[name] = Number(value);
    }
    return out;
  }

  /** Drops TCP SYNs to `port` inside the namespace (nftables); returns a remover. */
  dropSyns(port: number): () => void {
    this.run('nft', 'add', 'table', 'inet', 'tcptrace_test');
    this.run('nft', 'add', 'chain', 'inet', 'tcptrace_test', 'in', '{ type filter hook input priority 0; }');
    this.run('nft', 'add', 'rule', 'inet', 'tcptrace_test', 'in', 'tcp', 'dport', String(port), 'tcp', 'flags', '&', '(syn|ack)', '==', 'syn', 'drop');
    return () => this.run('nft', 'delete', 'table', 'inet', 'tcptrace_test');
  }

  /** Drops exactly one IPv4 SYN to `port`, with no timing involved: a 100-byte quota holds
   * one 60-byte SYN, the next one exceeds it and passes. Returns the undo. */
  dropFirstSyn(port: number): () => void {
    this.run('nft', 'add', 'table', 'inet', 'tcptrace_first');
    this.run('nft', 'add', 'chain', 'inet', 'tcptrace_first', 'in', '{ type filter hook input priority 0; }');
    this.run('nft', 'add', 'rule', 'inet', 'tcptrace_first', 'in', 'tcp', 'dport', String(port), 'tcp', 'flags', '&', '(syn|ack)', '==', 'syn', 'quota', 'until', '100', 'bytes', 'drop');
    return () => this.run('nft', 'delete', 'table', 'inet', 'tcptrace_first');
  }

  delete(): void {
    try { execFileSync('ip', ['netns', 'del', this.name]); } catch { /* already gone */ }
  }
}
