// The lines of a capture: a file, a flight recorder's directory (its files in order), or stdin
// ('-'); plain, gzip or zstd (through the zstd program, when installed) as the first bytes say.
// Only whole lines are given: a capture cut short (killed, disk full, a truncated archive)
// ends at its last newline, and `cut` says why it ended early.
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export interface LineInput {
  lines: AsyncGenerator<string>;
  /** set once the lines are done: why the capture ended before its last line was whole */
  cut?: string;
}

/** The files a path names: itself, or a capture directory's capture files in name order. */
export function captureFiles(path: string): string[] {
  if (path === '-') return ['-'];
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!st.isDirectory()) return [path];
  const files = readdirSync(path).filter((f) => /^tcptrace-.*\.ndjson(\.gz|\.zst)?$/.test(f)).sort().map((f) => join(path, f));
  if (!files.length) throw new Error(`${path} holds no capture files (tcptrace-*.ndjson[.gz|.zst])`);
  return files;
}

/** A decompressor's verdict once its output ended: why the data was not whole, if it was not. */
type Verdict = Promise<string | undefined>;

/** Peeks at the first bytes and decompresses when they say gzip or zstd. */
async function decoded(raw: Readable, name: string): Promise<{ stream: Readable; verdict?: Verdict }> {
  const first: Buffer = await new Promise((resolve, reject) => {
    const onReadable = () => {
      const chunk = raw.read() as Buffer | null;
      cleanup();
      resolve(chunk ?? Buffer.alloc(0));
    };
    const onEnd = () => { cleanup(); resolve(Buffer.alloc(0)); };
    const onError = (err: Error) => { cleanup(); reject(new Error(`cannot read ${name}: ${err.message}`)); };
    const cleanup = () => { raw.off('readable', onReadable); raw.off('end', onEnd); raw.off('error', onError); };
    raw.on('readable', onReadable);
    raw.on('end', onEnd);
    raw.on('error', onError);
  });
  const head = new PassThrough();
  head.write(first);
  raw.pipe(head);
  raw.on('error', (err) => head.destroy(err));
  if (first[0] === 0x1f && first[1] === 0x8b) return { stream: head.pipe(createGunzip()) };
  if (first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd) {
    const z = spawn('zstd', ['-dcq'], { stdio: ['pipe', 'pipe', 'ignore'] });
    z.on('error', () => z.stdout.destroy(new Error('this capture is zstd-compressed and the zstd program is not installed (or: zstd -d FILE first)')));
    z.stdin.on('error', () => {});
    head.pipe(z.stdin);
    const verdict: Verdict = new Promise((resolve) => z.on('close', (code) => resolve(code ? 'compressed data ends early or is damaged (zstd)' : undefined)));
    return { stream: z.stdout, verdict };
  }
  return { stream: head };
}

export function openLines(path: string): LineInput {
  const input: LineInput = { lines: undefined as unknown as AsyncGenerator<string> };
  input.lines = (async function* () {
    for (const file of captureFiles(path)) {
      const raw = file === '-' ? process.stdin : createReadStream(file);
      const { stream, verdict } = await decoded(raw, file === '-' ? 'stdin' : file);
      let rest: Buffer = Buffer.alloc(0);
      try {
        for await (const chunk of stream) {
          const buf: Buffer = rest.length ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
          let start = 0;
          for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, start)) {
            if (nl > start) yield buf.toString('utf8', start, nl);
            start = nl + 1;
          }
          rest = buf.subarray(start);
        }
      } catch (err) {
        const msg = (err as Error).message;
        input.cut = /unexpected end|incomplete|truncated/i.test(msg) ? `${file}: compressed data ends early` : `${file}: ${msg}`;
      }
      const damaged = await verdict;
      if (damaged && !input.cut) input.cut = `${file}: ${damaged}`;
      if (rest.length && !input.cut) input.cut = `${file}: its last line is not whole (${rest.length} bytes)`;
    }
  })();
  return input;
}
