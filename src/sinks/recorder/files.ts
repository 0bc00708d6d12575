// The flight recorder's files: what the capture writer hands over is copied into a queue, and
// the disk thread (disk-thread.ts, a worker) compresses each chunk as one gzip member and appends
// it to the current file of DIR, so a file killed mid-way still reads to its last member. The
// disk thread owns the files and the size bound (it starts the next file with the capture's
// header, and removes the oldest before an append would pass the bound); this side keeps their
// list from its answers. A slow or full disk, or a CPU too busy for the compression, never holds
// up the tracer: past MAX_QUEUED bytes waiting, or while writes fail, lines are dropped and
// counted exactly (whole lines: every chunk is whole writes), each reason said once, and writing
// resumes by itself.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { RETRY_MS, SharedState, sharedState, TOO_BIG, type ChunkDone, type ChunkJob, type DiskSetup } from './disk-thread';

/** Bytes waiting for the disk at most (queued and handed to the disk thread); beyond, lines are counted as not captured. */
const MAX_QUEUED = 64 << 20;
/** Pieces handed to the disk thread and not yet written, at most (it never waits for the busy event loop to hand the next). */
const MAX_IN_FLIGHT = 16; // (under SharedState.SLOTS)
/** Written at least this often, and whenever this much waits (each such piece is one gzip member). */
const FLUSH_MS = 1000;
const FLUSH_BYTES = 1 << 20;
/** Files the size bound is shared by. */
const FILES = 8;
export const FILE_PATTERN = /^tcptrace-\d{8}T\d{6}-\d{6}\.ndjson\.gz$/;

export interface RecorderReport {
  files: number;
  bytes: number;
  /** lines dropped: the disk was slow (queue full) or writes failed */
  linesNotCaptured: number;
  /** why lines were last dropped, when they were */
  problem?: string;
}

interface FileInfo { name: string; bytes: number; mtimeMs: number }

function countLines(b: Uint8Array | string): number {
  let n = 0;
  if (typeof b === 'string') { for (let i = b.indexOf('\n'); i >= 0; i = b.indexOf('\n', i + 1)) n++; } else { for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) n++; }
  return n;
}

export class RecorderFiles {
  private readonly files: FileInfo[] = [];
  /** pieces waiting for the disk thread, each its own memory (transferred, never copied again) */
  private queue: Buffer[] = [];
  private queued = 0;
  /** the piece being filled: the writer's lent bytes are copied straight into it */
  private fill?: Buffer;
  /** pieces the disk thread has written and handed back, to be filled again */
  private spare: Buffer[] = [];
  private fillAt = 0;
  /** chunks handed to the disk thread: their lines and bytes, by id */
  private readonly inFlight = new Map<number, { lines: number; bytes: number }>();
  private inFlightBytes = 0;
  private nextId = 0;
  private worker?: Worker;
  private readonly shared = sharedState();
  private drained: (() => void)[] = [];
  private failedAt = 0;
  /** files this run started */
  private started = 0;
  private timer?: NodeJS.Timeout;
  private readonly fileBytes: number;
  /** files before this index are a previous run's */
  private ownFrom = 0;
  linesNotCaptured = 0;
  problem?: string;
  /** the reason said last on stderr (each is said once, again only after writing resumed) */
  private said?: string;

  /** `header` starts every file after the first; `newFile` runs when one of those starts (a fresh census). */
  constructor(readonly dir: string, private readonly sizeBytes: number, private readonly header: () => string,
    private readonly log: (line: string) => void, private readonly newFile: () => void) {
    this.fileBytes = Math.max(256 << 10, Math.floor(sizeBytes / FILES));
  }

