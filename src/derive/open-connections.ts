// Connections still open when a report is made (at exit, or a --summary --interval report):
// their figures so far from the kernel's tcp_info through sock_diag (what `ss -ti` prints),
// in the shape of a finished connection marked `open`. Sockets in scope as the census sees
// them: the --netns namespace, else every namespace; the port and family filters apply (owner
// filters do not: sock_diag does not tell owners). Each is named by the process holding its
// socket in /proc (one scan per report), as ss -p does.
import { formatIPv4, formatIPv6 } from '../decode/address';
import type { ConnTotals } from '../decode/event';
import { State, stateName } from '../decode/states';
import type { NativeOpenConnection } from '../native/addon';
import { loadBinding } from '../native/binding';
import type { KernelFilter } from '../probe/config';
import type { FinishedConnection } from './connections';
import { scanNamespaces, type NamespaceScan } from '../census/netns';
import { ProcSocketIndex } from '../enrich/attribute';

export interface OpenConnectionsReport {
  /** open connections in scope, most bytes (acked + received) first, at most `limit` */
  connections: FinishedConnection[];
  /** how many were open in all (before the limit) */
  total: number;
  /** namespaces that could not be read */
  errors: string[];
  /** wall clock of the read, ms */
  time: number;
}

/** What reports read the open connections from: the kernel now (OpenConnections), or a capture's `open` record (a replay). */
export interface OpenReader {
  read(): OpenConnectionsReport;
}

/** Where the open connections come from (the kernel, or a test's). */
export interface OpenConnectionsSource {
  dump(netnsPath: string, family: 0 | 4 | 6): { connections: NativeOpenConnection[]; error: string | null };
  scan(): NamespaceScan;
  /** the process holding socket `inode` (/proc/PID/fd), when one does */
  owners(): (inode: number) => { pid: number; comm: string } | undefined;
}

export const kernelOpenSource: OpenConnectionsSource = {
  dump: (netnsPath, family) => loadBinding().connectionTotals({ netnsPath, family }),
  scan: () => scanNamespaces(),
  owners: () => {
    const index = new ProcSocketIndex(); // one /proc scan per report, at the first lookup
    return (inode) => (inode ? index.lookup(inode) : undefined);
  },
};

const address = (buf: Buffer, family: number) => (family === 4 ? formatIPv4(buf, 0) : formatIPv6(buf, 0));
const bytesOf = (c: FinishedConnection) => (c.totals ? c.totals.bytesAcked + c.totals.bytesReceived : 0);

function totalsOf(n: NativeOpenConnection): ConnTotals {
  return {
    bytesAcked: n.bytesAcked ?? 0, bytesReceived: n.bytesReceived ?? 0, bytesRetrans: n.bytesRetrans ?? 0,
    segsOut: n.segsOut ?? 0, segsIn: n.segsIn ?? 0, retransSegs: n.retransSegs ?? 0, retransRto: n.retransRto,
    rttUs: n.rttUs ?? 0, rttMinUs: n.rttMinUs ?? 0, busyUs: n.busyUs, rwndLimitedUs: n.rwndLimitedUs, sndbufLimitedUs: n.sndbufLimitedUs,
    open: true,
  };
}

export class OpenConnections implements OpenReader {
  private latest?: OpenConnectionsReport;
  private readonly listeners = new Set<(r: OpenConnectionsReport) => void>();

  constructor(private readonly filter: KernelFilter = {}, private readonly source: OpenConnectionsSource = kernelOpenSource) {}

  /**
   * Reads them now (one sock_diag dump per namespace in scope). Readers in one turn of the loop
   * (the sinks of one report, or of the exit) share one read: the same figures in each output,
   * and in the capture that a replay reads them back from (its listeners get each read once).
   */
  read(): OpenConnectionsReport {
    if (this.latest) return this.latest;
    const report = this.readNow();
    this.latest = report;
    queueMicrotask(() => (this.latest = undefined));
    for (const listener of this.listeners) listener(report);
    return report;
  }

  /** Calls `listener` with every read made from now on. */
  subscribe(listener: (r: OpenConnectionsReport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private readNow(): OpenConnectionsReport {
    const f = this.filter;
    const scan = this.source.scan();
    const inodes = f.netns !== undefined ? [f.netns] : [...scan.paths.keys()];
    const found: FinishedConnection[] = [];
    const errors: string[] = [];
    const now = Date.now();
    let owner: ReturnType<OpenConnectionsSource['owners']> | undefined;
    for (const netns of inodes) {
      const path = netns === scan.own ? '' : scan.paths.get(netns);
      if (path === undefined) {
        errors.push(`network namespace ${netns}: no process or mount opens it`);
        continue;
      }
      const { connections, error } = this.source.dump(path, f.family ?? 0);
      if (error) errors.push(`network namespace ${netns}: ${error}`);
      const listening = new Set(connections.filter((n) => n.state === State.LISTEN).map((n) => n.sport));
      for (const n of connections) {
        if (n.state === State.LISTEN) continue;
        if (f.localPorts?.length && !f.localPorts.includes(n.sport)) continue;
        if (f.remotePorts?.length && !f.remotePorts.includes(n.dport)) continue;
        owner ??= this.source.owners();
        const o = owner(n.inode);
        found.push({
          skaddr: '', pid: o?.pid ?? 0, comm: o?.comm ?? '', family: n.family, saddr: address(n.saddr, n.family), sport: n.sport,
          daddr: address(n.daddr, n.family), dport: n.dport, side: listening.has(n.sport) ? 'passive' : '',
          handshakeMs: null, acceptWaitMs: null, lifetimeMs: null, established: n.state !== State.SYN_SENT,
          cause: '', error: 0, timeWait: false, synRetrans: 0, synackRetrans: 0, lastState: stateName(n.state),
          time: now, netns, totals: totalsOf(n), open: true,
        });
      }
    }
    found.sort((a, b) => bytesOf(b) - bytesOf(a));
    return { connections: found, total: found.length, errors, time: now };
  }
}
