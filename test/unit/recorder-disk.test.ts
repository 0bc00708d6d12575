// The flight recorder's disk thread (src/sinks/recorder/disk-thread.ts) keeps the size bound
// before every append: the directory never holds more than --capture-size, counting the files a
// previous run left; each file after the first starts with the capture header; a piece that no
// file could hold is refused, not written past the bound.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskFiles, TOO_BIG } from '../../src/sinks/recorder/disk-thread';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });

function lines(seed: number, n: number): Buffer {
  // capture-like JSON with some entropy, so that members differ in size
  let s = '';
  for (let i = 0; i < n; i++) s += `{"v":2,"ts_ns":${seed * 1e6 + i * 7919},"skaddr":"ffff${((seed * 2654435761 + i * 40503) >>> 0).toString(16)}","sport":${(seed * 31 + i) % 65536}}\n`;
  return Buffer.from(s);
}

const onDisk = (dir: string) => fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);

describe('the disk thread', () => {
  it('never has more than the bound on disk, with a previous run\'s files counted and removed first', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recorder-disk-'));
    dirs.push(dir);
    const old = 'tcptrace-20260101T000000-000001.ndjson.gz';
    fs.writeFileSync(path.join(dir, old), Buffer.alloc(300 << 10));
    const sizeBytes = 1 << 20;
    let t = Date.parse('2026-12-05T21:00:00Z');
    const disk = new DiskFiles({ dir, sizeBytes, fileBytes: 256 << 10, files: [{ name: old, bytes: 300 << 10 }] }, () => new Date((t += 1000)));
    let peak = 0;
    let written = 0;
    for (let i = 0; i < 400; i++) {
      const done = disk.write({ id: i, header: '{"type":"capture"}\n', data: lines(i, 2000) });
      expect(done.error).toBeUndefined();
      written += done.bytes;
      peak = Math.max(peak, onDisk(dir));
      expect(onDisk(dir)).toBe(disk.total);
    }
    expect(written).toBeGreaterThan(8 * sizeBytes);
    expect(peak).toBeLessThanOrEqual(sizeBytes);
    expect(peak).toBeGreaterThan(sizeBytes * 0.75);
    expect(fs.existsSync(path.join(dir, old))).toBe(false);
    // every file but the run's first starts with the header, and each is whole gzip
    const files = fs.readdirSync(dir).sort();
    for (const f of files) expect(gunzipSync(fs.readFileSync(path.join(dir, f))).toString().startsWith('{"type":"capture"}\n')).toBe(true);
  });

  it('refuses a piece no file could hold (and says so), then goes on', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recorder-disk-'));
    dirs.push(dir);
    const disk = new DiskFiles({ dir, sizeBytes: 64 << 10, fileBytes: 16 << 10, files: [] });
    const noise = Buffer.from(Array.from({ length: 200 << 10 }, (_, i) => (i * 2654435761) >>> 24));
    expect(disk.write({ id: 1, header: '', data: noise }).error).toBe(TOO_BIG);
    expect(onDisk(dir)).toBe(0);
    expect(disk.write({ id: 2, header: '', data: lines(1, 100) }).error).toBeUndefined();
  });

  it('a piece too big for the bound removes no file first', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recorder-disk-'));
    dirs.push(dir);
    const old = 'tcptrace-20260101T000000-000001.ndjson.gz';
    fs.writeFileSync(path.join(dir, old), Buffer.alloc(10 << 10));
    const disk = new DiskFiles({ dir, sizeBytes: 64 << 10, fileBytes: 16 << 10, files: [{ name: old, bytes: 10 << 10 }] });
    const noise = Buffer.from(Array.from({ length: 200 << 10 }, (_, i) => (i * 2654435761) >>> 24));
    expect(disk.write({ id: 1, header: '', data: noise })).toMatchObject({ error: TOO_BIG, removed: [] });
    expect(fs.existsSync(path.join(dir, old))).toBe(true);
  });

  it('a run started within the same second as the last one writes to a file of its own', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recorder-disk-'));
    dirs.push(dir);
    const stamp = () => new Date(Date.parse('2026-12-06T01:00:00Z'));
    const first = new DiskFiles({ dir, sizeBytes: 1 << 20, fileBytes: 256 << 10, files: [] }, stamp);
    const a = first.write({ id: 1, header: '', data: lines(1, 100) });
    const left = fs.readdirSync(dir).map((name) => ({ name, bytes: fs.statSync(path.join(dir, name)).size }));
    const second = new DiskFiles({ dir, sizeBytes: 1 << 20, fileBytes: 256 << 10, files: left }, stamp);
    const b = second.write({ id: 1, header: '', data: lines(2, 100) });
    expect(b.file).not.toBe(a.file);
    expect(fs.statSync(path.join(dir, a.file!)).size).toBe(a.bytes);
  });
});
