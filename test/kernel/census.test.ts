// Sockets in each state, as the command reports them (--summary, /metrics, the stream's
// `current`), against `ss -tan` in a namespace of the test's own: sockets made before
// tcptrace started and after, in every state the namespace can hold still.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { describeKernel, sleep } from '../helpers/kernel';
import { NetNamespace } from '../helpers/process';
import { sameCounts, ssCounts, StateBuilder } from '../helpers/states';
import { patience } from '../helpers/patience';

const bin = path.resolve(__dirname, '../../bin/tcptrace');

describeKernel('sockets in each state equal ss -tan (--netns)', () => {
  let ns: NetNamespace;
  let builder: StateBuilder;
  let tracer: ChildProcess | undefined;
  let undrop: () => void;
  const blackHole = 20000 + Math.floor(Math.random() * 20000);
  const build = (op: string, n: number) => builder.build(op, n);
  /** when the first TIME_WAIT was made: a TIME_WAIT lasts 60 s (TCP_TIMEWAIT_LEN), and an
   *  emulated guest (5.10 under QEMU) can take longer than that to reach the last count */
  let firstTimeWait = 0;
  const timeWaitsMayHaveExpired = () => Date.now() - firstTimeWait > 50_000;

  beforeAll(async () => {
    ns = new NetNamespace();
    // A new connect() may recycle a TIME_WAIT over 1 s old on loopback (tcp_tw_reuse=2, the
    // default): the test's own TIME_WAIT arithmetic needs none recycled (ss is the oracle either way).
    ns.run('sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=0');
    undrop = ns.dropSyns(blackHole);
    builder = new StateBuilder(ns, blackHole);
    await builder.ready();
    // Before tcptrace: sockets it can only know from the kernel's tables.
    await build('est', 100);
    firstTimeWait = Date.now();
    await build('tw', 40);
    await build('half', 10);
    await build('synsent', 3);
  });
  afterAll(() => {
    tracer?.kill('SIGKILL');
    builder?.stop();
    undrop?.();
    ns?.delete();
  });

  // No retry: a second try would start from the first one's sockets (the namespace is shared).
  it('--summary, /metrics and the stream agree with ss, before and after churn', { retry: 0, timeout: patience(60_000) }, async () => {
    // Connections come and go while tcptrace counts at start: some change state during the dump.
    await build('storm', 3000);
    const child = spawn(bin, ['--netns', String(ns.inode), '--summary', '--interval', '1', '--json', '--listen', '127.0.0.1:0', '--ring-size', '32M']);
    tracer = child;
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    let m: RegExpExecArray | null = null;
    const started = Date.now() + patience(15_000);
    while (!(m = /dashboard at http:\/\/127\.0\.0\.1:(\d+)\//.exec(err)) || !err.includes('tracing TCP')) {
      if (Date.now() > started) throw new Error(`tcptrace did not start: ${err}`);
      await sleep(20);
    }
    const port = m![1];
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?states=LISTEN`);
    let streamCurrent: Record<string, number> | undefined;
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      if (msg.type === 'stats') streamCurrent = msg.current;
    });
    const summaries = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.type === 'summary');
    const metrics = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const counts: Record<string, number> = {};
      for (const [, state, n] of text.matchAll(/^tcptrace_sockets\{state="(\w+)"\} (\d+)$/gm)) counts[state] = Number(n);
      return { counts, exact: /^tcptrace_sockets_exact 1$/m.test(text) };
    };

    /** Every reader equal to ss at once (the namespace is quiet; TIME_WAIT is ≤ 1 s old). */
    async function agree(what: string): Promise<void> {
      const end = Date.now() + patience(20_000); // a loss (busy machine) is followed by a recount within 5 s
      let last = '';
      for (;;) {
        const want = ssCounts(ns);
        const seen = summaries().length;
        while (summaries().length === seen) await sleep(50);
        const summary = summaries().at(-1);
        const metric = await metrics();
        const results = { summary: summary.current, metrics: metric.counts, stream: streamCurrent };
        last = JSON.stringify({ ss: want, ...results, notes: summary.census?.notes });
        const same = Object.values(results).every((r) => r !== undefined && sameCounts(r, want));
        // ss again: the namespace did not change while the readers were read
        if (same && summary.census?.exact && metric.exact && sameCounts(ssCounts(ns), want)) return;
        if (Date.now() > end) throw new Error(`${what}: counts differ from ss: ${last}`);
      }
    }

    while (!builder.peer.messages.some((x) => 'stormed' in x)) await sleep(50);
    const stormed = builder.peer.messages.find((x) => 'stormed' in x)!.stormed as { kept: number; closed: number };
    const before = ssCounts(ns);
    // (a storm connection reset under load closes without TIME_WAIT: at most that many fewer)
    expect(before).toMatchObject({ ESTABLISHED: 200 + 2 * stormed.kept, LISTEN: 2, FIN_WAIT2: 10, CLOSE_WAIT: 10, SYN_SENT: 3 });
    expect(before.TIME_WAIT).toBeLessThanOrEqual(40 + stormed.closed);
    if (!timeWaitsMayHaveExpired()) expect(before.TIME_WAIT).toBeGreaterThan(40 + stormed.closed * 0.9);
    await agree('at start, during a storm');

    // Churn after start: new sockets in every state, and old ones leaving theirs.
    await build('est', 60);
    await build('drop', 80); // 80 of the 160 kept: client TIME_WAIT, server gone
    await build('tw', 50);
    await build('half', 7);
    await build('synsent', 4);
    const after = ssCounts(ns);
    expect(after).toMatchObject({ ESTABLISHED: 160 + 2 * stormed.kept, FIN_WAIT2: 17, CLOSE_WAIT: 17, SYN_SENT: 7 });
    // the test's arithmetic, a check that the states were made (ss is the oracle the readers are
    // held to either way): a close reset under load leaves no TIME_WAIT (469 of 470 once on the
    // host), and on a slow guest the first ones may have expired
    expect(after.TIME_WAIT).toBeLessThanOrEqual(before.TIME_WAIT + 130);
    if (!timeWaitsMayHaveExpired()) expect(after.TIME_WAIT).toBeGreaterThan(before.TIME_WAIT + 130 * 0.9);
    await agree('after churn');
    ws.close();
    child.kill('SIGINT');
    await new Promise((r) => child.on('exit', r));
  });
});
