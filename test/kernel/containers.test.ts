// Network namespaces and cgroups the test makes itself: the kernel filters --netns and
// --cgroup keep exactly their sockets, and events carry the namespace, the owner's cgroup
// and the container id its path shows.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CgroupResolver, cgroup2Root } from '../../src/enrich/containers';
import { parseArgs } from '../../src/command/options';
import { toJsonEvent } from '../../src/format/schema';
import { CgroupEnricher } from '../../src/enrich/cgroup';
import { State } from '../../src/decode/states';
import { Capture, connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command to completion; resolves with its exit code. */
function exec(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

// A server and one client connection, entirely inside the namespace it runs in.
const IN_NS_SCRIPT = `
const net = require('net');
const s = net.createServer((c) => { c.on('end', () => c.end()); c.resume(); });
s.listen(Number(process.argv[1]), '127.0.0.1', () => {
  const c = net.connect(Number(process.argv[1]), '127.0.0.1', () => c.end());
  c.resume();
  c.on('close', () => setTimeout(() => s.close(), 50));
});`;

describeKernel('network namespaces (--netns)', () => {
  const ns = `tt-${randomBytes(4).toString('hex')}`;
  let ino = 0;

  beforeAll(() => {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    ino = statSync(`/run/netns/${ns}`).ino;
  });

  afterAll(() => {
    try { run('ip', ['netns', 'delete', ns]); } catch { /* already gone */ }
  });

  it('keeps only sockets of that namespace, labelled with it', async () => {
    const plan = parseArgs(['--netns', String(ino)]);
    expect(plan.filter.netns).toBe(ino);
    const cap = new Capture({ filter: plan.filter });
    try {
      // Traffic outside the namespace, at the same time.
      const outside = await listen();
      await connectAndClose(outside.port);
      const port = 20000 + (ino % 20000);
      expect(await exec('ip', ['netns', 'exec', ns, process.execPath, '-e', IN_NS_SCRIPT, String(port)])).toBe(0);
      await connectAndClose(outside.port);
      await cap.waitFor((evs) => evs.filter((e) => (e.sport === port || e.dport === port) && e.newState === State.CLOSE).length >= 3);
      await outside.close();
      await sleep(100);
      expect(cap.events.length).toBeGreaterThan(0);
      expect(cap.events.every((e) => e.netns === ino)).toBe(true);
      expect(cap.onPort(outside.port)).toEqual([]);
      const est = cap.client(port).find((e) => e.oldState === State.SYN_SENT && e.newState === State.ESTABLISHED);
      expect(est).toBeDefined();
      expect(toJsonEvent(est!).netns).toBe(ino);
    } finally {
      cap.close();
    }
  });
});

describeKernel('cgroups (--cgroup) and container ids', () => {
  const root = cgroup2Root();
  const containerId = randomBytes(32).toString('hex');
  let parent = '';
  let leaf = '';

  beforeAll(() => {
    if (!root) throw new Error('no cgroup v2 mount (need cgroup2 at /sys/fs/cgroup or /sys/fs/cgroup/unified)');
    parent = path.join(root, `tt-test-${randomBytes(4).toString('hex')}`);
    // Named the way Docker's systemd driver names a container's scope.
    leaf = path.join(parent, `docker-${containerId}.scope`);
    mkdirSync(leaf, { recursive: true });
  });

  afterAll(() => {
    for (const dir of [leaf, parent]) {
      for (let i = 0; i < 50; i++) {
        try { rmdirSync(dir); break; } catch { execFileSync('sleep', ['0.1']); }
      }
    }
  });

  it('keeps only sockets owned by tasks in the cgroup, and names the container', async () => {
    const plan = parseArgs(['--cgroup', leaf]);
    const id = statSync(leaf).ino;
    expect(plan.filter.cgroupId).toBe(id);
    const cap = new Capture({ filter: plan.filter });
    try {
      const server = await listen();
      // This test process (outside the cgroup) connects too: none of it may show.
      await connectAndClose(server.port);
      // A child that moves itself into the cgroup, connects to the server, and stays alive
      // (as a container's process would) until the test has looked its owner up.
      const client = `const c = require('net').connect(${server.port}, '127.0.0.1', () => c.end()); c.resume(); setTimeout(() => {}, 20000);`;
      const child = spawn('bash', ['-c', `echo $$ > '${leaf}/cgroup.procs' && exec '${process.execPath}' -e "${client}"`], { stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', r));
      try {
        await cap.waitFor((evs) => evs.some((e) => e.dport === server.port && e.newState === State.CLOSE));
        const est = cap.client(server.port).find((e) => e.oldState === State.SYN_SENT && e.newState === State.ESTABLISHED)!;
        expect(est.pid).toBe(child.pid);
        new CgroupEnricher().enrich([est]); // the pipeline's enrich stage
        const json = toJsonEvent(est);
        expect(json.cgroup_id).toBe(id);
        expect(json.cgroup).toBe(`/${path.basename(parent)}/docker-${containerId}.scope`);
        expect(json.container_id).toBe(containerId);
      } finally {
        child.kill();
        await exited;
      }
      await server.close();
      await sleep(100);
      expect(cap.events.every((e) => e.cgroupId === id)).toBe(true);
      const mine = cap.client(server.port);
      // Only the child's connection: one SYN_SENT, not the test's own.
      expect(mine.filter((e) => e.newState === State.SYN_SENT)).toHaveLength(1);
      expect(cap.accepted(server.port)).toEqual([]);
      // Once the process is gone, the id is still found (by scanning the cgroup tree).
      const late = new CgroupResolver(root);
      expect(late.resolve(id, mine[0].pid)?.container).toEqual({ runtime: 'docker', id: containerId });
    } finally {
      cap.close();
    }
  });
});
