// On a kernel that runs no BPF program while PID 1 is the current task (a sandbox patch,
// marked by bpf_prog_aux.init_owned in its BTF), the tracer counts the state changes made then
// (bpf/hidden.bpf.h). The oracle is not ours: a tracefs instance on the same tracepoint, whose
// records name the thread group each call ran on top of (options/record-tgid). The count must lie
// between the calls tracefs recorded with tgid 1 strictly inside the tracer's life and those in
// the instance's whole window (usually the same number, often 0), under a storm that nests, so the
// sampling is also held where changes interrupt each other. Elsewhere: no note and 0.
import net from 'node:net';
import { expect, it } from 'vitest';
import { Tracer } from '../../src/tracer';
import { describeKernel } from '../helpers/kernel';
import { patience } from '../helpers/patience';
import { Pid1Calls } from '../helpers/pid1-calls';
import { buildStorm, storm } from '../helpers/storm';

const now = () => Number(process.hrtime.bigint());

describeKernel('state changes a kernel hides from BPF while PID 1 runs', () => {
  it('are counted: as many as tracefs saw made on top of PID 1', { timeout: patience(120_000) }, async () => {
    const oracle = new Pid1Calls(['sock/inet_sock_set_state']);
    const beforeOpen = now();
    const tracer = Tracer.open({ attach: 'tp_btf', ringBytes: 64 << 20 });
    const afterOpen = now();
    try {
      const bin = buildStorm();
      // below the ephemeral range (32768 on), so no other socket of the host has these local ports
      const base = 10000 + Math.floor(Math.random() * 22000);
      for (let round = 0; round < 4; round++) await storm(bin, base, 16, 5_000);
    } finally {
      const beforeClose = now();
      const c = tracer.close();
      const afterClose = now();
      const times = oracle.stop().map((c) => c.ns);
      const inside = times.filter((t) => t > afterOpen && t < beforeClose).length;
      const window = times.filter((t) => t > beforeOpen && t < afterClose).length;
      if (!tracer.pid1Hiding) {
        expect(c.hidden).toBe(0);
      } else {
        expect(tracer.pid1Hiding.uncounted).toBe('');
        expect(c.hidden).toBeGreaterThanOrEqual(inside);
        expect(c.hidden).toBeLessThanOrEqual(window);
        expect(c.missed).toBeGreaterThanOrEqual(c.hidden);
      }
    }
  });
});

describeKernel('the count of what PID 1 hid, when perf cannot give it', () => {
  // perf_trace_run_bpf_submit: with a classic tracepoint BPF program on the tracepoint, perf counts
  // only the calls that program returns non-zero for (ours returns 0). A second tracer in that mode
  // must make the first say its count is no longer whole: the samples must be running to see it.
  it('a classic tracepoint program beside it: the count says it stopped being whole', { timeout: patience(60_000) }, async () => {
    const counting = Tracer.open({ attach: 'tp_btf' });
    try {
      if (!counting.pid1Hiding) return; // stock kernels: nothing is hidden, nothing counted
      expect(counting.pid1Hiding.uncounted).toBe('');
      const classic = Tracer.open({ attach: 'tracepoint' });
      try {
        const server = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1');
        await new Promise((r) => server.once('listening', r));
        const port = (server.address() as net.AddressInfo).port;
        for (let i = 0; i < 20; i++) {
          await new Promise<void>((r) => net.connect(port, '127.0.0.1').on('close', () => r()).on('error', () => r()));
        }
        server.close();
        counting.counters(); // a sample
      } finally {
        classic.close();
      }
      expect(counting.pid1Hiding.uncounted).toMatch(/classic sock:inet_sock_set_state tracepoint keeps perf from counting/);
    } finally {
      counting.close();
    }
  });
});
