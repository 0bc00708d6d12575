// The load started before it is needed (src/probe/probe.ts startProbe: the CLI loads its
// modules while the kernel verifies): it delivers like a load done in one step.
import { expect, it } from 'vitest';
import { Tracer } from '../../src/tracer';
import { startProbe } from '../../src/probe/probe';
import type { TcpEvent } from '../../src/decode/event';
import { connectAndClose, describeKernel, listen } from '../helpers/kernel';

describeKernel('a load started ahead', () => {
  it('delivers the connection like Tracer.open alone, attach time taken by the loading thread', async () => {
    const srv = await listen();
    const options = { filter: { localPorts: [srv.port] } };
    const started = startProbe(options);
    const tracer = Tracer.open(options, started);
    expect(tracer.attachedAt).toBeLessThanOrEqual(performance.now());
    const got: TcpEvent[] = [];
    tracer.on('events', (batch) => got.push(...batch));
    await connectAndClose(srv.port);
    for (let i = 0; i < 100 && !got.some((e) => e.oldState === 9 && e.newState === 7); i++) await new Promise((r) => setTimeout(r, 20));
    tracer.close();
    expect(got.map((e) => e.newState)).toEqual([3, 1, 8, 9, 7]);
    await srv.close();
  });
});
