// Slow and failed handshakes by listener and diagnosis (docs/HANDSHAKE.md), for --summary and
// the stream: each connection counted once, when its diagnosis is final: a kernel verdict at
// ->ESTABLISHED; a handshake that never completed, or a slow accept(), at its CLOSE. Bounded:
// at most MAX_LISTENERS listeners, the rest counted under port 0.
import type { TcpEvent } from '../decode/event';
import { State } from '../decode/states';
import { diagnose, WHYS, type Diagnosis, type Why } from './handshake-diagnosis';
import type { ListenerPressure, ListenerPressureRow } from './listener-pressure';

const MAX_LISTENERS = 256;

export interface HandshakeRow {
  netns: number;
  /** the listener's port (0: listeners past the bound) */
  port: number;
  why: Why;
  connections: number;
  /** SYN and SYN-ACK retransmits of those connections */
  retransmits: number;
  /** slowest handshake and longest accept wait among them, ms (null when none measured) */
  maxHandshakeMs: number | null;
  maxAcceptWaitMs: number | null;
  /** the fullest accept queue the kernel reported with a verdict, `fill/limit` */
  worstQueue: string | null;
}

export interface HandshakeBookSnapshot {
  rows: HandshakeRow[];
  listeners: ListenerPressureRow[];
}

/**
 * The diagnosis of `e` when it is the connection's final one, to count once: a kernel verdict at
 * ->ESTABLISHED; at ->CLOSE, a handshake that never completed, or a slow accept() (a kernel
 * verdict of an established connection was counted at its ESTABLISHED).
 */
export function finalDiagnosis(e: TcpEvent): Diagnosis | null {
  if (e.newState === State.ESTABLISHED) return e.diagnosis ? diagnose(e) : null;
  if (e.newState !== State.CLOSE) return null;
  const open = e.oldState === State.SYN_SENT || e.oldState === State.SYN_RECV;
  return open || (!e.diagnosis && e.acceptWaitUs) ? diagnose(e) : null;
}

export class HandshakeBook {
  private readonly rows = new Map<string, HandshakeRow>();
  private readonly ports = new Set<string>();
  private readonly handshakeMs = new Map<string, number>();

  constructor(private readonly pressure?: ListenerPressure) {}

  observe(batch: readonly TcpEvent[]): void {
    for (const e of batch) {
      if (e.newState === State.ESTABLISHED) {
        if (e.handshakeUs) this.handshakeMs.set(e.skaddr, e.handshakeUs / 1000);
        this.count(e, finalDiagnosis(e), e.handshakeUs ? e.handshakeUs / 1000 : undefined);
      } else if (e.newState === State.CLOSE) {
        const hs = this.handshakeMs.get(e.skaddr);
        this.handshakeMs.delete(e.skaddr);
        this.count(e, finalDiagnosis(e), hs);
      }
    }
    if (this.handshakeMs.size > 65536) this.handshakeMs.clear();
  }

  private count(e: TcpEvent, d: Diagnosis | null, handshakeMs: number | undefined): void {
    if (!d) return;
    let listener = `${e.netns}:${d.listenerPort}`;
    if (!this.ports.has(listener)) {
      if (this.ports.size >= MAX_LISTENERS) listener = `${e.netns}:0`;
      else this.ports.add(listener);
    }
    const key = `${listener}:${d.why}`;
    let row = this.rows.get(key);
    if (!row) {
      row = { netns: e.netns, port: Number(listener.split(':')[1]), why: d.why, connections: 0, retransmits: 0, maxHandshakeMs: null, maxAcceptWaitMs: null, worstQueue: null };
      this.rows.set(key, row);
    }
    row.connections++;
    row.retransmits += e.synRetrans + e.synackRetrans;
    if (handshakeMs !== undefined) row.maxHandshakeMs = Math.max(row.maxHandshakeMs ?? 0, handshakeMs);
    if (e.acceptWaitUs) row.maxAcceptWaitMs = Math.max(row.maxAcceptWaitMs ?? 0, e.acceptWaitUs / 1000);
    if (d.acceptQueue && (!row.worstQueue || fillOf(d.acceptQueue) > fillOf(row.worstQueue))) row.worstQueue = d.acceptQueue;
  }

  snapshot(): HandshakeBookSnapshot {
    const order = (r: HandshakeRow) => WHYS.indexOf(r.why);
    const rows = [...this.rows.values()].map((r) => ({ ...r }))
      .sort((a, b) => b.connections - a.connections || order(a) - order(b));
    return { rows, listeners: this.pressure?.rows() ?? [] };
  }
}

function fillOf(queue: string): number {
  return Number(queue.split('/')[0]);
}
