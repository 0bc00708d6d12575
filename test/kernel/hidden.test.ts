// On a kernel that runs no BPF program while PID 1 is the current task (a sandbox patch,
// marked by bpf_prog_aux.init_owned in its BTF), the tracer counts the state changes made then
// (bpf/hidden.bpf.h). The oracle is not ours: a tracefs instance on the same tracepoint, whose
// records name the thread group each call ran on top of (options/record-tgid). The count must lie
// between the calls tracefs recorded with tgid 1 strictly inside the tracer's life and those in
// the instance's whole window (usually the same number, often 0), under a storm that nests, so the
// sampling is also held where changes interrupt each other. Elsewhere: no note and 0.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { Tracer } from '../../src/tracer';
import { ensureTracefs } from '../../src/probe/tracefs';
import { describeKernel } from '../helpers/kernel';
import { patience } from '../helpers/patience';
import { buildStorm, storm } from '../helpers/storm';

const TRACEFS = '/sys/kernel/tracing';
const EVENT = 'events/sock/inet_sock_set_state/enable';

/** A tracefs instance recording every state change with its task's thread group. */
function openInstance(): string {
  const dir = `${TRACEFS}/instances/tcptrace-hidden-${process.pid}`;
  mkdirSync(dir);
  for (const [file, value] of [['buffer_size_kb', '32768'], ['trace_clock', 'mono'], ['options/record-tgid', '1'], [EVENT, '1']])
    writeFileSync(`${dir}/${file}`, value);
  return dir;
}

/** Monotonic times (ns) of the recorded calls made with a thread of PID 1 current. */
function pid1Calls(dir: string): number[] {
  writeFileSync(`${dir}/${EVENT}`, '0');
  const text = readFileSync(`${dir}/trace`, 'latin1');
  rmdirSync(dir);
  const times: number[] = [];
  // "<comm>-<pid> (<tgid>) [cpu] <flags> <seconds>: inet_sock_set_state: ...": read from the
  // right, a comm may hold anything
  for (const m of text.matchAll(/\(\s*(\d+|-+)\) +\[\d+\] +\S+ +(\d+\.\d+): inet_sock_set_state:/g))
    if (m[1] === '1') times.push(Number(m[2]) * 1e9);
  return times;
}

const now = () => Number(process.hrtime.bigint());

describeKernel('state changes a kernel hides from BPF while PID 1 runs', () => {
  it('are counted: as many as tracefs saw made on top of PID 1', { timeout: patience(120_000) }, async () => {
    const mounted = ensureTracefs();
    expect(mounted).toBe('');
    const dir = openInstance();
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
      const times = pid1Calls(dir);
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
