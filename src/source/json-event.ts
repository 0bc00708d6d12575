// A JSON event line (docs/SCHEMA.md) back into the TcpEvent it was written from, driven by the
// field catalogue (src/format/schema-fields.ts): each field's writer is read once to learn which
// event property it prints and how (a copy, null for zero, thousandths), so a field added to the
// catalogue replays without an edit here. Only the fields whose text is not such a plain
// function of one property (names of states and errnos, times, the owner) have a reader below;
// test/unit/json-event proves every catalogue field makes the round trip.
import { EVENT_FIELDS } from '../format/schema-fields';
import type { OwnerSource, TcpEvent } from '../decode/event';
import { parseState } from '../decode/states';
import { CAUSE_NAMES, type CauseName } from '../decode/names';
import { RECORD_FIELD_NAMES } from '../decode/record.generated';
import { constants } from 'node:os';
import { TOTALS_FIELDS } from '../format/totals';
import { EVIDENCE_BY_WORD, kernelDiagnosis } from '../derive/handshake-diagnosis';
import { HandshakeDiag } from '../decode/record.generated';
import type { ConnTotals } from '../decode/event';

type Json = Record<string, unknown>;
type Reader = (e: TcpEvent, value: unknown, json: Json) => void;

const errnoNumbers = new Map<string, number>(Object.entries(constants.errno));
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
/** thousandths back to the integer they were made from (µs from ms) */
const fromThousandths = (v: unknown): number => Math.round(num(v) * 1000);
const OWNERS: readonly OwnerSource[] = ['kernel', 'listener', 'accept', 'use', 'proc', 'unknown'];

/** Fields whose JSON is not a plain function of one event property. */
const SPECIAL: Record<string, Reader> = {
  v: () => {},
  time: (e, v) => { e.time = Date.parse(str(v)) || 0; },
  pid: (e, v) => { e.pid = num(v); },
  comm: (e, v) => { e.comm = str(v); },
  owner: (e, v) => { e.ownerSource = OWNERS.includes(v as OwnerSource) ? (v as OwnerSource) : 'unknown'; },
  cgroup_id: (e, v) => { e.cgroupId = num(v); },
  family: (e, v) => { e.family = v === 6 ? 6 : 4; },
  oldstate: (e, v) => { e.oldState = parseState(str(v)) ?? 0; },
  newstate: (e, v) => { e.newState = parseState(str(v)) ?? 0; },
  ms: (e, v) => { e.durationNs = v === null || v === undefined ? null : fromThousandths(v) * 1000; },
  side: (e, v) => { e.side = v === 'active' || v === 'passive' ? v : ''; },
  cause: (e, v) => { e.cause = (CAUSE_NAMES as readonly string[]).includes(str(v)) ? (str(v) as CauseName) : ''; },
  error: (e, v) => { e.error = v === null ? 0 : errnoNumbers.get(str(v)) ?? (Number(str(v).slice(1)) || 0); },
  holders: (e, v) => { e.holders = Array.isArray(v) ? v.map(num) : null; },
  // the path and container are read together (the catalogue writes them apart)
  cgroup: (e, v, json) => {
    if (v === undefined) return;
    const id = json.container_id;
    e.cgroup = typeof v === 'string' ? { path: v, container: typeof id === 'string' ? { runtime: containerRuntime(v), id } : null } : null;
  },
  container_id: () => {},
  // made when written from the kernel's verdict and the listener's queue (derive/handshake-diagnosis.ts):
  // those are read back from it, and the diagnosis is made again from them
  diagnosis: (e, v) => {
    const d = v !== null && typeof v === 'object' ? (v as Json) : {};
    e.diagnosis = KERNEL_VERDICTS.get(FORMER_WORDS.get(str(d.why)) ?? str(d.why)) ?? HandshakeDiag.NONE;
    e.diagEvidence = e.diagnosis ? EVIDENCE_BY_WORD.get(str(d.evidence)) ?? 0 : 0;
    const queue = /^(\d+)\/(\d+)$/.exec(str(d.accept_queue));
    if (queue) [e.listenerBacklog, e.listenerMax] = [Number(queue[1]), Number(queue[2])];
  },
  // a connection's totals: each of its fields read back by the property its writer reads
  totals: (e, v) => { e.totals = v !== null && typeof v === 'object' && !Array.isArray(v) ? totalsFromJson(v as Json, e.rttUs) : null; },
};

/** words earlier captures wrote for a verdict since renamed: `syn-queue-full` was a guess at the
 *  queue, now `syn-dropped` (captures written before 2026-12-05 21:00; their verdicts carry no evidence, so a replay
 *  shows them as inferred) */
const FORMER_WORDS = new Map([['syn-queue-full', 'syn-dropped']]);

