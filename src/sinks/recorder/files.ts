// The flight recorder's files: what the capture writer hands over is copied, compressed off the
// event loop (zlib on the thread pool, one gzip member per write, so a file killed mid-way
// still reads to its last member) and appended to the current file of DIR; past a file's share
// of the size bound the next file begins (with the capture's header, so each file replays on its
// own), and the oldest files go while all of them together are over the bound. A slow or full
// disk never holds up the tracer: past MAX_QUEUED bytes waiting for the disk, or while writes
// fail, lines are dropped and counted, the reason said once, and writing resumes by itself.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
/** Bytes waiting for the disk at most; beyond, lines are counted as not captured. */
const MAX_QUEUED = 64 << 20;
/** Chunks compressed at once (the thread pool has 4 threads; the tracer needs a CPU too). */
const MAX_PACKING = 2;
/** gzip's fastest level: a storm's JSON is ~100 MB/s, level 6 would not keep up (BENCHMARKS.md). */
const LEVEL = 1;
/** Input compressed at once, at most (its output buffer is as large). */
const PACK_BYTES = 8 << 20;
/** Written at least this often, and whenever this much waits. */
const FLUSH_MS = 1000;
const FLUSH_BYTES = 1 << 20;
/** After a failed write, the next try. */
const RETRY_MS = 5000;
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
  private queue: Buffer[] = [];
  private queued = 0;
  /** chunks being compressed, and the appends in order */
  private packing = 0;
  private tail: Promise<void> = Promise.resolve();
  /** lines handed to compression or the disk, not yet written */
  private linesPending = 0;
  private current?: FileInfo;
  private seq = 0;
  private failedAt = 0;
  private timer?: NodeJS.Timeout;
  private readonly fileBytes: number;
  /** files before this index are a previous run's */
  private ownFrom = 0;
  linesNotCaptured = 0;
  problem?: string;
  private problemSaid = false;

  /** `header` starts every file after the first; `newFile` runs when one starts (a fresh census). */
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
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  /** The capture writer's output: copied (its bytes are lent), never waited for. */
  readonly output = (chunk: string | Uint8Array): void => {
    const len = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (this.queued + len > MAX_QUEUED || (this.failedAt && Date.now() - this.failedAt < RETRY_MS)) {
      this.drop(countLines(chunk), this.failedAt ? this.problem! : `the disk is slower than the events: more than ${MAX_QUEUED >> 20} MiB waited`);
      return;
    }
    this.queue.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    this.queued += len;
    if (this.queued >= FLUSH_BYTES) void this.flush();
  };

  /** Starts compressing what waits (a few chunks at once, on the thread pool); resolves when all is on disk or dropped. */
  flush(): Promise<void> {
    while (this.queued && this.packing < MAX_PACKING) this.pack();
    return this.tail;
  }

  private pack(): void {
    // at most PACK_BYTES at once (the chunks are whole writes, so whole lines)
    let take = 0;
    let bytes = 0;
    while (take < this.queue.length && (take === 0 || bytes + this.queue[take].length <= PACK_BYTES)) bytes += this.queue[take++].length;
    const data = Buffer.concat(this.queue.splice(0, take));
    this.queued -= bytes;
    const lines = countLines(data);
    this.linesPending += lines;
    this.packing++;
    // One output buffer as large as the input: zlib's async path takes a trip through the event
    // loop per output chunk, and under a storm the loop turns slowly (16 KiB chunks stalled it).
    const packed = gzipAsync(data, { level: LEVEL, chunkSize: Math.max(64 << 10, data.length) }).finally(() => {
      this.packing--;
      if (this.queued >= FLUSH_BYTES) void this.flush();
    });
    packed.catch(() => {}); // its failure is the append's to count
    // appended in order, one at a time
    this.tail = this.tail.then(() => this.append(packed, lines));
  }

  private async append(packed: Promise<Buffer>, lines: number): Promise<void> {
    try {
      let bytes = await packed;
      if (!this.current || this.current.bytes >= this.fileBytes) {
        const startsCapture = this.seq === 0;
        this.current = { name: this.fileName(), bytes: 0, mtimeMs: Date.now() };
        this.files.push(this.current);
        // The very first file begins with the writer's own header; the others get one here.
        if (!startsCapture) {
          bytes = Buffer.concat([await gzipAsync(Buffer.from(this.header()), { level: LEVEL }), bytes]);
          this.newFile();
        }
      }
      await fsp.appendFile(join(this.dir, this.current.name), bytes);
      this.current.bytes += bytes.length;
      this.current.mtimeMs = Date.now();
      if (this.failedAt) this.log(`capture: writing to ${this.dir} again (${this.linesNotCaptured} lines not captured meanwhile)`);
      this.failedAt = 0;
      this.problemSaid = false;
      await this.trim();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOSPC' ? 'the disk is full' : e.code === 'EDQUOT' ? 'the disk quota is used up' : e.message;
      this.failedAt = Date.now();
      this.current = undefined; // resume in a new file that starts with a header
      this.drop(lines, `cannot write to ${this.dir}: ${why}`);
    } finally {
      this.linesPending -= lines;
    }
  }

  /** Removes the oldest files while all of them are over the bound (never the current one). */
  private async trim(): Promise<void> {
    let total = this.files.reduce((n, f) => n + f.bytes, 0);
    while (total > this.sizeBytes && this.files.length > 1 && this.files[0] !== this.current) {
      const old = this.files.shift()!;
      if (this.ownFrom) this.ownFrom--;
      total -= old.bytes;
      await fsp.rm(join(this.dir, old.name), { force: true });
    }
  }

  private drop(lines: number, why: string): void {
    this.linesNotCaptured += lines;
    this.problem = why;
    if (!this.problemSaid) {
      this.problemSaid = true;
      this.log(`capture: ${why}; lines are counted and dropped from the capture, tracing goes on`);
    }
  }

  private fileName(): string {
    const t = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
    return `tcptrace-${t}-${String(++this.seq).padStart(6, '0')}.ndjson.gz`;
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
    while ((this.queued || this.packing) && Date.now() < deadline) {
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())))]);
    }
    await Promise.race([this.tail, new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())))]);
    const left = this.linesPending + this.queue.reduce((n, b) => n + countLines(b), 0);
    if (left) this.drop(left, 'the disk was slower than the events at exit: the rest was not written within the shutdown time');
  }
}
