// The flight recorder's disk thread (a worker): it compresses each chunk as one gzip member,
// keeps the size bound and appends the member to the current file. It owns the files: it starts
// the next one (with the capture's header) past a file's share of the bound, and removes the
// oldest BEFORE an append would take all of them over the bound, so the directory never holds
// more than the bound, even for a moment. Compression and disk never run on the event loop.
//
// Its CPU priority is the tracer's (it was nice 10): under a storm that fills both CPUs with
// work at the default priority, a nice 10 thread got ~4 % of a CPU, a fifth of what gzip -1
// needs for 20 000 connections/s, and a third of the lines were dropped (BENCHMARKS.md).
import { appendFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';

export interface ChunkJob {
  id: number;
  /** the capture's header line: begins every file of this run but the first */
  header: string;
  data: Uint8Array;
}

export interface ChunkDone {
  id: number;
  /** the file the chunk went to (when it was written) */
  file?: string;
  /** the chunk began that file */
  started?: boolean;
  /** bytes appended (a failed append may leave some) */
  bytes: number;
  /** the files removed to keep the bound */
  removed: string[];
  /** why the chunk was not written: an errno code, or a sentence */
  error?: string;
  /** the chunk's memory, handed back to be filled again (fresh memory costs the event loop its page faults) */
  data?: Uint8Array;
}

export interface DiskSetup {
  /** shared with the tracer: see SharedState */
  shared?: SharedArrayBuffer;
  dir: string;
  sizeBytes: number;
  fileBytes: number;
  /** the files a previous run left, oldest first (they share the bound) */
  files: { name: string; bytes: number }[];
}

/**
 * What the tracer learns without waiting for messages, at exit: LOCK is held by the disk thread
 * while it appends (and by the tracer while it looks); STOPPED refuses every later chunk; slot
 * id % SLOTS holds id once chunk id is on disk, -id when it failed. So the lines not captured
 * at exit are counted exactly, even when the answers were still on their way.
 */
export const SharedState = { LOCK: 0, STOPPED: 1, FIRST_SLOT: 2, SLOTS: 64 } as const;
export const sharedState = (): SharedArrayBuffer => new SharedArrayBuffer(4 * (SharedState.FIRST_SLOT + SharedState.SLOTS));

const LEVEL = 1; // gzip's fastest: ~700 MB/s of capture JSON on this machine's CPU
/** After a failed write, the chunks of the next RETRY_MS are not tried (files.ts counts them). */
export const RETRY_MS = 5000;
export const TOO_BIG = 'one piece is larger than the size bound';

export class DiskFiles {
  private readonly files: { name: string; bytes: number }[];
  private current?: { name: string; bytes: number };
  private seq = 0;
  private failedAt = 0;
  private failure = '';

  constructor(private readonly s: DiskSetup, private readonly stamp: () => Date = () => new Date()) {
    this.files = s.files.map((f) => ({ ...f }));
  }

  get total(): number {
    return this.files.reduce((n, f) => n + f.bytes, 0);
  }

  write(job: ChunkJob): ChunkDone {
    const done: ChunkDone = { id: job.id, bytes: 0, removed: [] };
    if (this.failedAt && Date.now() - this.failedAt < RETRY_MS) return { ...done, error: this.failure };
    const starting = !this.current || this.current.bytes >= this.s.fileBytes;
    const data = gzipSync(job.data, { level: LEVEL });
    const packed = starting && this.seq > 0 ? Buffer.concat([gzipSync(Buffer.from(job.header), { level: LEVEL }), data]) : data;
    const file = starting ? { name: this.fileName(), bytes: 0 } : this.current!;
    // a member that cannot fit even once every other file went: nothing is removed for it
    if (file.bytes + packed.length > this.s.sizeBytes) return { ...done, error: TOO_BIG };
    // room first: the oldest files go (never the one written to) until this member fits the bound
    let total = this.total;
    while (total + packed.length > this.s.sizeBytes && this.files.length && this.files[0] !== file) {
      const old = this.files.shift()!;
      total -= old.bytes;
      rmSync(join(this.s.dir, old.name), { force: true });
      done.removed.push(old.name);
    }
    if (total + packed.length > this.s.sizeBytes) return { ...done, error: TOO_BIG };
    if (starting) {
      this.files.push(file);
      this.current = file;
    }
    const path = join(this.s.dir, file.name);
    const before = file.bytes;
    try {
      appendFileSync(path, packed);
      file.bytes += packed.length;
      this.failedAt = 0;
      return { ...done, file: file.name, started: starting, bytes: packed.length };
    } catch (err) {
      // a partial append stays on disk and counts; the next write starts a new file, with a header
      try { file.bytes = statSync(path).size; } catch { file.bytes = before; }
      this.current = undefined;
      this.failedAt = Date.now();
      this.failure = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return { ...done, file: file.name, started: starting, bytes: file.bytes - before, error: this.failure };
    }
  }

  /** A new file's name: the second, and a count; never a name a file already has (a previous
   *  run started within the same second). */
  private fileName(): string {
    const t = this.stamp().toISOString().replace(/[-:]/g, '').slice(0, 15);
    let name: string;
    do name = `tcptrace-${t}-${String(++this.seq).padStart(6, '0')}.ndjson.gz`;
    while (this.files.some((f) => f.name === name));
    return name;
  }
}

if (parentPort) {
  const setup = workerData as DiskSetup;
  const disk = new DiskFiles(setup);
  const state = new Int32Array(setup.shared!);
  const { LOCK, STOPPED, FIRST_SLOT, SLOTS } = SharedState;
  parentPort.on('message', (job: ChunkJob) => {
    while (Atomics.compareExchange(state, LOCK, 0, 1) !== 0) Atomics.wait(state, LOCK, 1, 10);
    const done = Atomics.load(state, STOPPED) ? undefined : disk.write(job);
    if (done) Atomics.store(state, FIRST_SLOT + (job.id % SLOTS), done.error ? -job.id : job.id);
    Atomics.store(state, LOCK, 0);
    Atomics.notify(state, LOCK);
    if (done) parentPort!.postMessage({ ...done, data: job.data }, [job.data.buffer as ArrayBuffer]);
  });
}
