// Shared by the kernel tests: a real tracer, real sockets on ports the test owns, and the
// events of exactly those sockets (the tracer sees the whole machine).
import net from 'node:net';
import { describe } from 'vitest';
import { Tracer, type TracerOptions } from '../../src/tracer';
import type { TcpEvent } from '../../src/decode/event';
import { State } from '../../src/decode/states';
import { patience } from './patience';

export const isRoot = process.geteuid?.() === 0;

/** describe() for tests that load BPF; skipped with a visible reason when not root. */
export const describeKernel: typeof describe = isRoot
  ? describe
  : (((name: string, fn: () => void) => describe.skip(`${name} [skipped: needs root to load BPF]`, fn)) as typeof describe);

/** A tracer plus everything it delivered, searchable by port. */
export class Capture {
  readonly events: TcpEvent[] = [];
  /** accept records (not transitions) */
  readonly accepts: TcpEvent[] = [];
  readonly tracer: Tracer;

  constructor(options: TracerOptions = {}) {
    this.tracer = Tracer.open(options);
    this.tracer.on('events', (batch) => { for (const e of batch) this.events.push(e); });
    this.tracer.on('accepts', (batch) => { for (const e of batch) this.accepts.push(e); });
  }

  /** Every event of any socket with `port` at either end. */
  onPort(port: number): TcpEvent[] {
    return this.events.filter((e) => e.sport === port || e.dport === port);
  }

  /** The client side of connections to `port` (local port may be 0 on CLOSE→SYN_SENT). */
  client(port: number): TcpEvent[] {
    return this.events.filter((e) => e.dport === port);
  }

  /** Accepted (child) sockets of a listener on `port`. */
  accepted(port: number): TcpEvent[] {
    return this.events.filter((e) => e.sport === port && e.dport !== 0);
  }

  /** The listening socket on `port`. */
  listener(port: number): TcpEvent[] {
    return this.events.filter((e) => e.sport === port && e.dport === 0);
  }

  /** Resolves when pred holds for the captured events, or rejects after timeoutMs. */
  async waitFor(pred: (events: TcpEvent[]) => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + patience(timeoutMs);
    while (!pred(this.events)) {
      if (Date.now() > deadline) throw new Error(`timed out after ${patience(timeoutMs)} ms waiting for events`);
      await sleep(20);
    }
  }

  /** Waits until the sockets on `port` have all reached CLOSE `count` times. */
  async waitForCloses(port: number, count: number, timeoutMs = 15_000): Promise<void> {
    await this.waitFor((evs) => evs.filter((e) => (e.sport === port || e.dport === port) && e.newState === State.CLOSE).length >= count, timeoutMs);
  }

  close() {
    return this.tracer.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function states(events: TcpEvent[]): string[] {
  const names = ['?', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING'];
  return events.map((e) => `${names[e.oldState]}->${names[e.newState]}`);
}

/** A listening server on a kernel-chosen port; the accepted side closes after the client does. */
export async function listen(host = '127.0.0.1', wantedPort = 0): Promise<{ port: number; server: net.Server; close: () => Promise<void> }> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.on('end', () => s.end());
    s.resume();
  });
  await new Promise<void>((r) => server.listen(wantedPort, host, r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, server, close: () => new Promise((r) => server.close(() => r())) };
}

/** Connects, optionally sends, closes with FIN, and resolves when the socket is fully closed. */
export function connectAndClose(port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, host, () => c.end());
    c.on('error', reject);
    c.resume();
    c.on('close', () => resolve());
  });
}

/** A port nobody listens on (bound and released by the kernel). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const { port, close } = await listen(host);
  await close();
  return port;
}
