// --lifetimes: one line per finished connection (owner, endpoints, who opened it, bytes each way
// as tcplife prints them, handshake time, lifetime, how it ended); -w adds retransmits, RTT and the
// time spent limited; -s writes CSV, -j JSON. At exit, the connections still open follow, with
// their figures so far (sock_diag), marked open.
import type { FinishedConnection } from '../derive/connections';
import type { OpenReader } from '../derive/open-connections';
import { errnoName } from '../format/schema';
import { LIFETIMES_FIELDS } from '../format/schema-fields';
import { displayText, terminalSafeJson } from '../format/display';
import { paddedName } from '../format/names';
import { kib, totalsJson } from '../format/totals';
import { csvCell } from '../format/csv-cell';
import type { Sink, Writer } from './sink';

export interface LifetimeOptions {
  format: 'text' | 'json' | 'csv';
  /** -w: IPv6-wide addresses and the retransmit, RTT and limited-time columns */
  wide: boolean;
}

const WIDE_COLUMNS = ['RETRANS', 'RETX_KB', 'RTO', 'SRTT_MS', 'MINRTT_MS', 'BUSY_MS', 'RWND_MS', 'SNDBUF_MS'];

export function lifetimesHeader(wide: boolean): string {
  const a = wide ? 39 : 15;
  return `${'PID'.padEnd(7)} ${'COMM'.padEnd(15)} ${'SIDE'.padEnd(7)} ${'LADDR'.padEnd(a)} ${'LPORT'.padEnd(5)} ${'RADDR'.padEnd(a)} ${'RPORT'.padEnd(5)} ` +
    `${'TX_KB'.padStart(7)} ${'RX_KB'.padStart(7)} ${'HS_MS'.padStart(9)} ${'WAIT_MS'.padStart(9)} ${'LIFE_MS'.padStart(10)} ` +
    `${wide ? `${WIDE_COLUMNS.map((c) => c.padStart(9)).join(' ')} ` : ''}END`;
}

/** Kept for callers that print the default header. */
export const LIFETIMES_HEADER = lifetimesHeader(false);

const ms = (v: number | null, w: number) => (v === null ? '-' : v.toFixed(3)).padStart(w);
const int = (v: number | null | undefined, w: number) => (v === null || v === undefined ? '-' : String(v)).padStart(w);
const usAsMs = (v: number | null | undefined, w: number) => ms(v === null || v === undefined ? null : v / 1000, w);

function endText(c: FinishedConnection): string {
  if (c.open) return `open,${c.lastState}`;
  return c.timeWait ? `${c.cause},time-wait` : c.cause || 'normal';
}

function wideCells(c: FinishedConnection): string {
  const t = c.totals;
  return [int(t?.retransSegs, 9), int(t ? kib(t.bytesRetrans) : null, 9), int(t?.retransRto, 9), usAsMs(t?.rttUs, 9),
    usAsMs(t?.rttMinUs, 9), usAsMs(t?.busyUs, 9), usAsMs(t?.rwndLimitedUs, 9), usAsMs(t?.sndbufLimitedUs, 9)].join(' ');
}

/** ` key=value` for each catalogue field --lifetimes shows (left out when null, 0 or ''). */
function laterText(c: FinishedConnection): string {
  let text = '';
  if (!c.close) return text;
  for (const f of LIFETIMES_FIELDS) {
    const v = f.value(c.close);
    if (v !== null && v !== undefined && v !== 0 && v !== '' && v !== false) text += ` ${f.key}=${displayText(String(v))}`;
  }
  return text;
}

function laterJson(c: FinishedConnection): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const f of LIFETIMES_FIELDS) json[f.key] = c.close ? f.value(c.close) : null;
  return json;
}

