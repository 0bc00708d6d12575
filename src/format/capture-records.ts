// The typed records a capture (`-j`, `--capture DIR`) carries besides the events, so that a
// replay (src/source/replay.ts) can rebuild what the live run knew: the tracer's facts, the
// sockets at start, loss as it happened, the accept records, the end. docs/SCHEMA.md lists them.
// Event lines have no `type`; every other line has one.
import os from 'node:os';
import type { CensusResult } from '../native/addon';
import type { NativeDelivery } from '../native/addon';
import type { KernelFilter } from '../probe/config';
import type { Counters, TracerStatus } from '../status';
import type { TcpEvent } from '../decode/event';
import { SCHEMA_VERSION, toJsonEvent } from '../format/schema';
import { terminalSafeJson } from '../format/display';
import { VERSION } from '../util/version';

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
}

export type CaptureRecord = CaptureHeader | CensusRecord | CountersRecord;

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

export function countersRecord(type: 'counters' | 'end', status: TracerStatus): CountersRecord {
  return { type, v: SCHEMA_VERSION, ts_ns: monoNs(), time: new Date().toISOString(), counters: status.counters(), delivery: status.deliveryStats() };
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
}
