// -Y against a real systemd-journald: started in a private mount namespace with its socket
// directory and journal directory bind-mounted from a temporary directory, so the machine's
// own journal (if any) is untouched; read back with journalctl -D.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Tracer } from '../../src/tracer';
import { parseArgs } from '../../src/command/options';
import { buildSinks } from '../../src/sinks';
import { sinkOptions } from '../../src/command/sink-options';
import { Pipeline } from '../../src/pipeline';
import type { Sink } from '../../src/sinks/sink';
import { StatsEngine } from '../../src/derive/stats';
import { connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';
import { patience } from '../helpers/patience';
import { sampleStatus } from '../helpers/sample';

const JOURNALD = ['/usr/lib/systemd/systemd-journald', '/lib/systemd/systemd-journald'].find((p) => existsSync(p));

describeKernel('journal (-Y) into a real systemd-journald', () => {
  let dir: string;
  let journald: ChildProcess;
  let tracer: Tracer;
  let sinks: Sink[] = [];
  let server: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    if (!JOURNALD) throw new Error('systemd-journald not found: apt-get install systemd');
    dir = mkdtempSync(path.join(tmpdir(), 'tt-journald-'));
    mkdirSync(path.join(dir, 'sock'));
    mkdirSync(path.join(dir, 'log'));
    const script = path.join(dir, 'start.sh');
    writeFileSync(script, [
      'set -e',
      'mount -t tmpfs tmpfs /run',
      'mkdir -p /run/systemd/journal /run/log/journal',
      `mount --bind '${dir}/sock' /run/systemd/journal`,
      `mount --bind '${dir}/log' /run/log/journal`,
      '[ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal',
      `exec ${JOURNALD}`,
    ].join('\n'));
    journald = spawn('unshare', ['-m', '--propagation', 'private', 'bash', script], { stdio: 'ignore' });
    const socket = path.join(dir, 'sock', 'socket');
    const deadline = Date.now() + patience(10_000);
    while (!existsSync(socket)) {
      if (Date.now() > deadline || journald.exitCode !== null) throw new Error('systemd-journald did not start');
      await sleep(50);
    }
    // Only connections to this test's server (-D): other test files' floods stay out.
    server = await listen();
    const plan = parseArgs(['-q', '-Y', '--journal-socket', socket, '-D', String(server.port)]);
    tracer = Tracer.open({ filter: plan.filter });
    sinks = await buildSinks(sinkOptions(plan), { status: tracer, out: () => {}, log: () => {}, stats: new StatsEngine() });
    new Pipeline(tracer, sinks);
  });

  afterAll(() => {
    tracer?.close();
    for (const s of sinks) s.end?.(sampleStatus());
    journald?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores each transition with bcc-named fields', async () => {
    await connectAndClose(server.port);
    await server.close();
    const port = String(server.port);
    let entries: Record<string, string>[] = [];
    const deadline = Date.now() + patience(8000);
    while (Date.now() < deadline) {
      const r = spawnSync('journalctl', ['-D', path.join(dir, 'log'), '-o', 'json', '--no-pager', 'SYSLOG_IDENTIFIER=tcptrace', `OBJECT_TCP_DESTINATION_PORT=${port}`], { encoding: 'utf8' });
      entries = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      if (entries.some((e) => e.OBJECT_TCP_NEW_STATE === 'CLOSE')) break;
      await sleep(100);
    }
    const client = entries.map((e) => `${e.OBJECT_TCP_OLD_STATE}->${e.OBJECT_TCP_NEW_STATE}`);
    expect(client).toContain('SYN_SENT->ESTABLISHED');
    expect(client).toContain('ESTABLISHED->FIN_WAIT1');
    const est = entries.find((e) => e.OBJECT_TCP_NEW_STATE === 'ESTABLISHED' && e.OBJECT_TCP_OLD_STATE === 'SYN_SENT') as Record<string, string>;
    expect(est.OBJECT_IPV4_SOURCE_ADDRESS).toBe('127.0.0.1');
    expect(est.OBJECT_IPV4_DESTINATION_ADDRESS).toBe('127.0.0.1');
    expect(est.OBJECT_PID).toBe(String(process.pid));
    expect(est.OBJECT_COMM).toBeTruthy(); // added by journald from OBJECT_PID (we run as root)
    expect(Number(est.TCPTRACE_HANDSHAKE_US)).toBeGreaterThan(0);
    expect(est.PRIORITY).toBe('5');
    expect(est.MESSAGE).toMatch(new RegExp(`127\\.0\\.0\\.1 ${port} SYN_SENT → ESTABLISHED$`));
    expect(est._TRANSPORT).toBe('journal');
  });
});
