// Attach modes (tp_btf without tracefs, the classic tracepoint with it), the perf buffer
// fallback, and exact loss accounting when the ring buffer overflows.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { Capture, describeKernel, listen, sleep } from '../helpers/kernel';

const fixture = path.resolve(__dirname, '../fixtures/trace-one-connection.js');
const CLIENT = ['7->2', '2->1', '1->4', '4->5', '5->7'];

/** Runs the fixture in a private mount namespace after `setup` (shell) ran there. */
function inMountNamespace(setup: string, ...args: string[]): Record<string, unknown> {
  const out = execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${setup}; exec node "$0" "$@"`, fixture, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

/**
 * Another process makes n connections while this one's event loop is blocked, so nothing
 * drains the tracer's buffer during the burst.
 */
async function blockedBurst(port: number, n: number): Promise<void> {
  const script = `const net=require('net');let k=0;const done=()=>{if(++k===${n})process.exit(0)};` +
    `for(let i=0;i<${n};i++){const c=net.connect(${port},'127.0.0.1',()=>{c.destroy();done()});c.on('error',done)}`;
  execFileSync(process.execPath, ['-e', script], { timeout: 15_000 });
  await sleep(100);
}

/**
 * Traces with these options through a blocked burst of 200 connections, then checks that the
 * buffer overflowed and that the loss is accounted for exactly.
 */
async function expectCountedOverflow(options: ConstructorParameters<typeof Capture>[0]): Promise<void> {
  const cap = new Capture(options);
  const srv = await listen();
  try {
    await blockedBurst(srv.port, 200);
    const c = cap.close();
    expect(c.lost).toBeGreaterThan(0);
    expect(c.seen).toBe(c.delivered + c.filtered + c.lost);
    expect(cap.events.length).toBe(c.delivered);
  } finally {
    if (!cap.tracer.closed) cap.close();
    await srv.close();
  }
}

const UNMOUNT_TRACEFS = 'umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; true';
const MOUNT_TRACEFS = 'mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing';

describeKernel('attach and delivery modes', () => {
  it('tp_btf attaches with tracefs unmounted', () => {
    const r = inMountNamespace(`${UNMOUNT_TRACEFS}; test ! -e /sys/kernel/tracing/events/sock`, 'auto');
    expect(r).toMatchObject({ attach: 'tp_btf', delivery: 'ringbuf', mine: CLIENT });
  });

  it('the classic tracepoint attaches with tracefs mounted', () => {
    const r = inMountNamespace(MOUNT_TRACEFS, 'tracepoint');
    expect(r).toMatchObject({ attach: 'tracepoint', mine: CLIENT });
    expect(r.programs).toContain('set_state_tp');
  });

  it('the classic tracepoint mounts tracefs itself when it is missing', () => {
    const r = inMountNamespace(UNMOUNT_TRACEFS, 'tracepoint');
    expect(r).toMatchObject({ attach: 'tracepoint', mine: CLIENT });
  });

  it('perf buffer delivery', () => {
    const r = inMountNamespace('true', 'auto', 'perfbuf');
    expect(r).toMatchObject({ attach: 'tp_btf', delivery: 'perfbuf', mine: CLIENT });
    const c = r.counters as { seen: number; delivered: number; filtered: number; lost: number };
    expect(c.seen).toBe(c.delivered + c.filtered + c.lost);
  });

  it('overflow: a tiny ring and a burst lose events, counted exactly', async () => {
    // One page of ring, wakeups only when it is full, a slow flush: the burst must overflow.
    await expectCountedOverflow({ ringBytes: 4096, wakeupBytes: 1 << 20, flushMs: 2000, batchBytes: 4096 });
  });

  it('perf buffer overflow is counted exactly too', async () => {
    // One page per CPU and a blocked reader: the perf buffer must overflow.
    await expectCountedOverflow({ delivery: 'perfbuf', perfPages: 1, flushMs: 2000 });
  });
});
