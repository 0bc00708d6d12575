// The stream's sampling against the real tracer: a client that reads slowly during a storm of
// the test's own connections gets 1 connection in N, announced in every message, and exactly
// that: replayed against a client that reads everything, each message holds the events of
// the announced sample of the events it says it stands for, nothing is lost, and no loss is
// claimed.
import type net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { JsonEvent } from '../../src/format/schema';
import { StreamSink } from '../../src/sinks/ws';
import { inSample, skaddrHash } from '../../src/sinks/ws/sampler';
import { StatsEngine } from '../../src/derive/stats';
import { Pipeline } from '../../src/pipeline';
import { statusReport } from '../../src/status';
import { Tracer } from '../../src/tracer';
import { connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';
import { Client, type Message } from '../helpers/ws-client';
import { patience } from '../helpers/patience';

const socketOf = (c: Client) => (c.ws as unknown as { _socket: net.Socket })._socket;
const key = (e: JsonEvent) => `${e.skaddr}/${e.ts_ns}/${e.newstate}`;

describeKernel('WebSocket stream: sampling a slow client', () => {
  let tracer: Tracer;
  let sink: StreamSink;

  beforeAll(async () => {
    tracer = Tracer.open({ ringBytes: 32 * 1024 * 1024 });
    const stats = new StatsEngine();
    // The slow reader is silent until sampled: under QEMU longer than the liveness ping allows
    // (two pings, liveness.ts), which is not what this tests.
    sink = await StreamSink.start(statusReport(tracer), stats, { listen: { host: '127.0.0.1', port: 0 }, statsIntervalMs: 200, pingIntervalMs: 3_600_000 });
    new Pipeline(tracer, [sink], { stats });
  });

  afterAll(async () => {
    await sink?.close();
    tracer?.close();
  });

  it('sends a slow reader an announced 1-in-N sample of whole connections, with no loss', async () => {
    const server = await listen();
    const url = `ws://127.0.0.1:${sink.address.port}/ws?ports=${server.port}`;
    const fast = await Client.open(url);
    const slow = await Client.open(url);
    const slowPeer = `127.0.0.1:${socketOf(slow).localPort}`;
    const slowState = () => sink.clientStats().find((s) => s.peer === slowPeer)!;
    const storm = async (rounds: number) => {
      for (let r = 0; r < rounds; r++) await Promise.all(Array.from({ length: 100 }, () => connectAndClose(server.port)));
    };

    // Stopped until the server samples it, then reading in short bursts while the storm goes on.
    socketOf(slow).pause();
    const deadline = Date.now() + 60_000;
    while (slowState().sample === 1 && Date.now() < deadline) await storm(1);
    expect(slowState().sample, 'the slow client was never sampled').toBeGreaterThan(1);
    for (let r = 0; r < 6; r++) {
      socketOf(slow).resume();
      await sleep(10);
      socketOf(slow).pause();
      await storm(1);
    }
    socketOf(slow).resume();
    await server.close();

    // Everything the filter took is accounted for: the fast client's events, and the slow
    // client's `of` counts (the sample's left-out events are counted by the next stats tick).
    const ofTotal = () => slow.messages.filter((m) => m.type === 'events').reduce((n, m) => n + m.of, 0);
    const stableFor = async (f: () => number) => {
      for (let last = -1; f() !== last; ) { last = f(); await sleep(500); }
    };
    await stableFor(() => fast.events().length + ofTotal());
    // The listener's LISTEN event may have reached `fast` before `slow` connected: both see
    // the same events from the first one `slow` got (it was not sampled yet, so it has it).
    const first = slow.events()[0];
    const all = fast.events().slice(fast.events().findIndex((e) => key(e) === key(first)));
    expect(fast.messages.filter((m) => m.type === 'events').every((m) => m.sample === 1 && m.of === m.events.length)).toBe(true);
    expect(ofTotal()).toBe(all.length);

    // Replay: each message is exactly the sample of the next `of` events.
    let at = 0;
    const samples = new Set<number>();
    for (const m of slow.messages.filter((x: Message) => x.type === 'events')) {
      const stoodFor = all.slice(at, at + m.of);
      at += m.of;
      samples.add(m.sample);
      expect(m.events.map(key)).toEqual(stoodFor.filter((e) => inSample(skaddrHash(e.skaddr), m.sample)).map(key));
    }
    expect(Math.max(...samples)).toBeGreaterThan(1);
    // Nothing was lost, so no loss is reported.
    expect(slow.messages.filter((m) => m.type === 'lost')).toEqual([]);
    expect(slowState().missedTotal).toBe(0);
    // N may still come down while the tick is on its way: the message holds N as it was then
    const sampleBefore = slowState().sample;
    const stats = await slow.waitFor((m) => m.type === 'stats', 5000, slow.messages.length);
    expect(stats.client).toMatchObject({ missed: 0 });
    expect([sampleBefore, slowState().sample]).toContain(stats.client.sample);
  }, patience(120_000));
});
