// A CLOSE record's totals (bpf/conn-stats.bpf.h) as one object, in the units tcp_info reports:
// the record carries the chrono times in jiffies, which become µs here as the kernel converts them.
import type { ConnTotals, TcpEvent } from './event';
import { usPerJiffy } from './jiffies';
import { Totals } from './record.generated';

function jiffiesUs(jiffies: number): number | null {
  const us = usPerJiffy();
  return us === null ? null : jiffies * us;
}

/** The totals a connection's CLOSE carries, or null for any other record. */
export function connTotals(e: TcpEvent): ConnTotals | null {
  if (!(e.totalsRead & Totals.READ)) return null;
  return {
    bytesAcked: e.bytesAcked, bytesReceived: e.bytesReceived, bytesRetrans: e.bytesRetrans, segsOut: e.segsOut, segsIn: e.segsIn,
    retransSegs: e.retransSegs, retransRto: e.totalsRead & Totals.RTO ? e.retransRto : null, rttUs: e.rttUs, rttMinUs: e.rttMinUs,
    busyUs: jiffiesUs(e.busyJiffies), rwndLimitedUs: jiffiesUs(e.rwndLimitedJiffies), sndbufLimitedUs: jiffiesUs(e.sndbufLimitedJiffies),
  };
}
