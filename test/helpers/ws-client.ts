// A `ws` client for the stream's kernel tests: records every message, waits for ones it wants.
import { afterEach } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import type { JsonEvent } from '../../src/format/schema';
import { sleep } from './kernel';
import { patience } from './patience';

export type Message = Record<string, any>;

const opened: Client[] = [];
afterEach(() => { for (const c of opened.splice(0)) c.close(); });

/** A ws client that records every message. */
export class Client {
  readonly messages: Message[] = [];
  private constructor(readonly ws: WebSocket) {
    opened.push(this);
    ws.on('message', (data) => this.messages.push(JSON.parse(String(data))));
  }

  /** Opens and resolves once `hello` arrived. */
  static open(url: string, options: ClientOptions = {}): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const c = new Client(ws);
      ws.on('error', reject);
      ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.on('message', () => { if (c.messages[0]?.type === 'hello') resolve(c); });
    });
  }

  /** Resolves with the first message after index `from` that pred accepts. */
  async waitFor(pred: (m: Message) => boolean, timeoutMs = 5000, from = 0): Promise<Message> {
    const deadline = Date.now() + patience(timeoutMs);
    for (;;) {
      const m = this.messages.slice(from).find(pred);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for a message (have ${this.messages.length}: ${[...new Set(this.messages.map((x) => x.type))].join(',')})`);
      await sleep(20);
    }
  }

  events(from = 0): JsonEvent[] {
    return this.messages.slice(from).filter((m) => m.type === 'events').flatMap((m) => m.events as JsonEvent[]);
  }

  async waitForEvents(pred: (e: JsonEvent) => boolean, count = 1, timeoutMs = 5000, from = 0): Promise<JsonEvent[]> {
    const deadline = Date.now() + patience(timeoutMs);
    for (;;) {
      const got = this.events(from).filter(pred);
      if (got.length >= count) return got;
      if (Date.now() > deadline) throw new Error(`timed out: ${got.length} of ${count} matching events`);
      await sleep(20);
    }
  }

  /** Sends a subscribe and resolves with the index just after the server's acknowledgement. */
  async subscribe(filter: object): Promise<number> {
    const from = this.messages.length;
    this.ws.send(JSON.stringify({ type: 'subscribe', filter }));
    await this.waitFor((m) => m.type === 'subscribed' || m.type === 'error', 5000, from);
    const i = this.messages.findIndex((m, k) => k >= from && (m.type === 'subscribed' || m.type === 'error'));
    if (this.messages[i].type === 'error') throw new Error(this.messages[i].message);
    return i + 1;
  }

  close(): void {
    this.ws.terminate();
  }
}

