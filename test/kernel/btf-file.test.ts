// --btf FILE on a kernel without /sys/kernel/btf/vmlinux (Ubuntu 20.04's 5.4, RHEL 8.0/8.1, custom
// builds). tcptrace runs in a private mount namespace where a tmpfs over /sys/kernel/btf hides
// the kernel's own BTF, as on such a kernel. FILE is $TCPTRACE_TEST_BTF: scripts/test-kernels
// makes it for 5.10 from Debian's -dbg package with pahole --btf_encode_detached (README: Kernels
// without BTF), so CO-RE relocates against BTF made from DWARF, not the kernel's. Elsewhere it
// is a copy of the kernel's own BTF.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeKernel } from '../helpers/kernel';
import { NetNamespace, type Peer } from '../helpers/process';
import { runClient, servedBy, startServer } from '../helpers/servers';
import { patience } from '../helpers/patience';

const bin = path.resolve(__dirname, '../../bin/tcptrace');
const SERVER = ['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE'];

/** tcptrace ARGS with the kernel's BTF hidden; resolves when it exits (or is stopped after `during`). */
function withoutKernelBtf(args: string[], during?: () => Promise<void>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs none /sys/kernel/btf && exec "$0" "$@"', bin, ...args]);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  return (async () => {
    if (during) {
      const deadline = Date.now() + patience(20_000);
      while (!err.includes('tracing TCP') && child.exitCode === null) {
        if (Date.now() > deadline) throw new Error(`tcptrace did not attach: ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      if (child.exitCode === null) {
        await during();
        await new Promise((r) => setTimeout(r, patience(300)));
        child.kill('SIGINT');
      }
    }
    return { code: await closed, out, err };
  })();
}

describeKernel('--btf FILE on a kernel without its own BTF', () => {
  let dir: string;
  let btf: string;
  let ns: NetNamespace;
  let server: Peer;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tcptrace-btf-'));
    btf = process.env.TCPTRACE_TEST_BTF ?? path.join(dir, 'vmlinux.btf');
    if (!process.env.TCPTRACE_TEST_BTF) copyFileSync('/sys/kernel/btf/vmlinux', btf);
    ns = new NetNamespace();
  });
  afterAll(() => { server?.stop(); ns.delete(); rmSync(dir, { recursive: true, force: true }); });

  it('the BTF file exists', () => {
    expect(existsSync(btf), btf).toBe(true);
  });

  it('without --btf: one line that says what to do', async () => {
    const r = await withoutKernelBtf(['-d', '1', '--netns', String(ns.inode)]);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toEqual(['tcptrace: kernel BTF not found (/sys/kernel/btf/vmlinux): give tcptrace one with --btf FILE (README: Kernels without BTF)']);
  });

  it('--attach tp_btf with --btf: one line naming the missing piece', async () => {
    const r = await withoutKernelBtf(['--attach', 'tp_btf', '--btf', btf, '-d', '1']);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toMatch(/^tcptrace: --attach tp_btf needs the kernel's own BTF \(\/sys\/kernel\/btf\/vmlinux\); with --btf use --attach tracepoint$/);
  });

  it('with --btf FILE: the classic tracepoint, every transition and the first-use owner', async () => {
    server = startServer(ns, 'forkper');
    const { port, pid: parent } = (await server.next('port')) as { port: number; pid: number };
    let clients: number[] = [];
    let served = new Map<number, number>();
    const r = await withoutKernelBtf(['--btf', btf, '--json', '--netns', String(ns.inode)], async () => {
      clients = await runClient(ns, port, 2);
      served = await servedBy(server, clients);
    });
    expect(r.err).toMatch(/tracing TCP state changes \(tracepoint, (ring|perf) buffer; owners from accept, recv\)/);
    expect(r.err).toMatch(/ 0 lost/);
    const events = r.out.trim().split('\n').map((l) => JSON.parse(l));
    for (const cp of clients) {
      const mine = events.filter((e) => e.sport === port && e.dport === cp);
      expect(mine.map((e) => `${e.oldstate}->${e.newstate}`)).toEqual(SERVER);
      expect(mine[0].pid).toBe(parent);
      expect(mine.at(-1).pid).toBe(served.get(cp));
    }
  });

  it('a minimal file (bpftool gen min_core_btf: only the types tcptrace reads) works as well', async () => {
    const min = path.join(dir, 'tcptrace.btf');
    execFileSync('bpftool', ['gen', 'min_core_btf', btf, min, path.resolve(__dirname, '../../bpf/tcptrace.bpf.o')]);
    expect(statSync(min).size).toBeLessThan(64 * 1024);
    const r = await withoutKernelBtf(['--btf', min, '-q', '--netns', String(ns.inode)], async () => {});
    expect(r.err).toMatch(/tracing TCP state changes \(tracepoint, /);
    expect(r.err).toMatch(/ 0 lost/);
  });
});
