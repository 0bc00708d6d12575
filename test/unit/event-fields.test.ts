// Every writer of events agrees with the field catalogue (src/format/schema-fields.ts): the JSON
// writers (keys, order, bytes), the journal's field names, the table and CSV headers, and the
// field table of docs/SCHEMA.md.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_FIELDS, JOURNAL_ENVELOPE } from '../../src/format/schema-fields';
import { toJsonEvent } from '../../src/format/schema';
import { writeJsonEvent } from '../../src/format/schema-writer';
import { journalFields } from '../../src/sinks/journal';
import { csvHeader } from '../../src/sinks/csv';
import { tableHeader } from '../../src/sinks/table';
import { ByteWriter } from '../../src/format/bytes';
import { terminalSafeJson } from '../../src/format/display';
import type { TcpEvent } from '../../src/decode/event';
import { sampleEvent } from '../helpers/sample';
import { RECORD_FIELD_NAMES } from '../../src/decode/record.generated';
import { lifetimeJson } from '../../src/sinks/lifetimes';
import { TOTALS_FIELDS } from '../../src/format/totals';
import type { FinishedConnection } from '../../src/derive/connections';

const docs = (name: string) => readFileSync(path.join(__dirname, '..', '..', 'docs', name), 'utf8');
const catalogue = Object.entries(EVENT_FIELDS);
const keys = catalogue.map(([key]) => key);
const id = 'ab'.repeat(32);
/** Events that between them set every optional field (every record member non-zero in the first). */
const events: TcpEvent[] = [
  sampleEvent({
    ...Object.fromEntries(RECORD_FIELD_NAMES.map((k) => [k, 3])),
    cause: 'refused', error: 111, timeWait: true, synRetrans: 2, synackRetrans: 1, acceptWaitUs: 12, diagnosis: 1, listenerBacklog: 2, listenerMax: 1, holders: [1, 2],
    cgroup: { path: `/kubepods.slice/cri-containerd-${id}.scope`, container: { runtime: 'containerd', id, podUid: '01234567-89ab-cdef-0123-456789abcdef' } },
  }),
  sampleEvent({ family: 6, saddr: '::1', daddr: '::1', ownerSource: 'unknown', durationNs: null, side: '', handshakeUs: 0, cgroup: null }),
];

describe('event field catalogue', () => {
  it('toJsonEvent and writeJsonEvent write exactly the catalogue keys, in its order, byte-exact', () => {
    for (const e of events) {
      const json = toJsonEvent(e);
      expect(Object.keys(json)).toEqual(keys);
      const w = new ByteWriter();
      writeJsonEvent(w, e);
      const text = w.written().toString('utf8');
      expect(Object.keys(JSON.parse(text))).toEqual(keys);
      expect(text).toBe(terminalSafeJson(JSON.stringify(json)));
    }
    expect(toJsonEvent(events[0]).container_id).toBe(id);
  });

  it('the journal sends exactly the catalogue\'s journal fields (and its envelope), as docs/FLEET.md lists them', () => {
    const declared = new Set<string>([...JOURNAL_ENVELOPE, ...catalogue.flatMap(([, f]) => ('journal' in f ? f.journal : []) as string[])]);
    const sent = new Set(events.flatMap((e) => journalFields(e, false).map(([name]) => name)));
    expect([...sent].sort()).toEqual([...declared].sort());
    const section = docs('FLEET.md').split('## systemd journal')[1].split('```sh')[0];
    const tcptraceRow = section.split('\n').find((l) => l.startsWith('| `TCPTRACE_*`'))!;
    const documented = new Set([
      ...[...section.matchAll(/`((?:OBJECT|_SOURCE|MESSAGE|SYSLOG|PRIORITY)[A-Z0-9_]*)`/g)].map((m) => m[1]).filter((n) => n !== 'OBJECT_EXE'),
      ...[...tcptraceRow.split('|')[2].matchAll(/`([A-Z_]+)`/g)].map((m) => `TCPTRACE_${m[1]}`).filter((n) => n !== 'TCPTRACE_OBJECT_COMM'),
    ]);
    expect([...documented].sort()).toEqual([...declared].sort());
  });

  it('the CSV and table headers are the catalogue\'s columns, in its order', () => {
    const columns = catalogue.flatMap(([, f]) => ('column' in f && f.column ? [f.column] : []));
    const without = (...names: string[]) => columns.filter((c) => !names.includes(c));
    expect(csvHeader({ time: 'clock', onCpu: true }).split(',')).toEqual(without('TIME(s)'));
    expect(csvHeader({ time: 'relative', onCpu: true }).split(',')).toEqual(without('TIME'));
    // The table's cause column has no heading; `->` stands between the states.
    expect(tableHeader({ time: 'clock', wide: true, onCpu: true }).split(/\s+/).filter((w) => w !== '->')).toEqual(without('TIME(s)', 'CAUSE'));
  });

  it('docs/SCHEMA.md lists exactly the catalogue: key, type and meaning, in order', () => {
    const rows = catalogue.map(([key, f]) => `| \`${key}\` | ${f.type.replace(/\|/g, '\\|')} | ${f.doc} |`);
    const table = docs('SCHEMA.md').split('\n').filter((l) => l.startsWith('| `'));
    expect(table).toEqual(rows);
  });
});

describe('the connection totals', () => {
  it('docs/SCHEMA.md lists exactly src/format/totals.ts: key, type and meaning, in order', () => {
    const listed = docs('SCHEMA.md').split('\n').filter((l) => /^- `[a-z_]+` \(/.test(l) && TOTALS_FIELDS.some((t) => l.startsWith(`- \`${t.key}\``)));
    expect(listed).toEqual(TOTALS_FIELDS.map((t) => `- \`${t.key}\` (${t.type}): ${t.doc}`));
  });
});

describe('the --lifetimes record', () => {
  it('has exactly the keys docs/SCHEMA.md lists for it, in that order', () => {
    const line = docs('SCHEMA.md').split('\n').find((l) => l.startsWith('- `--lifetimes --json` writes'));
    const listed = line?.match(/: `([a-z_ ]+)`\.$/)?.[1].split(' ');
    const finished: FinishedConnection = {
      skaddr: 'ffff888100000000', pid: 1, comm: 'x', family: 4, saddr: '127.0.0.1', sport: 1, daddr: '127.0.0.1', dport: 2,
      side: 'active', handshakeMs: 1, acceptWaitMs: null, lifetimeMs: 2, established: true, cause: 'normal', error: 0,
      timeWait: false, synRetrans: 0, synackRetrans: 0, lastState: 'FIN_WAIT2', time: 0, close: sampleEvent(), netns: 1, totals: null,
    };
    const record = Object.keys(JSON.parse(lifetimeJson(finished)));
    expect(record.slice(0, 2)).toEqual(['type', 'v']);
    expect(record.slice(2)).toEqual(listed);
  });
});
