// The `traffic` part of the stream's `stats` message (docs/STREAM.md): bytes and retransmits per
// listening port and remote endpoint, and the top connections, from the stats engine's traffic
// table (finished connections' totals at CLOSE), in the stream's snake_case.
import type { FinishedConnection } from '../../derive/connections';
import type { TrafficFigures, TrafficRow, TrafficSnapshot } from '../../derive/traffic';

function figures(f: TrafficFigures) {
  return { connections: f.connections, bytes_acked: f.bytesAcked, bytes_received: f.bytesReceived, retrans_segs: f.retransSegs, bytes_retrans: f.bytesRetrans };
}

const row = (r: TrafficRow) => ({ key: r.key, ...figures(r) });

function connection(c: FinishedConnection) {
  const t = c.totals!;
  return {
    pid: c.pid || null, comm: c.comm || null, family: c.family, saddr: c.saddr, sport: c.sport, daddr: c.daddr, dport: c.dport,
    side: c.side || null, time: new Date(c.time).toISOString(), open: Boolean(c.open), bytes_acked: t.bytesAcked,
    bytes_received: t.bytesReceived, retrans_segs: t.retransSegs, bytes_retrans: t.bytesRetrans, rtt_us: t.rttUs,
  };
}

export function trafficMessage(t: TrafficSnapshot) {
  return {
    all: figures(t.all),
    by_listen_port: t.byListenPort.map(row),
    by_remote: t.byRemote.map(row),
    top_connections: t.topConnections.map(connection),
    top_retransmitting: t.topRetransmitting.map(connection),
  };
}
