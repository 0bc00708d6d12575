// The typed records a capture (`-j`, `--capture DIR`) carries besides the events, so that a
// replay (src/source/replay.ts) can rebuild what the live run knew: the tracer's facts, the
// sockets at start, loss as it happened, the accept records, the end. docs/SCHEMA.md lists them.
// Event lines have no `type`; every other line has one.
import os from 'node:os';
import type { CensusResult } from '../native/addon';
import type { NativeDelivery } from '../native/addon';
import type { KernelFilter } from '../probe/config';
import type { Counters, StatusReport, TracerStatus } from '../status';
import type { TcpEvent } from '../decode/event';
import { SCHEMA_VERSION, toJsonEvent } from '../format/schema';
import { terminalSafeJson } from '../format/display';
import { VERSION } from '../util/version';
import type { OpenConnectionsReport } from '../derive/open-connections';
import type { ListenerPressureRow } from '../derive/listener-pressure';
import { totalsJson } from './totals';

/** CLOCK_MONOTONIC now, in ns: the clock of the kernel's bpf_ktime_get_ns (libuv's hrtime). */
export const monoNs = (): number => Number(process.hrtime.bigint());

export interface NetnsFacts {
  /** our own network namespace's inode */
  own: number;
  /** processes whose namespace could not be read at the scan */
  unreadable: number;
  /** the namespaces counted at start (each has `census` records) */
  namespaces: number[];
}

/** First line of a capture: what traced, where, how. */
export interface CaptureHeader {
  type: 'capture';
  v: number;
  version: string;
  host: string;
  kernel: string;
  attach: string;
  delivery: string;
  programs: string[];
  filter: KernelFilter;
  /** wall ms = clock_offset_ms + ts_ns / 1e6 (the tracer's clock, src/decode/decode.ts) */
  clock_offset_ms: number;
  time: string;
  ts_ns: number;
  netns: NetnsFacts;
}

/** A count of sockets by state from sock_diag in one network namespace (a full count lists the sockets). */
export interface CensusRecord {
  type: 'census';
  v: number;
  netns: number;
  /** bit per state number dumped */
  states: number;
  start_ns: number;
  end_ns: number;
  /** sockets by state number, 0..15 */
  counts: number[];
  /** full counts: the sockets other than TIME_WAIT, 40 bytes each (src/native/sockdiag.h), base64 */
  tuples?: string;
  error: string | null;
}

/** The tracer's counters (and how close delivery came to loss) when they changed, and at the end. */
export interface CountersRecord {
  type: 'counters' | 'end';
  v: number;
  ts_ns: number;
  time: string;
  counters: Counters;
  delivery: NativeDelivery;
  /** --capture: the lines the flight recorder could not keep so far (each reason said on stderr) */
  not_captured?: number;
}

/** The connections still open when a report read them (sock_diag, src/derive/open-connections.ts). */
export interface OpenRecord {
  type: 'open';
  v: number;
  ts_ns: number;
  /** wall clock of the read */
  time: string;
  total: number;
  errors: string[];
  /** each with the fields --lifetimes --json writes for an open one that are not null there */
  connections: Record<string, unknown>[];
}

/** One listener sampled under pressure, as the live ListenerPressure row had it (field for field). */
export interface PressureListener {
  netns: number;
  port: number;
  fill: number;
  limit: number;
  peak: number;
  full_ms: number;
  drops: number;
  sampling: boolean;
  error: string | null;
  /** how many points the live series held: a replay keeps that many */
  points: number;
  /** [wall ms, fill]: the samples taken since the listener's previous record */
  series: [number, number][];
}

/**
 * The listeners sampled under pressure (src/derive/listener-pressure.ts) as the reports of a
 * tick read them: just before that tick's `counters` record, and before `end`, when a listener
 * changed since the previous one. Only the listeners that changed are in it.
 */
export interface PressureRecord {
  type: 'pressure';
  v: number;
  ts_ns: number;
  listeners: PressureListener[];
}

export type CaptureRecord = CaptureHeader | CensusRecord | CountersRecord | OpenRecord | PressureRecord;

export interface CaptureFacts {
  status: TracerStatus;
  programs: string[];
  filter: KernelFilter;
  clockOffsetMs: number;
  netns: NetnsFacts;
}

export function captureHeader(f: CaptureFacts): CaptureHeader {
  return {
    type: 'capture', v: SCHEMA_VERSION, version: VERSION, host: os.hostname(), kernel: os.release(),
    attach: f.status.attach, delivery: f.status.delivery, programs: f.programs, filter: f.filter,
    clock_offset_ms: f.clockOffsetMs, time: new Date().toISOString(), ts_ns: monoNs(), netns: f.netns,
  };
}

export function censusRecord(netns: number, states: number, r: CensusResult): CensusRecord {
  const rec: CensusRecord = { type: 'census', v: SCHEMA_VERSION, netns, states, start_ns: r.startNs, end_ns: r.endNs, counts: [...r.counts], error: r.error };
  if (r.tuples.length) rec.tuples = r.tuples.toString('base64');
  return rec;
}

/** `report`: a tick's status, the figures the other reports of that tick were given. */
export function countersRecord(type: 'counters' | 'end', status: TracerStatus, report?: StatusReport, notCaptured?: number): CountersRecord {
  const rec: CountersRecord = { type, v: SCHEMA_VERSION, ts_ns: monoNs(), time: new Date().toISOString(), counters: report?.counters ?? status.counters(), delivery: report?.deliveryStats ?? status.deliveryStats() };
  if (notCaptured !== undefined) rec.not_captured = notCaptured;
  return rec;
}

export function openRecord(r: OpenConnectionsReport): OpenRecord {
  const connections = r.connections.map((c) => ({
    pid: c.pid || null, comm: c.pid ? c.comm : null, family: c.family, saddr: c.saddr, sport: c.sport, daddr: c.daddr, dport: c.dport,
    side: c.side || null, established: c.established, last_state: c.lastState, netns: c.netns,
    rtt_us: c.totals ? c.totals.rttUs : null, ...totalsJson(c.totals),
  }));
  return { type: 'open', v: SCHEMA_VERSION, ts_ns: monoNs(), time: new Date(r.time).toISOString(), total: r.total, errors: r.errors, connections };
}

/** An accept record's line: the event's fields after `"type":"accept"`. */
export function acceptLine(e: TcpEvent): string {
  return `{"type":"accept",${terminalSafeJson(JSON.stringify(toJsonEvent(e))).slice(1)}\n`;
}

export function recordLine(r: CaptureRecord): string {
  return `${terminalSafeJson(JSON.stringify(r))}\n`;
}

/** What a capture writer is given besides the events: the facts, and the census as it is counted. */
export interface CaptureFeed {
  status: TracerStatus;
  header(): CaptureHeader;
  census?: { subscribe(listener: (r: CensusRecord) => void): () => void; full(): Promise<void> };
  /** the connections still open, as the reports read them (and once at the end) */
  open?: { subscribe(listener: (r: OpenConnectionsReport) => void): () => void; read(): OpenConnectionsReport };
  /** the listeners sampled under pressure, as the reports read them */
  pressure?: { rows(): ListenerPressureRow[] };
}