  /** Creates DIR and counts the files a previous run left (they share the bound). */
  async open(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    for (const name of (await fsp.readdir(this.dir)).filter((n) => FILE_PATTERN.test(n)).sort()) {
      const st = await fsp.stat(join(this.dir, name));
      this.files.push({ name, bytes: st.size, mtimeMs: st.mtimeMs });
    }
    this.ownFrom = this.files.length;
    const setup: DiskSetup = { shared: this.shared, dir: this.dir, sizeBytes: this.sizeBytes, fileBytes: this.fileBytes, files: this.files.map(({ name, bytes }) => ({ name, bytes })) };
    this.worker = new Worker(join(__dirname, 'disk-thread.js'), { workerData: setup });
    this.worker.on('message', (m: ChunkDone) => this.done(m));
    this.worker.on('error', (err) => this.log(`capture: the disk thread failed: ${err.message}`));
    this.worker.unref();
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  /** The capture writer's output: copied (its bytes are lent), never waited for. */
  readonly output = (chunk: string | Uint8Array): void => {
    const len = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (this.queued + this.inFlightBytes + len > MAX_QUEUED || (this.failedAt && Date.now() - this.failedAt < RETRY_MS)) {
      this.drop(countLines(chunk), this.failedAt ? this.problem! : `the recorder fell behind the events: more than ${MAX_QUEUED >> 20} MiB waited for compression and the disk`);
      return;
    }
    if (!this.fill || this.fillAt + len > this.fill.length) {
      this.seal();
      // Memory written once is cheap to write again: filling a fresh MiB cost the event loop
      // 0.2-0.6 ms more (page faults, and GCs for the external memory), ~100-300 ns a line.
      const spare = this.spare.pop();
      this.fill = spare && spare.length >= len ? spare : Buffer.allocUnsafeSlow(Math.max(FLUSH_BYTES, len));
    }
    if (typeof chunk === 'string') this.fill.write(chunk, this.fillAt);
    else this.fill.set(chunk, this.fillAt);
    this.fillAt += len;
    this.queued += len;
    if (this.queued >= FLUSH_BYTES) void this.flush();
  };

  /** The piece being filled joins the queue. */
  private seal(): void {
    if (this.fill && this.fillAt) this.queue.push(this.fill.subarray(0, this.fillAt));
    this.fill = undefined;
    this.fillAt = 0;
  }

  /** Hands what waits to the disk thread (a chunk or two at once); resolves when nothing is in flight. */
  flush(): Promise<void> {
    this.seal();
    while (this.queued && this.inFlight.size < MAX_IN_FLIGHT) this.pack();
    if (!this.inFlight.size) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private pack(): void {
    // one piece (whole writes, so whole lines), in its own memory: transferred to the disk thread
    const data = this.queue.shift()!;
    this.queued -= data.length;
    const job: ChunkJob = { id: ++this.nextId, header: this.header(), data };
    this.inFlight.set(job.id, { lines: countLines(data), bytes: data.length });
    this.inFlightBytes += data.length;
    this.worker!.postMessage(job, [data.buffer as ArrayBuffer]);
  }

  private done(m: ChunkDone): void {
    if (m.data && this.spare.length < MAX_IN_FLIGHT) this.spare.push(Buffer.from(m.data.buffer, 0, m.data.buffer.byteLength));
    const chunk = this.inFlight.get(m.id);
    if (!chunk) return;
    this.inFlight.delete(m.id);
    this.inFlightBytes -= chunk.bytes;
    this.forget(m.removed);
    if (m.file) {
      let file = this.files.find((f) => f.name === m.file);
      if (m.started || !file) {
        file = { name: m.file, bytes: 0, mtimeMs: Date.now() };
        this.files.push(file);
        if (++this.started > 1) this.newFile(); // the first file's census is the writer's own
      }
      file.bytes += m.bytes;
      file.mtimeMs = Date.now();
    }
    if (m.error) {
      const why = m.error === TOO_BIG ? m.error : `cannot write to ${this.dir}: ${m.error === 'ENOSPC' ? 'the disk is full' : m.error === 'EDQUOT' ? 'the disk quota is used up' : m.error}`;
      if (m.error !== TOO_BIG) this.failedAt = Date.now();
      this.drop(chunk.lines, why);
    } else {
      if (this.failedAt) {
        this.log(`capture: writing to ${this.dir} again (${this.linesNotCaptured} lines not captured meanwhile)`);
        this.said = undefined;
      }
      this.failedAt = 0;
    }
    if (this.queued >= FLUSH_BYTES) void this.flush();
    if (!this.inFlight.size) for (const resolve of this.drained.splice(0)) resolve();
  }

  /** The disk thread removed these to keep the bound. */
  private forget(removed: string[]): void {
    for (const name of removed) {
      const i = this.files.findIndex((f) => f.name === name);
      if (i < 0) continue;
      this.files.splice(i, 1);
      if (i < this.ownFrom) this.ownFrom--;
    }
  }

  /** Lines the recorder chose not to write (the tracer was behind), counted as the others. */
  skip(lines: number, why: string): void {
    this.drop(lines, why);
  }

  private drop(lines: number, why: string): void {
    this.linesNotCaptured += lines;
    this.problem = why;
    if (this.said !== why) {
      this.said = why;
      this.log(`capture: ${why}; lines are counted and dropped from the capture, tracing goes on`);
    }
  }

  /** The files that cover the last `ms` (the one before them holds its start), oldest first. */
  filesSince(ms: number): string[] {
    const from = Date.now() - ms;
    const own = this.files.slice(this.ownFrom);
    const i = own.findIndex((f) => f.mtimeMs >= from);
    return i < 0 ? [] : own.slice(Math.max(0, i - 1)).map((f) => join(this.dir, f.name));
  }

  report(): RecorderReport {
    return { files: this.files.length, bytes: this.files.reduce((n, f) => n + f.bytes, 0), linesNotCaptured: this.linesNotCaptured, problem: this.problem };
  }

  /** Writes what is left; past `ms`, what is still not written is counted as not captured. */
  async close(ms: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const deadline = Date.now() + ms;
    const timeLeft = () => new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())));
    while ((this.queued || this.inFlight.size) && Date.now() < deadline) await Promise.race([this.flush(), timeLeft()]);
    this.countUnwritten();
    void this.worker?.terminate();
  }

  /** At exit: what is still queued or being written is counted as not captured (once). */
  countUnwritten(): void {
    let left = 0;
    // the disk thread is held between two appends and stopped; what it wrote is then known
    // (a thread that never lets go, e.g. one stopped mid-way, leaves all in flight counted)
    const state = new Int32Array(this.shared);
    const { LOCK, STOPPED, FIRST_SLOT, SLOTS } = SharedState;
    const until = Date.now() + 200;
    let held = false;
    while (!(held = Atomics.compareExchange(state, LOCK, 0, 1) === 0) && Date.now() < until) Atomics.wait(state, LOCK, 1, 10);
    if (held) {
      Atomics.store(state, STOPPED, 1);
      Atomics.store(state, LOCK, 0);
      Atomics.notify(state, LOCK);
    }
    for (const [id, c] of this.inFlight) if (!held || state[FIRST_SLOT + (id % SLOTS)] !== id) left += c.lines;
    this.seal();
    for (const b of this.queue) left += countLines(b);
    this.inFlight.clear();
    this.queue = [];
    this.queued = 0;
    if (left) this.drop(left, 'the disk was slower than the events at exit: the rest was not written within the shutdown time');
  }
}
