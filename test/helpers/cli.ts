// tcptrace as users run it: bin/tcptrace in a subprocess, its output collected as it comes.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { sleep } from './kernel';
import { patience } from './patience';

export const bin = path.resolve(__dirname, '../../bin/tcptrace');

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** resolves with the exit code (null when killed by a signal) */
  exited: Promise<number | null>;
}

const running: ChildProcess[] = [];

/** Starts `tcptrace ARGS` (tracked for stopAll). */
export function startCli(args: string[]): CliRun {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Starts `tcptrace ARGS` and waits for its start line (it then traces). */
export async function attachedCli(args: string[]): Promise<CliRun> {
  const run = startCli(args);
  const deadline = Date.now() + patience(15_000);
  while (!run.stderr().includes('tracing TCP state changes')) {
    if (Date.now() > deadline || run.child.exitCode !== null) throw new Error(`tracer did not start: ${run.stderr()}`);
    await sleep(50);
  }
  return run;
}

/** Stops every tracer started since the last call (SIGINT, as a user would) and waits for each. */
export async function stopAll(): Promise<void> {
  for (const c of running.splice(0)) {
    c.kill('SIGINT');
    if (c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r));
  }
}