export function lifetimeLine(c: FinishedConnection, wide = false): string {
  const a = wide ? 39 : 15;
  const retrans = c.synRetrans ? ` syn-retrans=${c.synRetrans}` : c.synackRetrans ? ` synack-retrans=${c.synackRetrans}` : '';
  const t = c.totals;
  return `${String(c.pid || '-').padEnd(7)} ${c.pid ? paddedName(c.comm, 15) : '-'.padEnd(15)} ${(c.side || '-').padEnd(7)} ` +
    `${c.saddr.padEnd(a)} ${String(c.sport).padEnd(5)} ${c.daddr.padEnd(a)} ${String(c.dport).padEnd(5)} ` +
    `${int(t ? kib(t.bytesAcked) : null, 7)} ${int(t ? kib(t.bytesReceived) : null, 7)} ` +
    `${ms(c.handshakeMs, 9)} ${ms(c.acceptWaitMs, 9)} ${ms(c.lifetimeMs, 10)} ${wide ? `${wideCells(c)} ` : ''}${endText(c)}${retrans}${laterText(c)}`;
}

/** The JSON record of one connection (every field, also for one still open). */
export function lifetimeRecord(c: FinishedConnection): Record<string, unknown> {
  return {
    type: 'connection', v: 1, time: new Date(c.time).toISOString(), skaddr: c.skaddr || null, pid: c.pid || null, comm: c.pid ? c.comm : null,
    family: c.family, saddr: c.saddr, sport: c.sport, daddr: c.daddr, dport: c.dport, side: c.side || null,
    handshake_ms: c.handshakeMs, accept_wait_ms: c.acceptWaitMs, lifetime_ms: c.lifetimeMs, established: c.established, cause: c.cause || null,
    time_wait: c.timeWait, error: errnoName(c.error), syn_retrans: c.synRetrans, synack_retrans: c.synackRetrans,
    last_state: c.lastState, ...laterJson(c), netns: c.netns, rtt_us: c.totals ? c.totals.rttUs : null, ...totalsJson(c.totals),
    open: Boolean(c.open),
  };
}

export function lifetimeJson(c: FinishedConnection): string {
  return terminalSafeJson(JSON.stringify(lifetimeRecord(c)));
}

const CSV_KEYS = Object.keys(lifetimeRecord({
  skaddr: '', pid: 0, comm: '', family: 4, saddr: '', sport: 0, daddr: '', dport: 0, side: '', handshakeMs: null, acceptWaitMs: null,
  lifetimeMs: null, established: false, cause: '', error: 0, timeWait: false, synRetrans: 0, synackRetrans: 0, lastState: '', time: 0,
  netns: 0, totals: null,
})).filter((k) => k !== 'type' && k !== 'v');

/** CSV (tcplife -s): the JSON record's fields, one column each, in the same order. */
export const lifetimesCsvHeader = (): string => CSV_KEYS.map((k) => k.toUpperCase()).join(',');

export function lifetimeCsv(c: FinishedConnection): string {
  const r = lifetimeRecord(c);
  return CSV_KEYS.map((k) => {
    const v = r[k];
    if (v === null || v === undefined) return '';
    return typeof v === 'string' ? csvCell(v) : String(v);
  }).join(',');
}

export class LifetimeSink implements Sink {
  private readonly line: (c: FinishedConnection) => string;

  constructor(private readonly out: Writer, o: LifetimeOptions, private readonly open?: OpenReader, private readonly log?: Writer) {
    const header = o.format === 'json' ? '' : o.format === 'csv' ? lifetimesCsvHeader() : lifetimesHeader(o.wide);
    if (header) out(`${header}\n`);
    this.line = o.format === 'json' ? lifetimeJson : o.format === 'csv' ? lifetimeCsv : (c) => lifetimeLine(c, o.wide);
  }

  write(_batch: unknown, done: readonly FinishedConnection[]): void {
    if (done.length === 0) return;
    let text = '';
    for (const c of done) text += `${this.line(c)}\n`;
    this.out(text);
  }

  /** The connections still open, figures so far, after the last finished one. */
  end(): void {
    if (!this.open) return;
    const report = this.open.read();
    this.write(undefined, report.connections);
    for (const e of report.errors) this.log?.(`tcptrace: open connections not listed: ${e}`);
  }
}
