// The library API other code builds on: async iteration and exact counters.
import { expect, it } from 'vitest';
import { Tracer } from '../../src/tracer';
import type { TcpEvent } from '../../src/decode/event';
import { connectAndClose, describeKernel, listen } from '../helpers/kernel';

describeKernel('Tracer as a library', () => {
  it('async iteration yields typed events until close()', async () => {
    const srv = await listen();
    const tracer = Tracer.open({ filter: { localPorts: [srv.port] } });
    const got: TcpEvent[] = [];
    const done = (async () => {
      for await (const e of tracer) {
        got.push(e);
        if (e.newState === 7 && e.oldState === 9) tracer.close();
      }
    })();
    await connectAndClose(srv.port);
    await done;
    expect(got.map((e) => e.newState)).toEqual([3, 1, 8, 9, 7]);
    const c = tracer.counters();
    expect(c).toMatchObject({ seen: got.length, delivered: got.length, filtered: 0, lost: 0 });
    await srv.close();
  });
});
