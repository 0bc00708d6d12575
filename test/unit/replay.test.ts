// Every output driven by a committed capture of a real workload (test/fixtures/captures, made by
// scripts/make-capture-fixtures with the tracer on a real kernel): runs on any machine, no root.
// The oracles: `ss -tan` in the traced namespace at capture start and end (workload.ss.json),
// the workload's own design (scripts/compare/workload.py: 3 failed connects, one refused, one
// reset, one timed out; 7 TIME_WAIT closes), and the capture itself (one row per event line).
// scripts/compare-replay shows the same outputs equal to the live run's.
process.env.TZ = 'UTC';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { replay } from '../helpers/replay';
import type { SinkOptions } from '../../src/sinks';

const DIR = join(__dirname, '../fixtures/captures');
const CAPTURE = join(DIR, 'workload.ndjson');
const V1 = join(DIR, 'workload-v1.ndjson');
const ss = JSON.parse(readFileSync(join(DIR, 'workload.ss.json'), 'utf8')) as { start: Record<string, number>; end: Record<string, number> };
const lines = readFileSync(CAPTURE, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const events = lines.filter((l) => l.type === undefined);
const tmp = mkdtempSync(join(tmpdir(), 'replay-test-'));

const table: SinkOptions = { terminal: { format: 'table', table: { time: 'relative', wide: true, onCpu: true } } };
const csv: SinkOptions = { terminal: { format: 'csv', csv: { time: 'clock', onCpu: true } } };
const summary: SinkOptions = { summary: { json: false } };

/** The census line of a text summary as {state: n}, states with sockets only. */
function census(text: string): Record<string, number> {
  const line = text.split('\n').find((l) => l.startsWith('Open now')) ?? '';
  return Object.fromEntries([...line.matchAll(/([A-Z_12]+) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
}
const sorted = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).filter(([, n]) => n).sort());

describe('replaying a committed capture', () => {
  it('the table and CSV: a header, then one row per event of the capture, in its order', async () => {
    const t = (await replay(CAPTURE, table)).out.trim().split('\n');
    expect(t).toHaveLength(events.length + 1);
    t.slice(1).forEach((row, i) => expect(row).toContain(events[i].skaddr));
    const c = (await replay(CAPTURE, csv)).out.trim().split('\n');
    expect(c).toHaveLength(events.length + 1);
    // -T shows the wall clock the live run printed: the capture's `time`, to the second
    c.slice(1).forEach((row, i) => expect(row.slice(0, 8)).toBe(events[i].time.slice(11, 19)));
  });

  it('--summary: the census equals ss -tan at the end of the capture, sockets older than it included', async () => {
    const { out, source } = await replay(CAPTURE, summary);
    expect(sorted(census(out))).toEqual(sorted(ss.end));
    expect(out).toMatch(/Failed connects: 3 \(.*refused 1.*\)/);
    expect(out).toMatch(/Closed connections: .*time-wait 7,/);
    expect(source.cut).toBeUndefined();
    // the counters are the live run's (its end record)
    expect(source.counters()).toMatchObject(lines.at(-1).counters);
  });

  it('the census at capture start equals ss -tan then (the capture up to its count of the sockets)', async () => {
    const upTo = lines.findIndex((l) => l.type === 'census');
    const path = join(tmp, 'start.ndjson');
    writeFileSync(path, `${lines.slice(0, upTo + 1).map((l) => JSON.stringify(l)).join('\n')}\n`);
    const { out, source } = await replay(path, summary);
    expect(sorted(census(out))).toEqual(sorted(ss.start));
    expect(source.cut).toMatch(/no end record/);
  });

  it('--lifetimes: one line per finished connection, as many as the capture closes', async () => {
    const { out } = await replay(CAPTURE, { lifetimes: { format: 'json', wide: false } });
    const rows = out.trim().split('\n').map((l) => JSON.parse(l));
    const closes = events.filter((e) => e.newstate === 'CLOSE' && e.oldstate !== 'LISTEN' && e.oldstate !== 'CLOSE').length;
    expect(rows.length).toBe(closes);
    expect(rows.every((r) => r.type === 'connection')).toBe(true);
  });

  it('schema 1 (events only), gzip, and a capture cut mid-line replay the same transitions', async () => {
    const plain = (await replay(CAPTURE, table)).out;
    // an older build traced the same run beside it: the same rows, but for the MS column (each
    // process' BPF program reads the clock itself, nanoseconds apart)
    const noMs = (t: string) => t.split('\n').map((l) => { const f = l.trim().split(/\s+/); f.splice(f.indexOf('->') + 2, 1); return f.join(' '); });
    expect(noMs((await replay(V1, table)).out)).toEqual(noMs(plain));
    const gz = join(tmp, 'capture.ndjson.gz');
    writeFileSync(gz, gzipSync(readFileSync(CAPTURE)));
    expect((await replay(gz, table)).out).toBe(plain);
    const text = readFileSync(CAPTURE, 'utf8');
    const cut = join(tmp, 'cut.ndjson');
    writeFileSync(cut, text.slice(0, text.length - 200)); // the end record and part of a line lost
    const r = await replay(cut, table);
    expect(r.source.cut).toMatch(/last line is not whole/);
    expect(plain.startsWith(r.out)).toBe(true);
    const gzCut = join(tmp, 'cut.ndjson.gz');
    const packed = gzipSync(readFileSync(CAPTURE));
    writeFileSync(gzCut, packed.subarray(0, packed.length - 100));
    expect((await replay(gzCut, table)).source.cut).toMatch(/compressed data ends early|not whole/);
  });

  it('the filters apply: -L, --state, -6', async () => {
    const { out } = await replay(CAPTURE, csv, { filter: { localPorts: [8080], states: [7] } });
    const want = events.filter((e) => e.sport === 8080 && e.newstate === 'CLOSE');
    expect(want.length).toBeGreaterThan(0);
    expect(out.trim().split('\n').length - 1).toBe(want.length);
    const v6 = await replay(CAPTURE, table, { filter: { family: 6 } });
    expect(v6.out.trim().split('\n').length - 1).toBe(events.filter((e) => e.family === 6).length);
  });

  it('/metrics: the counters and census the live run had', async () => {
    let scraped = '';
    const options: SinkOptions = { metrics: { addresses: [{ host: '127.0.0.1', port: 0 }], access: { openPaths: [], allowHosts: [] }, logAddress: false } };
    await replay(CAPTURE, options, {
      ready: async (sinks) => {
        const port = (sinks[0] as unknown as { servers: { server: import('node:http').Server }[] }).servers[0].server.address() as { port: number };
        options.metrics!.addresses[0].port = port.port;
      },
      after: async () => { scraped = await (await fetch(`http://127.0.0.1:${options.metrics!.addresses[0].port}/metrics`)).text(); },
    });
    const end = lines.at(-1).counters;
    expect(scraped).toMatch(new RegExp(`tcptrace_events_seen_total ${end.seen}\\b|tcptrace_events_total ${end.delivered}\\b`));
    for (const [state, n] of Object.entries(ss.end)) expect(scraped).toMatch(new RegExp(`state="${state}"[^\\n]*\\} ${n}\\b`));
  });

  it('the stream: every event, as the capture has it, with the trace clock in the stats', async () => {
    const got: Record<string, unknown>[] = [];
    let stats: { time?: string; trace_time?: string } | undefined;
    let ws: WebSocket | undefined;
    const options: SinkOptions = { stream: { listen: { host: '127.0.0.1', port: 0 }, statsIntervalMs: 1000, options: {} } };
    await replay(CAPTURE, options, {
      ready: async (sinks) => {
        const url = (sinks[0] as unknown as { url: string }).url.replace('http', 'ws').replace(/\/(\?|$)/, '/ws$1');
        ws = new WebSocket(url);
        ws.on('message', (d) => {
          const m = JSON.parse(String(d));
          if (m.type === 'events') got.push(...m.events);
          if (m.type === 'stats') stats = m;
        });
        await new Promise((r) => ws!.once('open', r));
      },
      after: () => new Promise((r) => setTimeout(r, 300)),
    });
    ws?.terminate();
    expect(got.map((e) => e.skaddr)).toEqual(events.map((e) => e.skaddr));
    // every field the capture has, as it has it (a field added to the catalogue since comes out blank)
    got.forEach((e, i) => expect(e).toMatchObject(events[i]));
    // the stats of a replay carry the trace's clock (within the capture's span)
    expect(stats?.trace_time && stats.trace_time >= lines[0].time.slice(0, 19)).toBeTruthy();
  });
});
