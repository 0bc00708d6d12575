// nginx from the distribution (master + 2 workers, daemonized), started after and before the
// tracer: every transition after accept names the worker that logged the request ($pid
// $remote_port in its own access log); the ones before name a live holder of the listener.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Capture, describeKernel, sleep, states } from '../helpers/kernel';
import { acceptOf, pidAlive, runClient, serverSide } from '../helpers/servers';
import { NetNamespace } from '../helpers/process';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(existsSync);
const SERVER = ['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE'];
const N = 12;

/** A random port: nothing else listens in the test's own namespace. */
function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 40000);
}

/** nginx with its own config in a temp dir, daemonized with a master and two workers, in `ns`. */
class Nginx {
  constructor(private readonly ns: NetNamespace) {}

  readonly dir = mkdtempSync(path.join(tmpdir(), 'tcptrace-nginx-'));
  port = 0;
  master = 0;
  workers: number[] = [];

  async start(): Promise<void> {
    this.port = randomPort();
    const d = this.dir;
    writeFileSync(path.join(d, 'nginx.conf'), `
daemon on;
master_process on;
worker_processes 2;
pid ${d}/nginx.pid;
error_log ${d}/error.log;
events { worker_connections 128; }
http {
  log_format owner '$pid $remote_port';
  access_log ${d}/access.log owner;
  client_body_temp_path ${d}/body;
  proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;
  server {
    listen 127.0.0.1:${this.port};
    location / { return 200 "ok\\n"; }
  }
}
`);
    execFileSync('ip', ['netns', 'exec', this.ns.name, NGINX!, '-p', d, '-c', path.join(d, 'nginx.conf'), '-e', path.join(d, 'error.log')]);
    this.master = Number(readFileSync(path.join(d, 'nginx.pid'), 'utf8'));
    for (let i = 0; i < 100 && this.workers.length < 2; i++) {
      this.workers = childrenOf(this.master);
      await sleep(20);
    }
    expect(this.workers.length).toBe(2);
  }

  /** client port → pid of the worker that logged the request */
  async servedBy(ports: number[]): Promise<Map<number, number>> {
    for (let i = 0; ; i++) {
      const text = existsSync(path.join(this.dir, 'access.log')) ? readFileSync(path.join(this.dir, 'access.log'), 'utf8') : '';
      const served = new Map(text.trim().split('\n').filter(Boolean).map((l) => l.split(' ').map(Number)).map(([pid, rp]) => [rp, pid]));
      if (ports.every((p) => served.has(p)) || i > 200) return served;
      await sleep(20);
    }
  }

  /** `nginx -s reload`; resolves once the old workers are gone from /proc and the new ones run. */
  async reload(): Promise<{ old: number[]; fresh: number[] }> {
    const old = this.workers;
    execFileSync('ip', ['netns', 'exec', this.ns.name, NGINX!, '-p', this.dir, '-c', path.join(this.dir, 'nginx.conf'), '-s', 'reload']);
    for (let i = 0; i < 500; i++) {
      const now = childrenOf(this.master);
      if (!old.some((p) => now.includes(p)) && now.length === 2) {
        this.workers = now;
        return { old, fresh: now };
      }
      await sleep(5);
    }
    throw new Error('nginx -s reload: the old workers did not leave');
  }

  stop(): void {
    try { process.kill(this.master, 'SIGTERM'); } catch { /* gone */ }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

const describeNginx = NGINX ? describeKernel : (((name: string, fn: () => void) => describe.skip(`${name} [skipped: nginx not installed (scripts/setup --test)]`, fn)) as typeof describe);

describeNginx('nginx (master + 2 workers, daemon on)', () => {
  const started: Nginx[] = [];
  const namespaces: NetNamespace[] = [];
  afterAll(() => { for (const n of started) n.stop(); for (const ns of namespaces) ns.delete(); });

  function fresh(): { ns: NetNamespace; nginx: Nginx } {
    const ns = new NetNamespace();
    namespaces.push(ns);
    const nginx = new Nginx(ns);
    started.push(nginx);
    return { ns, nginx };
  }

  async function check(cap: Capture, ns: NetNamespace, nginx: Nginx): Promise<void> {
    const clients = await runClient(ns, nginx.port, N, true);
    const served = await nginx.servedBy(clients);
    const holders = [nginx.master, ...nginx.workers];
    for (const cp of clients) {
      const evs = await serverSide(cap, nginx.port, cp);
      expect(states(evs)).toEqual(SERVER);
      const accept = acceptOf(cap, nginx.port, cp)!;
      expect(accept.pid).toBe(served.get(cp));
      const after = evs.filter((e) => e.tsNs > accept.tsNs);
      expect(after.length).toBe(3);
      expect(after.map((e) => e.pid)).toEqual(after.map(() => served.get(cp)));
      for (const e of evs.filter((x) => x.tsNs < accept.tsNs)) {
        expect(holders).toContain(e.pid);
        expect(pidAlive(e.pid)).toBe(true);
        for (const h of e.holders ?? []) expect(holders).toContain(h);
      }
    }
    // every connection was served by one of the two workers (often both take some)
    for (const cp of clients) expect(nginx.workers).toContain(served.get(cp));
  }

  it('started after tcptrace (its listen() ran in a process that exited)', async () => {
    const { ns, nginx } = fresh();
    const cap = new Capture({ filter: { netns: ns.inode } });
    try {
      await nginx.start();
      await check(cap, ns, nginx);
    } finally {
      cap.close();
    }
  });

  it('after nginx -s reload: holders never list a worker gone from /proc, and list the new ones', async () => {
    const { ns, nginx } = fresh();
    const cap = new Capture({ filter: { netns: ns.inode } });
    try {
      await nginx.start();
      await check(cap, ns, nginx); // the holders known: the master and the first workers
      const { old, fresh: workers } = await nginx.reload();
      // at once: the old answer (master and old workers) would be reused for 200 ms
      const clients = await runClient(ns, nginx.port, 4, true);
      for (const cp of clients) {
        const evs = await serverSide(cap, nginx.port, cp);
        const accept = acceptOf(cap, nginx.port, cp)!;
        for (const e of evs.filter((x) => x.tsNs < accept.tsNs)) {
          // the oracle: /proc after the reload (the old workers had left it before these connections)
          for (const pid of [e.pid, ...(e.holders ?? [])]) expect(old).not.toContain(pid);
          expect([nginx.master, ...workers]).toContain(e.pid);
          if (e.holders) expect([...e.holders].sort()).toEqual([nginx.master, ...workers].sort());
        }
      }
    } finally {
      cap.close();
    }
  });

  it('started before tcptrace', async () => {
    const { ns, nginx } = fresh();
    await nginx.start();
    const cap = new Capture({ filter: { netns: ns.inode } });
    try {
      await check(cap, ns, nginx);
    } finally {
      cap.close();
    }
  });
});
