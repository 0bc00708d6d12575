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

/** Starts `tcptrace ARGS`, or a shell command line that runs it (tracked for stopAll). */
export function startCli(args: string[], shell?: string): CliRun {
  const child = shell ? spawn('sh', ['-c', shell], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }); // as users run it: the shebang's flags too
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
export async function stopAll(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  for (const c of running.splice(0)) {
    c.kill(signal);
    if (c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r));
  }
}
