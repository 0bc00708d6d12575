// A connection's totals (TcpEvent.totals, bpf/conn-stats.bpf.h) as output fields, declared once:
// the JSON key, its meaning and kernel source (docs/SCHEMA.md lists these), and its value. The
// event's JSON (its `totals` object, schema-fields.ts), the --lifetimes record and its CSV use them.
import type { ConnTotals } from '../decode/event';

export interface TotalsField {
  readonly key: string;
  readonly type: string;
  readonly doc: string;
  readonly value: (t: ConnTotals) => number | null;
}

const f = (key: string, type: string, doc: string, value: (t: ConnTotals) => number | null): TotalsField => ({ key, type, doc, value });

export const TOTALS_FIELDS: readonly TotalsField[] = [
  f('bytes_acked', 'number | null', 'bytes sent and acknowledged by the peer: `tcp_sock.bytes_acked` (`tcpi_bytes_acked`, ss `bytes_acked`, tcplife\'s TX); counts the SYN of an active open and an acknowledged FIN as one byte each, as the kernel does', (t) => t.bytesAcked),
  f('bytes_received', 'number | null', 'bytes received in order: `tcp_sock.bytes_received` (`tcpi_bytes_received`, tcplife\'s RX); counts the peer\'s FIN as one byte', (t) => t.bytesReceived),
  f('bytes_retrans', 'number | null', 'bytes retransmitted: `tcp_sock.bytes_retrans` (`tcpi_bytes_retrans`; 0 on kernels before 4.19)', (t) => t.bytesRetrans),
  f('segs_out', 'number | null', 'segments sent, retransmits included: `tcp_sock.segs_out` (`tcpi_segs_out`)', (t) => t.segsOut),
  f('segs_in', 'number | null', 'segments received: `tcp_sock.segs_in` (`tcpi_segs_in`)', (t) => t.segsIn),
  f('retrans_segs', 'number | null', 'segments retransmitted: `tcp_sock.total_retrans` (`tcpi_total_retrans`, ss `retrans:N/TOTAL`; counted per retransmitted skb, so one TSO burst can count as one)', (t) => t.retransSegs),
  f('retrans_rto', 'number | null', 'retransmission timeouts: `tcp_sock.total_rto` (`tcpi_total_rto`, Linux 6.7+); `null` on older kernels', (t) => t.retransRto),
  f('rtt_min_us', 'number | null', 'minimum RTT seen, µs: `tcp_sock.rtt_min` (`tcpi_min_rtt`, ss `minrtt`)', (t) => t.rttMinUs),
  f('busy_us', 'number | null', 'µs the connection was busy sending (data in flight or queued), limited or not: the sum of `tcp_sock.chrono_stat[]` in jiffies, the running one up to now, × 1 000 000 / HZ (`tcpi_busy_time`, ss `busy:`); `null` when HZ is unknown', (t) => t.busyUs),
  f('rwnd_limited_us', 'number | null', 'of that, µs limited by the peer\'s receive window: `chrono_stat[TCP_CHRONO_RWND_LIMITED - 1]` (`tcpi_rwnd_limited`, ss `rwnd_limited:`)', (t) => t.rwndLimitedUs),
  f('sndbuf_limited_us', 'number | null', 'of that, µs limited by the send buffer: `chrono_stat[TCP_CHRONO_SNDBUF_LIMITED - 1]` (`tcpi_sndbuf_limited`, ss `sndbuf_limited:`)', (t) => t.sndbufLimitedUs),
];

/** The totals as JSON fields (every key, null when not read). */
export function totalsJson(t: ConnTotals | null): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const field of TOTALS_FIELDS) out[field.key] = t ? field.value(t) : null;
  return out;
}

/** tcplife's TX_KB / RX_KB: whole KiB. */
export const kib = (bytes: number): number => Math.floor(bytes / 1024);
