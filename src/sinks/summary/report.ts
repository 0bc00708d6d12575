// The --summary report: StatsSnapshot → text a person reads at a glance (or JSON).
import type { HistogramSummary } from '../../derive/histogram';
import type { StatsSnapshot } from '../../derive/stats';
import type { Counters } from '../../status';
import { padColumn } from '../../format/display';
import { toJsonEvent } from '../../format/schema';
import type { TcpEvent } from '../../decode/event';
import { trafficLines } from './traffic';
import { handshakeLines } from './handshakes';

const DECADES_MS = [0.01, 0.1, 1, 10, 100, 1000, 10000, Infinity];

function decadeLabel(i: number): string {
  const hi = DECADES_MS[i];
  if (hi === Infinity) return '> 10 s';
  return hi >= 1000 ? `≤ ${hi / 1000} s` : `≤ ${hi} ms`;
}

/** Histogram folded into decades, drawn as bars. */
export function histogramBars(h: HistogramSummary, indent = '    '): string[] {
  const counts = DECADES_MS.map(() => 0);
  for (const [bound, n] of h.buckets) counts[DECADES_MS.findIndex((d) => bound <= d * 1.0000001)] += n;
  const peak = Math.max(...counts, 1);
  const first = counts.findIndex((c) => c > 0);
  const last = counts.length - 1 - [...counts].reverse().findIndex((c) => c > 0);
  if (first < 0) return [];
  const lines: string[] = [];
  for (let i = first; i <= last; i++) {
    const bar = '#'.repeat(Math.round((counts[i] / peak) * 40));
    lines.push(`${indent}${decadeLabel(i).padStart(9)} |${bar.padEnd(40)}| ${counts[i]}`);
  }
  return lines;
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3));

function statsRow(label: string, h: HistogramSummary, width = 28): string {
  return `  ${padColumn(label, width)} ${String(h.count).padStart(7)} ${[h.p50, h.p90, h.p99, h.max].map((v) => num(v).padStart(9)).join(' ')}`;
}

function statsHeader(title: string, width = 28): string {
  return `${title.padEnd(width + 2)} ${'count'.padStart(7)} ${['p50', 'p90', 'p99', 'max'].map((s) => s.padStart(9)).join(' ')}`;
}

function clock(ms: number): string {
  return ms ? new Date(ms).toTimeString().slice(0, 8) : '--:--:--';
}

function counts(rec: Record<string, number>): string {
  const parts = Object.entries(rec).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : 'none';
}

export function formatSummary(s: StatsSnapshot, c: Counters): string {
  const out: string[] = [];
  const span = s.since ? ((s.until - s.since) / 1000).toFixed(1) : '0.0';
  out.push(`tcptrace summary ${clock(s.since)} – ${clock(s.until)} (${span} s): ${s.events} transitions; kernel saw ${c.seen}, lost ${c.lost}`);
  out.push('');
  out.push(statsHeader('Handshake latency (ms)'));
  out.push(statsRow('active  SYN_SENT→ESTABLISHED', s.handshake.active));
  out.push(statsRow('passive SYN_RECV→ESTABLISHED', s.handshake.passive));
  for (const [name, h] of [['active', s.handshake.active], ['passive', s.handshake.passive]] as const) {
    if (!h.count) continue;
    out.push(`  ${name} histogram:`);
    out.push(...histogramBars(h));
  }
  if (s.handshake.byRemote.length) {
    out.push('');
    out.push(statsHeader('Top remote endpoints (active, ms)'));
    for (const r of s.handshake.byRemote) out.push(statsRow(r.key, r.handshake));
  }
  if (s.handshake.byListenPort.length) {
    out.push('');
    out.push(statsHeader('Top listening ports (passive, ms)'));
    for (const r of s.handshake.byListenPort) out.push(statsRow(`port ${r.key}`, r.handshake));
  }
  if (s.acceptWait.all.count) {
    out.push('');
    out.push(statsHeader('Accept-queue wait (ms)'));
    out.push(statsRow('ESTABLISHED→accept()', s.acceptWait.all));
    for (const r of s.acceptWait.byListenPort) out.push(statsRow(`port ${r.key}`, r.wait));
  }
  const slow = handshakeLines(s.handshakes);
  if (slow.length) out.push('', ...slow);
  out.push('');
  out.push(`Failed connects: ${s.failedConnects.total}${s.failedConnects.total ? ` (${counts(s.failedConnects.byCause)})` : ''}`);
  for (const p of s.failedConnects.byPeer) out.push(`  ${padColumn(p.peer, 28)} ${String(p.count).padStart(7)}  ${counts(p.causes)}`);
  out.push(`Closed connections: ${counts(s.closes)}`);
  out.push('');
  out.push(statsHeader('Connection lifetime (ms)'));
  out.push(statsRow('open → CLOSE', s.lifetime));
  out.push('');
  out.push(...trafficLines(s.traffic, s.open));
  out.push('');
  out.push(statsHeader('Time in state (ms)'));
  for (const [state, h] of Object.entries(s.stateTime).sort((a, b) => b[1].count - a[1].count)) out.push(statsRow(state, h));
  out.push('');
  const now = Object.fromEntries(Object.entries(s.current).filter(([, n]) => n > 0));
  out.push(`Open now${s.census ? ' (every socket in scope, as ss -tan counts them)' : ' (of those seen since start)'}: ${counts(now)}`);
  if (s.census && !s.census.exact) out.push(`  may be off: ${s.census.notes.join('; ')}`);
  return `${out.join('\n')}\n`;
}

export function summaryJson(s: StatsSnapshot, c: Counters): string {
  // a connection's CLOSE transition as the event schema writes it (docs/SCHEMA.md), not the decoder's record
  const closeAsEvent = (key: string, v: unknown) => (key === 'close' && v !== null && typeof v === 'object' && 'newState' in v ? toJsonEvent(v as TcpEvent) : v);
  return `${JSON.stringify({ type: 'summary', v: 1, counters: c, ...s }, closeAsEvent)}\n`;
}
