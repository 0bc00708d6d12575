// The --summary section "Slow and failed handshakes, by listener and cause" (docs/HANDSHAKE.md).
import { statSync } from 'node:fs';
import type { HandshakeBookSnapshot } from '../../derive/handshake-book';
import { padColumn } from '../../format/display';

const ms = (v: number | null) => (v === null ? '-' : v < 10 ? v.toFixed(3) : v.toFixed(0));

function listenerName(netns: number, port: number, own: number | undefined): string {
  const name = port ? `:${port}` : ':other';
  return netns && own !== undefined && netns !== own ? `${name} (netns ${netns})` : name;
}

function ourNetns(): number | undefined {
  try { return statSync('/proc/self/ns/net').ino; } catch { return undefined; }
}

/** Lines of the section; none when nothing was slow or failed. `ownNetns`: ours, left unnamed. */
export function handshakeLines(h: HandshakeBookSnapshot, ownNetns = ourNetns()): string[] {
  if (h.rows.length === 0 && h.listeners.length === 0) return [];
  const out = ['Slow and failed handshakes, by listener and cause (docs/HANDSHAKE.md)'];
  out.push(`  ${'LISTENER'.padEnd(24)} ${'WHY'.padEnd(18)} ${'CONNS'.padStart(7)} ${'RETRANS'.padStart(8)} ${'MAX_HS_MS'.padStart(10)} ${'MAX_WAIT_MS'.padStart(11)}  QUEUE`);
  for (const r of h.rows) {
    out.push(`  ${padColumn(listenerName(r.netns, r.port, ownNetns), 24)} ${r.why.padEnd(18)} ${String(r.connections).padStart(7)} ` +
      `${String(r.retransmits).padStart(8)} ${ms(r.maxHandshakeMs).padStart(10)} ${ms(r.maxAcceptWaitMs).padStart(11)}  ${r.worstQueue ?? '-'}`);
  }
  if (h.listeners.length) {
    out.push('  Accept queues sampled under pressure (sock_diag, every 100 ms):');
    for (const l of h.listeners) {
      const state = l.error ? `unreadable: ${l.error}` : `now ${l.fill}/${l.limit}, peak ${l.peak}/${l.limit}, full ${(l.fullMs / 1000).toFixed(1)} s, ` +
        `${l.drops} drops${l.sampling ? ' (sampling)' : ''}`;
      out.push(`    ${padColumn(listenerName(l.netns, l.port, ownNetns), 24)} ${state}`);
    }
  }
  return out;
}
