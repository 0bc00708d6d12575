// --lifetimes: one line per finished connection (owner, endpoints, who opened it,
// handshake time, lifetime, how it ended).
import type { FinishedConnection } from '../derive/connections';
import { errnoName } from '../format/schema';
import { LIFETIMES_FIELDS } from '../format/schema-fields';
import { displayText, terminalSafeJson } from '../format/display';
import { paddedName } from '../format/names';
import type { Sink, Writer } from './sink';

export const LIFETIMES_HEADER =
  `${'PID'.padEnd(7)} ${'COMM'.padEnd(15)} ${'SIDE'.padEnd(7)} ${'LADDR'.padEnd(15)} ${'LPORT'.padEnd(5)} ${'RADDR'.padEnd(15)} ${'RPORT'.padEnd(5)} ${'HS_MS'.padStart(9)} ${'WAIT_MS'.padStart(9)} ${'LIFE_MS'.padStart(10)} END`;

const ms = (v: number | null, w: number) => (v === null ? '-' : v.toFixed(3)).padStart(w);

export function lifetimeLine(c: FinishedConnection): string {
  const end = c.timeWait ? `${c.cause},time-wait` : c.cause || 'normal';
  const retrans = c.synRetrans ? ` syn-retrans=${c.synRetrans}` : c.synackRetrans ? ` synack-retrans=${c.synackRetrans}` : '';
  return `${String(c.pid || '-').padEnd(7)} ${c.pid ? paddedName(c.comm, 15) : '-'.padEnd(15)} ${(c.side || '-').padEnd(7)} ` +
    `${c.saddr.padEnd(15)} ${String(c.sport).padEnd(5)} ${c.daddr.padEnd(15)} ${String(c.dport).padEnd(5)} ` +
    `${ms(c.handshakeMs, 9)} ${ms(c.acceptWaitMs, 9)} ${ms(c.lifetimeMs, 10)} ${end}${retrans}${laterText(c)}`;
}

/** ` key=value` for each catalogue field --lifetimes shows (left out when null, 0 or ''). */
function laterText(c: FinishedConnection): string {
  let text = '';
  for (const f of LIFETIMES_FIELDS) {
    const v = f.value(c.close);
    if (v !== null && v !== undefined && v !== 0 && v !== '' && v !== false) text += ` ${f.key}=${displayText(String(v))}`;
  }
  return text;
}

function laterJson(c: FinishedConnection): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const f of LIFETIMES_FIELDS) json[f.key] = f.value(c.close);
  return json;
}

export function lifetimeJson(c: FinishedConnection): string {
  return terminalSafeJson(JSON.stringify({
    type: 'connection', v: 1, time: new Date(c.time).toISOString(), skaddr: c.skaddr, pid: c.pid || null, comm: c.pid ? c.comm : null,
    family: c.family, saddr: c.saddr, sport: c.sport, daddr: c.daddr, dport: c.dport, side: c.side || null,
    handshake_ms: c.handshakeMs, accept_wait_ms: c.acceptWaitMs, lifetime_ms: c.lifetimeMs, established: c.established, cause: c.cause || null,
    time_wait: c.timeWait, error: errnoName(c.error), syn_retrans: c.synRetrans, synack_retrans: c.synackRetrans,
    last_state: c.lastState, ...laterJson(c),
  }));
}

export class LifetimeSink implements Sink {
  constructor(private readonly out: Writer, private readonly json: boolean) {
    if (!json) out(`${LIFETIMES_HEADER}\n`);
  }

  write(_batch: unknown, done: readonly FinishedConnection[]): void {
    if (done.length === 0) return;
    let text = '';
    for (const c of done) text += `${this.json ? lifetimeJson(c) : lifetimeLine(c)}\n`;
    this.out(text);
  }
}
