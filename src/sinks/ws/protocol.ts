// The WebSocket protocol of `tcptrace --listen` (docs/STREAM.md): the messages the server
// sends, and the validation of what a client may send. Nothing here touches a socket, so
// every malformed-input path can be tested without a network.
import type { TcpEvent } from '../../decode/event';
import type { JsonEvent } from '../../format/schema';
import { parseState, State, stateName } from '../../decode/states';

/** Bumped when a message changes in a way that is not a pure addition. */
export const PROTOCOL_VERSION = 1;

/** What a client may ask for with `subscribe`; every field is optional (absent: all). */
export interface ClientFilter {
  /** local or remote port */
  ports?: number[];
  pid?: number;
  /** owner command name, exact (first 15 bytes) */
  comm?: string;
  /** transitions into these states (names as in the event's `newstate`) */
  states?: string[];
  family?: 4 | 6;
}

export type ClientMessage =
  | { type: 'subscribe'; filter: ClientFilter }
  | { type: 'ping'; id?: string | number };

export const MAX_FILTER_PORTS = 64;
const FILTER_KEYS = new Set(['ports', 'pid', 'comm', 'states', 'family']);

export class ProtocolError extends Error {}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses one text frame from a client; throws ProtocolError with a message fit for the client. */
export function parseClientMessage(text: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('message is not valid JSON');
  }
  if (!isPlainObject(value)) throw new ProtocolError('message must be a JSON object');
  switch (value.type) {
    case 'subscribe':
      return { type: 'subscribe', filter: parseFilter(value.filter ?? {}) };
    case 'ping': {
      const id = value.id;
      if (id !== undefined && typeof id !== 'string' && typeof id !== 'number') throw new ProtocolError('ping id must be a string or number');
      return { type: 'ping', id: typeof id === 'string' ? id.slice(0, 64) : id };
    }
    default:
      throw new ProtocolError(typeof value.type === 'string'
        ? `unknown message type '${value.type.slice(0, 32)}' (expected subscribe or ping)`
        : 'message needs a string "type" (subscribe or ping)');
  }
}

export function parseFilter(raw: unknown): ClientFilter {
  if (!isPlainObject(raw)) throw new ProtocolError('filter must be an object');
  for (const key of Object.keys(raw)) {
    if (!FILTER_KEYS.has(key)) throw new ProtocolError(`unknown filter field '${key.slice(0, 32)}' (expected ports, pid, comm, states, family)`);
  }
  const f: ClientFilter = {};
  if (raw.ports !== undefined && raw.ports !== null) {
    if (!Array.isArray(raw.ports) || raw.ports.length > MAX_FILTER_PORTS) throw new ProtocolError(`filter.ports must be an array of at most ${MAX_FILTER_PORTS} ports`);
    f.ports = raw.ports.map((p) => {
      if (!Number.isInteger(p) || (p as number) < 0 || (p as number) > 65535) throw new ProtocolError('filter.ports must hold whole numbers 0-65535');
      return p as number;
    });
  }
  if (raw.pid !== undefined && raw.pid !== null) {
    if (!Number.isInteger(raw.pid) || (raw.pid as number) < 0 || (raw.pid as number) > 2 ** 32 - 1) throw new ProtocolError('filter.pid must be a whole number');
    f.pid = raw.pid as number;
  }
  if (raw.comm !== undefined && raw.comm !== null) {
    if (typeof raw.comm !== 'string' || raw.comm.length === 0 || raw.comm.length > 64) throw new ProtocolError('filter.comm must be a non-empty string');
    f.comm = raw.comm.slice(0, 15);
  }
  if (raw.states !== undefined && raw.states !== null) {
    if (!Array.isArray(raw.states) || raw.states.length > 16) throw new ProtocolError('filter.states must be an array of state names');
    f.states = raw.states.map((s) => {
      const n = typeof s === 'string' ? parseState(s) : undefined;
      if (n === undefined) throw new ProtocolError(`unknown state ${JSON.stringify(String(s).slice(0, 32))} in filter.states`);
      if (n === State.NEW_SYN_RECV || n === State.BOUND_INACTIVE) throw new ProtocolError(`filter.states: the kernel reports no transition into ${stateName(n)}`);
      return stateName(n);
    });
  }
  if (raw.family !== undefined && raw.family !== null) {
    if (raw.family !== 4 && raw.family !== 6) throw new ProtocolError('filter.family must be 4 or 6');
    f.family = raw.family;
  }
  return f;
}

/**
 * The filter a client may give in the /ws URL, so that it never sees unfiltered traffic:
 * ?ports=80,443&states=ESTABLISHED,CLOSE&pid=1&comm=nginx&family=4 (same rules as subscribe).
 */
export function filterFromQuery(params: URLSearchParams): ClientFilter {
  const raw: Record<string, unknown> = {};
  const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);
  const num = (v: string) => (/^\d+$/.test(v.trim()) ? Number(v) : v);
  for (const [key, value] of params) {
    if (key === 'token') continue;
    if (key in raw) throw new ProtocolError(`'${key.slice(0, 32)}' given twice`);
    if (key === 'ports') raw.ports = list(value).map(num);
    else if (key === 'states') raw.states = list(value);
    else if (key === 'pid' || key === 'family') raw[key] = num(value);
    else raw[key] = value;
  }
  return parseFilter(raw);
}

/** The predicate for a client's filter; undefined when the filter lets everything through. */
export function filterMatcher(f: ClientFilter): ((e: TcpEvent) => boolean) | undefined {
  const ports = f.ports?.length ? new Set(f.ports) : undefined;
  const states = f.states?.length ? new Set(f.states.map((s) => parseState(s) as number)) : undefined;
  const { pid, comm, family } = f;
  if (!ports && !states && pid === undefined && comm === undefined && family === undefined) return undefined;
  return (e) =>
    (ports === undefined || ports.has(e.sport) || ports.has(e.dport)) &&
    // TIME_WAIT: the closes that leave a TIME_WAIT socket behind, as --state TIME_WAIT
    (states === undefined || states.has(e.newState) || (e.timeWait && e.newState === State.CLOSE && states.has(State.TIME_WAIT))) &&
    (pid === undefined || e.pid === pid) &&
    (comm === undefined || e.comm === comm) &&
    (family === undefined || e.family === family);
}

// ---- server → client messages -------------------------------------------------------------

export interface HelloMessage {
  type: 'hello';
  protocol: number;
  schema: number;
  version: string;
  host: string;
  kernel: string;
  attach: string;
  delivery: string;
  /** the tracer's own options (kernel filters etc.), and this server's limits */
  options: Record<string, unknown>;
  limits: { max_clients: number; max_payload: number; buffer_cap: number; stats_interval_ms: number; max_sample: number };
  time: string;
  /** this client's filter, from the /ws URL ({} when none) */
  filter?: ClientFilter;
}

export interface LostMessage {
  type: 'lost';
  /** 'kernel': the BPF buffer was full; 'client': this client's send buffer was over the cap */
  source: 'kernel' | 'client';
  count: number;
  total: number;
  /** client only: the events of its filter the lost ones stood for (count, unless sampled) */
  of?: number;
}
