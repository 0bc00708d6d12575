// Least privilege after start-up (issue 24): a running tracer's threads, all of them, as the
// kernel reports them in /proc/PID/task/*/status: the capabilities each running feature needs
// and no other, no_new_privs, a seccomp filter, and with -Z the user's uid. Capabilities are per
// thread, so one thread left out (V8's workers, libuv's pool, the drain thread) would be a hole.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { CAP, neededCapabilities, PARK_UID } from '../../src/command/privileges';
import { describeKernel, listen, connectAndClose, sleep } from '../helpers/kernel';
import { patience } from '../helpers/patience';
import { attachedCli, bin, stopAll } from '../helpers/cli';

afterEach(() => stopAll());

interface ThreadStatus { name: string; uid: number[]; capEff: bigint; capPrm: bigint; noNewPrivs: number; seccomp: number }


function threads(pid: number): ThreadStatus[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(s)![1];
    return {
      name: field('Name'), uid: field('Uid').split(/\s+/).map(Number), capEff: BigInt(`0x${field('CapEff')}`), capPrm: BigInt(`0x${field('CapPrm')}`),
      noNewPrivs: Number(field('NoNewPrivs')), seccomp: Number(field('Seccomp')),
    };
  });
}

const mask = (caps: Iterable<number>) => [...caps].reduce((m, c) => m | (1n << BigInt(c)), 0n);

describeKernel('privileges after start-up', () => {
  it('every thread keeps only what owners need, with no_new_privs and seccomp; the one that blocks signals keeps nothing', async () => {
    const { child } = await attachedCli(['-q']);
    const keep = mask(neededCapabilities({ census: false }).keys());
    const all = threads(child.pid!);
    expect(all.length).toBeGreaterThan(5); // V8, libuv, the drain thread
    for (const t of all) {
      expect({ name: t.name, within: (t.capEff | t.capPrm) & ~keep }).toEqual({ name: t.name, within: 0n });
      expect({ name: t.name, nnp: t.noNewPrivs, seccomp: t.seccomp }).toEqual({ name: t.name, nnp: 1, seccomp: 2 });
    }
    expect(all.filter((t) => t.capEff === keep).length).toBeGreaterThanOrEqual(all.length - 1);
    expect(all.find((t) => t.name === 'tcptrace-drain')?.capEff).toBe(keep);
    // the one that blocks every signal: no capabilities, and a uid no account (nor nobody) uses
    for (const t of all.filter((x) => x.capEff !== keep)) expect([t.capEff, t.capPrm, t.uid[0]]).toEqual([0n, 0n, PARK_UID]);
    for (const t of all.filter((x) => x.capEff === keep)) expect(t.uid).toEqual([0, 0, 0, 0]);
  });

  it('the census (--summary) keeps CAP_SYS_ADMIN for setns, nothing else more', async () => {
    const { child } = await attachedCli(['--summary']);
    const keep = mask(neededCapabilities({ census: true }).keys());
    expect(keep & (1n << BigInt(CAP.SYS_ADMIN))).not.toBe(0n);
    for (const t of threads(child.pid!)) expect((t.capEff | t.capPrm) & ~keep).toBe(0n);
  });

  it('-Z nobody: every thread runs as nobody, and owners are still found', async () => {
    const { port, close } = await listen();
    const tracer = await attachedCli(['-Z', 'nobody', '-j', '-L', String(port)]);
    for (const t of threads(tracer.child.pid!)) {
      expect({ name: t.name, uid: t.uid }).toEqual({ name: t.name, uid: [65534, 65534, 65534, 65534] });
      // -j is a capture: it reads the connections still open at its end (sock_diag in every
      // namespace: setns), so it keeps what the census keeps and nothing more
      expect(t.capEff & ~mask(neededCapabilities({ census: true }).keys())).toBe(0n);
    }
    expect(tracer.stderr()).toMatch(/running as nobody \(uid 65534\)/);
    await connectAndClose(port);
    const deadline = Date.now() + patience(10_000);
    while (!tracer.stdout().includes('"newstate":"CLOSE"')) {
      if (Date.now() > deadline) throw new Error('no events');
      await sleep(50);
    }
    const events = tracer.stdout().trim().split('\n').map((l) => JSON.parse(l));
    expect(events.some((e) => e.pid === process.pid)).toBe(true); // this test process owns the sockets
    await close();
  });

  it('started with file capabilities instead of root (README): the drop works without CAP_SETUID and tracing goes on', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tcptrace-caps-'));
    const node = path.join(dir, 'node');
    copyFileSync(process.execPath, node);
    chmodSync(dir, 0o755);
    execFileSync('setcap', ['cap_bpf,cap_perfmon+ep', node]);
    const run = () => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', node, bin, '-q', '-v', '-d', '1'],
      { encoding: 'utf8', timeout: patience(20_000) });
    try {
      let r = run();
      // Before 5.11 BPF memory is charged to RLIMIT_MEMLOCK, which CAP_BPF and CAP_PERFMON do not
      // lift: the refusal must name it in one line, and be right (with CAP_SYS_RESOURCE it runs).
      const [major, minor] = os.release().split('.').map(Number);
      if (major < 5 || (major === 5 && minor < 11)) {
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`^tcptrace: permission denied loading BPF: run as root \\(sudo\\) or grant CAP_SYS_RESOURCE; Linux ${major}\\.${minor} charges BPF memory to RLIMIT_MEMLOCK`, 'm'));
        expect(r.stderr).not.toMatch(/\n\s+at /);
        execFileSync('setcap', ['cap_bpf,cap_perfmon,cap_sys_resource+ep', node]);
        r = run();
      }
      expect({ status: r.status, dropped: /privileges dropped after start-up: running as uid 65534/.test(r.stderr) }).toEqual({ status: 0, dropped: true });
      expect(r.stderr).toMatch(/events seen, \d+ delivered, 0 lost/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the seccomp filter: running a program is refused (EPERM), reading and the network still work', () => {
    const addon = path.resolve(__dirname, '../../build/Release/tcptrace.node');
    const script = `
      const b = require(${JSON.stringify(addon)});
      b.dropPrivileges({ keep: [], parkUid: 2147483646, seccomp: true });
      let exec = 'allowed'; try { require('child_process').execFileSync('/bin/true'); } catch (e) { exec = e.code; }
      const read = require('fs').readFileSync('/proc/self/status', 'utf8').length > 0;
      const net = require('net').createServer().listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ exec, read, listen: this.address().port > 0 })); this.close(); });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(JSON.parse(r.stdout)).toEqual({ exec: 'EPERM', read: true, listen: true });
  });

  it('--keep-privileges keeps them (the control)', async () => {
    const { child } = await attachedCli(['-q', '--keep-privileges']);
    for (const t of threads(child.pid!)) expect(t.noNewPrivs).toBe(0);
  });
});
