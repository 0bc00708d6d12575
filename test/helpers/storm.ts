// bench/storm.c for the kernel tests: a FIN-closed loopback storm on ports the test owns, from
// more client threads than CPUs (so softirq changes interrupt process-context ones).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';

export function buildStorm(): string {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'tcptrace-storm-')), 'storm');
  execFileSync('gcc', ['-O2', '-pthread', '-o', out, path.resolve(__dirname, '../../bench/storm.c')]);
  return out;
}

/** `connections` connections to listeners on ports base..base+ports-1, each closed by FIN. */
export function storm(bin: string, base: number, ports: number, connections: number): Promise<void> {
  const threads = String(Math.max(8, 4 * cpus().length));
  const args = ['--connections', String(connections), '--threads', threads, '--close', 'fin', '--port-base', String(base), '--ports', String(ports)];
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`storm failed (${code}): ${err}`))));
  });
}
