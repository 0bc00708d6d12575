// The --summary report's traffic section: bytes and retransmits per listening port and remote
// endpoint, and the connections that carried the most, from each connection's totals at CLOSE
// plus, for those still open, their figures so far (marked "open").
import type { FinishedConnection } from '../../derive/connections';
import type { TrafficFigures, TrafficRow, TrafficSnapshot } from '../../derive/traffic';
import { padColumn } from '../../format/display';

/** Bytes in the largest unit that keeps them ≥ 1 (KiB, MiB, ...), one decimal. */
export function byteText(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

function header(title: string): string {
  return `${padColumn(title, 30)} ${'conns'.padStart(6)} ${'sent'.padStart(10)} ${'received'.padStart(10)} ${'retrans'.padStart(8)} ${'retx bytes'.padStart(10)}`;
}

function figures(label: string, f: TrafficFigures): string {
  return `  ${padColumn(label, 28)} ${String(f.connections).padStart(6)} ${byteText(f.bytesAcked).padStart(10)} ${byteText(f.bytesReceived).padStart(10)} ` +
    `${String(f.retransSegs).padStart(8)} ${byteText(f.bytesRetrans).padStart(10)}`;
}

function row(r: TrafficRow): string {
  const open = r.open ? `  (${r.open.connections} open)` : '';
  return `${figures(r.key, r)}${open}`;
}

function connection(c: FinishedConnection): string {
  const t = c.totals!;
  const peer = c.family === 6 ? `[${c.daddr}]:${c.dport}` : `${c.daddr}:${c.dport}`;
  const who = c.pid ? `${c.comm} ${c.pid}` : '-';
  return `  ${padColumn(`${c.sport} → ${peer}`, 34)} ${byteText(t.bytesAcked).padStart(10)} ${byteText(t.bytesReceived).padStart(10)} ` +
    `${String(t.retransSegs).padStart(8)}  ${padColumn(who, 22)} ${c.open ? `open,${c.lastState}` : 'closed'}`;
}

export function trafficLines(t: TrafficSnapshot, open?: { total: number; errors: string[] }): string[] {
  const out: string[] = [''];
  const openNote = open ? `, ${open.total} still open (figures so far, as ss -ti)` : '';
  out.push(`Traffic (bytes sent = acked by the peer; connections closed since start${openNote}):`);
  out.push(figures('all connections', t.all));
  for (const e of open?.errors ?? []) out.push(`  not read: ${e}`);
  if (t.byListenPort.length) {
    out.push(header('Top listening ports (accepted)'));
    for (const r of t.byListenPort) out.push(row(r));
  }
  if (t.byRemote.length) {
    out.push(header('Top remote endpoints (opened)'));
    for (const r of t.byRemote) out.push(row(r));
  }
  const title = (s: string) => `${padColumn(s, 36)} ${'sent'.padStart(10)} ${'received'.padStart(10)} ${'retrans'.padStart(8)}  owner`;
  if (t.topConnections.length) {
    out.push(title('Top connections by bytes'));
    for (const c of t.topConnections) out.push(connection(c));
  }
  if (t.topRetransmitting.length) {
    out.push(title('Top connections by retransmits'));
    for (const c of t.topRetransmitting) out.push(connection(c));
  }
  return out;
}
