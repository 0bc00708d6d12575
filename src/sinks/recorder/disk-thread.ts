// The flight recorder's disk thread (a worker, at a lower CPU priority than the tracer): it
// compresses each chunk as one gzip member and appends it to its file, and removes the files the
// recorder no longer keeps. Compression and disk never run on the event loop, and when the CPU
// is short the tracer comes first: the recorder's queue fills, and past its bound lines are
// dropped and counted (files.ts) instead of the kernel losing events.
import { appendFileSync, rmSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';

export interface ChunkJob {
  id: number;
  file: string;
  /** the capture's header, for a chunk that starts a file */
  header?: string;
  data: Uint8Array;
}

export interface ChunkDone {
  id: number;
  /** bytes appended (0 on error) */
  bytes: number;
  /** errno code or message when the append failed */
  error?: string;
}

/** Below the tracer's priority (Linux: the nice value of this thread only). */
const NICE = 10;
const LEVEL = 1; // gzip's fastest: a storm's JSON comes at ~100 MB/s

if (parentPort) {
  const dir = (workerData as { dir: string }).dir;
  try { setPriority(0, NICE); } catch { /* not permitted: the default priority */ }
  parentPort.on('message', (m: ChunkJob | { remove: string[] }) => {
    if ('remove' in m) {
      for (const name of m.remove) rmSync(join(dir, name), { force: true });
      return;
    }
    const done: ChunkDone = { id: m.id, bytes: 0 };
    try {
      const parts = m.header ? [gzipSync(Buffer.from(m.header), { level: LEVEL })] : [];
      parts.push(gzipSync(m.data, { level: LEVEL }));
      const packed = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      appendFileSync(join(dir, m.file), packed);
      done.bytes = packed.length;
    } catch (err) {
      done.error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    }
    parentPort!.postMessage(done);
  });
}