/** the kernel's verdicts by their words (the inverse of kernelDiagnosis) */
const KERNEL_VERDICTS = new Map<string, number>(Object.values(HandshakeDiag).map((n) => [kernelDiagnosis({ diagnosis: n } as TcpEvent), n]));

const TOTALS_PROPS = TOTALS_FIELDS.flatMap((f) => {
  const props = propertiesRead(f.value as (x: never) => unknown);
  return props.length === 1 ? [[f.key, props[0]] as const] : [];
});

function totalsFromJson(json: Json, rttUs: number): ConnTotals {
  const t: Record<string, number | null> = {};
  for (const [key, prop] of TOTALS_PROPS) {
    if (prop === 'rttMinUs') t.rttUs = rttUs; // the decoder's order (decode/totals.ts): a JSON dump of either reads the same
    t[prop] = typeof json[key] === 'number' ? (json[key] as number) : null;
  }
  t.rttUs ??= rttUs;
  return t as unknown as ConnTotals;
}

/** The runtime a cgroup path names (the journal's TCPTRACE_CONTAINER_RUNTIME). */
function containerRuntime(path: string): string {
  if (/docker/.test(path)) return 'docker';
  if (/crio/.test(path)) return 'cri-o';
  if (/libpod/.test(path)) return 'podman';
  return 'containerd';
}

/** The event properties a field's writer reads, found by handing it an event that records reads. */
function propertiesRead(value: (e: never) => unknown): string[] {
  const read: string[] = [];
  const probe = new Proxy({} as never, { get: (_t, p) => { if (typeof p === 'string') read.push(p); return p === 'ownerSource' ? 'kernel' : 1; } });
  try { value(probe); } catch { /* a writer that needs a real event: no reader */ }
  return [...new Set(read)].filter((p) => p !== 'ownerSource');
}

/** A reader for a field printed from one property: a copy, null for zero/empty, or thousandths. */
function inferredReader(key: string, value: (e: TcpEvent) => unknown, type: string): Reader | undefined {
  const props = propertiesRead(value);
  if (props.length !== 1) return undefined;
  const prop = props[0];
  const withValue = (x: unknown) => value({ ownerSource: 'kernel', [prop]: x } as unknown as TcpEvent);
  if (type.startsWith('string') || type.startsWith('boolean') || type.includes('[]')) {
    const sample = type.startsWith('boolean') ? true : type.includes('[]') ? [7] : 'x';
    if (withValue(sample) !== sample && !Array.isArray(sample)) return undefined;
    const empty = type.startsWith('string') && withValue('') === null;
    return (e, v) => { (e as unknown as Json)[prop] = v === null && empty ? '' : v; };
  }
  const big = withValue(1234);
  const zero = withValue(0);
  const scale = big === 1234 ? 1 : big === 1.234 ? 1000 : 0;
  if (!scale) return undefined;
  return (e, v) => { (e as unknown as Json)[prop] = v === null && zero === null ? 0 : scale === 1 ? num(v) : fromThousandths(v); };
  void key;
}

/** Each catalogue field's reader (undefined: it does not replay; test/unit/json-event says which). */
export const FIELD_READERS: ReadonlyMap<string, Reader | undefined> = new Map(
  Object.entries(EVENT_FIELDS).map(([key, f]) => [key, SPECIAL[key] ?? inferredReader(key, f.value as (e: TcpEvent) => unknown, f.type)]),
);

/** A blank event: what a field absent from an older capture leaves. */
const BLANK: TcpEvent = {
  // every plain record member, those added to the record later included
  ...(Object.fromEntries(RECORD_FIELD_NAMES.map((k) => [k, 0])) as Record<(typeof RECORD_FIELD_NAMES)[number], number>),
  tsNs: 0, time: 0, skaddr: '0000000000000000', pid: 0, comm: '', ownerSource: 'unknown', cgroupId: 0, cpuPid: 0, cpuTid: 0, cpuComm: '',
  family: 4, saddr: '', sport: 0, daddr: '', dport: 0, oldState: 0, newState: 0, durationNs: null, netns: 0, sockIno: 0, rttUs: 0,
  handshakeUs: 0, error: 0, cause: '', timeWait: false, side: '', synRetrans: 0, synackRetrans: 0, acceptWaitUs: 0, holders: null, isAccept: false,
  totals: null,
  // set later by some lines: declared here, or adding them turns every event into a slow
  // dictionary object (~1.5x the time of each output's writer)
  ownerExited: undefined, cgroup: undefined,
};

export function blankEvent(): TcpEvent {
  return { ...BLANK }; // one shape for every event (a copy of a fast object, not a new dictionary)
}

/** One parsed JSON event (or accept record) as the TcpEvent the tracer had made. */
export function eventFromJson(json: Json, isAccept = false): TcpEvent {
  const e = blankEvent();
  e.isAccept = isAccept;
  for (const [key, read] of FIELD_READERS) {
    if (read && key in json) read(e, json[key], json);
  }
  return e;
}
