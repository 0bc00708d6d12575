// The load started before it is needed (src/probe/probe.ts startProbe, bin/tcptrace's early start):
// it delivers like a load done in one step, and a load started for nothing leaves nothing
// attached.
import { readdirSync, readlinkSync } from 'node:fs';
import { expect, it } from 'vitest';
import { Tracer } from '../../src/tracer';
import { startProbe } from '../../src/probe/probe';
import type { TcpEvent } from '../../src/decode/event';
import { connectAndClose, describeKernel, listen } from '../helpers/kernel';

/** BPF links this process holds (one per attached program). */
function openLinks(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes('bpf_link')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

describeKernel('a load started ahead', () => {
  it('delivers the connection like Tracer.open alone, attach time taken by the loading thread', async () => {
    const srv = await listen();
    const options = { filter: { localPorts: [srv.port] } };
    const started = startProbe(options);
    const tracer = Tracer.open(options, started);
    expect(tracer.loadStartedAt).toBeLessThan(tracer.attachedAt);
    expect(tracer.attachedAt).toBeLessThanOrEqual(performance.now());
    const got: TcpEvent[] = [];
    tracer.on('events', (batch) => got.push(...batch));
    await connectAndClose(srv.port);
    for (let i = 0; i < 100 && !got.some((e) => e.oldState === 9 && e.newState === 7); i++) await new Promise((r) => setTimeout(r, 20));
    tracer.close();
    expect(got.map((e) => e.newState)).toEqual([3, 1, 8, 9, 7]);
    await srv.close();
  });

  it('a discarded load detaches everything; the options decide whether two loads are the same', () => {
    const before = openLinks();
    const a = startProbe({ filter: { localPorts: [9] } });
    const b = startProbe({ filter: { localPorts: [9] } });
    const c = startProbe({ filter: { localPorts: [10] } });
    expect(a.key).toBe(b.key);
    expect(a.key).not.toBe(c.key);
    a.discard();
    b.discard();
    c.discard();
    expect(openLinks()).toBe(before);
  });
});
