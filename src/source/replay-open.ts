// The connections still open, in a replay: what the live run's reports read from sock_diag, as
// the capture's `open` records kept them (src/format/capture-records.ts). A record is what the
// reports of its tick read (it precedes that tick's counters record) or of the exit (it precedes
// the end record); a report at any other time finds none, as a capture has no reading there.
// The replay's own port, family and namespace filters apply, as the live reader applies its.
import type { FinishedConnection } from '../derive/connections';
import type { OpenConnectionsReport, OpenReader } from '../derive/open-connections';
import type { OpenRecord } from '../format/capture-records';
import type { KernelFilter } from '../probe/config';
import { TOTALS_FIELDS } from '../format/totals';
import type { ConnTotals } from '../decode/event';

const NONE: OpenConnectionsReport = { connections: [], total: 0, errors: [], time: 0 };

// each totals field's ConnTotals name, learnt from the catalogue (src/format/totals.ts): its
// value() read from an object that answers every property with the property's name
const NAMER = new Proxy({}, { get: (_t, name) => name }) as unknown as ConnTotals;
const TOTALS_KEYS = TOTALS_FIELDS.map((f) => [f.value(NAMER) as unknown as string, f.key] as const);

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function connection(j: Record<string, unknown>, time: number): FinishedConnection {
  const t: Record<string, number | null | boolean> = {};
  for (const [name, key] of TOTALS_KEYS) {
    if (name === 'rttMinUs') t.rttUs = num(j.rtt_us) ?? 0; // the live reader's order: a JSON dump of either reads the same
    t[name] = num(j[key]);
  }
  t.rttUs ??= num(j.rtt_us) ?? 0;
  t.open = true;
  const totals = t as unknown as ConnTotals;
  const side = j.side === 'passive' || j.side === 'active' ? j.side : '';
  return {
    skaddr: '', pid: num(j.pid) ?? 0, comm: str(j.comm), family: j.family === 6 ? 6 : 4, saddr: str(j.saddr), sport: num(j.sport) ?? 0,
    daddr: str(j.daddr), dport: num(j.dport) ?? 0, side, handshakeMs: null, acceptWaitMs: null, lifetimeMs: null,
    established: j.established === true, cause: '', error: 0, timeWait: false, synRetrans: 0, synackRetrans: 0,
    lastState: str(j.last_state), time, netns: num(j.netns) ?? 0, totals, open: true,
  };
}

export class ReplayOpen implements OpenReader {
  private current?: OpenRecord;

  constructor(private readonly filter: KernelFilter = {}) {}

  /** A record read from the capture: what the next report reads. */
  add(r: OpenRecord): void {
    this.current = r;
  }

  /** Its tick's reports are made: later reports find none until the next record. */
  clear(): void {
    this.current = undefined;
  }

  read(): OpenConnectionsReport {
    const r = this.current;
    if (!r || !Array.isArray(r.connections)) return NONE;
    const f = this.filter;
    const time = Date.parse(r.time);
    const all = r.connections.filter((j): j is Record<string, unknown> => j !== null && typeof j === 'object').map((j) => connection(j, time));
    const kept = all.filter((c) => (!f.family || c.family === f.family) && (f.netns === undefined || c.netns === f.netns) &&
      (!f.localPorts?.length || f.localPorts.includes(c.sport)) && (!f.remotePorts?.length || f.remotePorts.includes(c.dport)));
    const narrowed = kept.length !== all.length;
    const errors = Array.isArray(r.errors) ? r.errors.map(String) : [];
    return { connections: kept, total: narrowed ? kept.length : num(r.total) ?? kept.length, errors, time };
  }
}
