// A CLOSE record's totals (bpf/conn-stats.bpf.h) as one object, read only when the record carries
// them (the generated decoder calls readTotals on a connection's CLOSE; every other event's
// `totals` is null), in the units tcp_info reports: the chrono times cross in jiffies and become
// µs here as the kernel converts them.
import type { ConnTotals } from './event';
import { usPerJiffy } from './jiffies';
import { EventOffset as O, Totals } from './record.generated';
import { readU64, u32 } from './readers';

function jiffiesUs(buf: Buffer, off: number): number | null {
  const us = usPerJiffy();
  return us === null ? null : u32(buf, off) * us;
}

export function readTotals(buf: Buffer, off: number): ConnTotals {
  const read = buf[off + O.totals_read];
  return {
    bytesAcked: readU64(buf, off + O.bytes_acked),
    bytesReceived: readU64(buf, off + O.bytes_received),
    bytesRetrans: readU64(buf, off + O.bytes_retrans),
    segsOut: u32(buf, off + O.segs_out),
    segsIn: u32(buf, off + O.segs_in),
    retransSegs: u32(buf, off + O.retrans_segs),
    retransRto: read & Totals.RTO ? u32(buf, off + O.retrans_rto) : null,
    rttUs: u32(buf, off + O.rtt_us),
    rttMinUs: u32(buf, off + O.rtt_min_us),
    busyUs: jiffiesUs(buf, off + O.busy_jiffies),
    rwndLimitedUs: jiffiesUs(buf, off + O.rwnd_limited_jiffies),
    sndbufLimitedUs: jiffiesUs(buf, off + O.sndbuf_limited_jiffies),
  };
}
