// The oracle for calls a kernel hides from BPF while PID 1 runs (bpf/hidden.bpf.h): a tracefs
// instance on the same tracepoints, whose records name the thread group each call ran on top of
// (options/record-tgid). Not ours: ftrace runs whoever is current.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { loadBinding } from '../../src/native/binding';
import { ensureTracefs } from '../../src/probe/tracefs';

let instances = 0;

export class Pid1Calls {
  private readonly dir: string;
  private calls?: { event: string; ns: number }[];

  /** events: 'sock/inet_sock_set_state', 'tcp/tcp_retransmit_skb'...; filter: a tracefs filter for each */
  constructor(private readonly events: string[], filter = '') {
    const mounted = ensureTracefs();
    if (mounted) throw new Error(mounted);
    // where it is mounted: /sys/kernel/tracing, or under debugfs (5.10 guests)
    const root = loadBinding().tracefsRoots.find((r) => existsSync(`${r}/instances`));
    if (!root) throw new Error('tracefs has no instances directory');
    this.dir = `${root}/instances/tcptrace-pid1-${process.pid}-${instances++}`;
    mkdirSync(this.dir);
    for (const [file, value] of [['buffer_size_kb', '32768'], ['trace_clock', 'mono'], ['options/record-tgid', '1']])
      writeFileSync(`${this.dir}/${file}`, value);
    for (const e of events) {
      if (filter) writeFileSync(`${this.dir}/events/${e}/filter`, filter);
      writeFileSync(`${this.dir}/events/${e}/enable`, '1');
    }
  }

  /** Stops recording; the calls made with a thread of PID 1 current: event name, monotonic ns. */
  stop(): { event: string; ns: number }[] {
    if (this.calls) return this.calls;
    for (const e of this.events) writeFileSync(`${this.dir}/events/${e}/enable`, '0');
    const text = readFileSync(`${this.dir}/trace`, 'latin1');
    rmdirSync(this.dir);
    this.calls = [];
    // "<comm>-<pid> (<tgid>) [cpu] <flags> <seconds>: <event>: ...": read from the right, a comm
    // may hold anything
    for (const m of text.matchAll(/\(\s*(\d+|-+)\) +\[\d+\] +\S+ +(\d+\.\d+): (\w+):/g))
      if (m[1] === '1') this.calls.push({ event: m[3], ns: Number(m[2]) * 1e9 });
    return this.calls;
  }
}
