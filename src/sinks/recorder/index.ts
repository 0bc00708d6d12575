// --capture DIR: the flight recorder. The capture writer of -j (ndjson.ts) into rotating,
// compressed, size-bounded files (recorder-files.ts), for days; on demand (SIGUSR2, or the
// dashboard's button through POST /capture/save on the --listen server) the files that cover
// the last N minutes are saved as one capture under DIR/saved/. `tcptrace --replay` reads a
// file, a saved capture or the whole directory.
import { promises as fsp, createReadStream, createWriteStream } from 'node:fs';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { TcpEvent } from '../../decode/event';
import { sharedServer, type ListenAddress } from '../../http/server';
import { recordLine } from '../../format/capture-records';
import type { SinkInputs } from '../context';
import { CaptureWriter } from '../../format/capture-writer';
import { RecorderFiles } from './files';
import { GiveWay } from './give-way';
import type { Sink } from '../sink';
import type { StatusReport } from '../../status';

export interface RecorderOptions {
  dir: string;
  sizeBytes: number;
  lastMinutes: number;
  /** --listen: the dashboard's server, where the save button posts */
  listen?: ListenAddress;
}

/** What the files get at exit to be written (the whole shutdown is 2 s: src/cli.ts). */
const CLOSE_MS = 1500;
const MB = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;

export class RecorderSink implements Sink {
  readonly tickMs?: number;
  readonly ticksLast = true;
  private saving?: Promise<string>;
  private readonly giveWay = new GiveWay();

  private constructor(private readonly files: RecorderFiles, private readonly writer: CaptureWriter, private readonly options: RecorderOptions, private readonly log: (l: string) => void) {
    this.tickMs = writer.tickMs;
  }

  static async create(options: RecorderOptions, inputs: SinkInputs): Promise<RecorderSink> {
    const feed = inputs.capture;
    if (!feed) throw new Error('--capture needs the live tracer');
    const files = new RecorderFiles(options.dir, options.sizeBytes, () => recordLine(feed.header()), inputs.log, () => void feed.census?.full());
    try {
      await files.open();
    } catch (err) {
      throw new Error(`--capture: cannot use ${options.dir}: ${(err as Error).message}`);
    }
    const sink = new RecorderSink(files, new CaptureWriter(files.output, feed, () => files.linesNotCaptured), options, inputs.log);
    if (options.listen) await sink.serve(options.listen);
    inputs.log(`capture: recording to ${options.dir} (at most ${MB(options.sizeBytes)}; SIGUSR2 saves the last ${options.lastMinutes} min)`);
    return sink;
  }

  start(): void {
    this.writer.start();
  }

  write(batch: TcpEvent[]): void {
    if (this.gaveWay(batch)) return;
    this.writer.write(batch);
  }

  accepts(batch: TcpEvent[]): void {
    if (this.gaveWay(batch)) return;
    this.writer.accepts(batch);
  }

  /** The event loop is behind the kernel: the live outputs first, the batch's lines counted (give-way.ts). */
  private gaveWay(batch: TcpEvent[]): boolean {
    if (!this.giveWay.skips(batch)) return false;
    this.files.skip(batch.length, 'the tracer fell far behind the kernel (a quarter of its backlog): the recorder gave way to the live outputs');
    return true;
  }

  tick(status: StatusReport): void {
    this.writer.tick(status);
  }

  async end(): Promise<void> {
    this.writer.end();
    let said = false;
    const report = () => {
      if (said) return;
      said = true;
      const r = this.files.report();
      const lost = r.linesNotCaptured ? `; ${r.linesNotCaptured} lines not captured (${r.problem})` : '';
      this.log(`capture: ${r.files} files, ${MB(r.bytes)} in ${this.options.dir}${lost}`);
    };
    // The shutdown may end before the disk is done (a backlog took its time): the report still comes.
    const atExit = () => { this.files.countUnwritten(); report(); };
    process.once('exit', atExit);
    await this.files.close(CLOSE_MS);
    process.off('exit', atExit);
    report();
  }

  /** The last N minutes as one capture file; resolves to its path. */
  saveRecent(): Promise<string> {
    this.saving ??= this.save().finally(() => { this.saving = undefined; });
    return this.saving;
  }

  private async save(): Promise<string> {
    await this.files.flush();
    const parts = this.files.filesSince(this.options.lastMinutes * 60_000);
    const dir = join(this.options.dir, 'saved');
    await fsp.mkdir(dir, { recursive: true });
    const path = join(dir, `tcptrace-saved-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}.ndjson.gz`);
    const out = createWriteStream(path);
    // gzip files concatenated are one gzip stream: the parts are copied as they are.
    for (const part of parts) await pipeline(createReadStream(part), out, { end: false });
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const { size } = await fsp.stat(path);
    this.log(`capture: saved the last ${this.options.lastMinutes} min (${parts.length} files, ${MB(size)}) to ${path}`);
    return path;
  }

  /** GET /capture: the recorder's state; POST /capture/save: save now (the dashboard's button). */
  private async serve(listen: ListenAddress): Promise<void> {
    const server = await sharedServer(listen);
    const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    server.route('/capture', (_req, res) => json(res, 200, { dir: this.options.dir, last_minutes: this.options.lastMinutes, ...this.files.report() }));
    server.route('/capture/save', (req, res) => {
      if (req.method !== 'POST') return json(res, 405, { error: 'use POST' });
      this.saveRecent().then((path) => json(res, 200, { saved: basename(path), path }), (err: Error) => json(res, 500, { error: err.message }));
    });
  }
}
