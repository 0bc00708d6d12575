// The capture writer writes accept records with the events' byte writer: the same bytes as
// acceptLine() (JSON.stringify of the event schema), for every accept record of a real capture.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { CaptureWriter } from '../../src/format/capture-writer';
import { acceptLine, type CaptureFeed } from '../../src/format/capture-records';
import { eventFromJson } from '../../src/source/json-event';

it('accept records: byte writer = acceptLine', () => {
  const lines = fs.readFileSync(path.join(__dirname, '../fixtures/captures/workload.ndjson'), 'utf8').split('\n');
  const accepts = lines.filter((l) => l.startsWith('{"type":"accept"')).map((l) => eventFromJson(JSON.parse(l), true));
  expect(accepts.length).toBeGreaterThan(0);
  const out: string[] = [];
  const feed = { status: {} } as unknown as CaptureFeed;
  new CaptureWriter((c) => { out.push(Buffer.from(c).toString()); }, feed).accepts(accepts);
  expect(out.join('')).toBe(accepts.map(acceptLine).join(''));
});
