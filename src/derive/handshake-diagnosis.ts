// Why a handshake was slow or failed, per connection (docs/HANDSHAKE.md): the kernel's evidence
// (bpf/handshake.bpf.h, carried on the record) first, then what the event itself shows (the wait
// for accept(), how a handshake that never completed ended). One small vocabulary for every output.
import type { TcpEvent } from '../decode/event';
import { HandshakeDiag } from '../decode/record.generated';
import { State } from '../decode/states';

/** enum tcptrace_handshake_diag in words, keyed by its own names (a value added in C fails here) */
const KERNEL_WORDS = {
  NONE: '', ACCEPT_QUEUE_FULL: 'accept-queue-full', SYN_QUEUE_FULL: 'syn-queue-full', SYN_COOKIE: 'syn-cookie',
  LOST: 'lost-in-network', UNKNOWN: 'unknown',
} as const satisfies Record<keyof typeof HandshakeDiag, string>;
type KernelDiagnosis = (typeof KERNEL_WORDS)[keyof typeof KERNEL_WORDS];
/** the kernel's verdict by value */
const KERNEL: KernelDiagnosis[] = [];
for (const k of Object.keys(HandshakeDiag) as (keyof typeof HandshakeDiag)[]) KERNEL[HandshakeDiag[k]] = KERNEL_WORDS[k];

/** The kernel's part of an event's diagnosis ('' when it gave none). */
export function kernelDiagnosis(e: TcpEvent): KernelDiagnosis {
  return KERNEL[e.diagnosis] ?? 'unknown';
}

/** A connection that waited longer than this in the accept queue, after a handshake without
 *  retransmits, is "slow to accept": long enough to matter to a client (a p99 budget is rarely
 *  below it), short enough that an idle-looking server loop shows up. */
export const SLOW_ACCEPT_MS = 100;

export type Why = Exclude<KernelDiagnosis, ''> | 'slow-accept' | 'refused' | 'timeout' | 'reset';

/** Every diagnosis, in the order reports list them. */
export const WHYS: readonly Why[] = [
  'accept-queue-full', 'syn-queue-full', 'syn-cookie', 'lost-in-network', 'slow-accept', 'refused', 'timeout', 'reset', 'unknown',
];

export interface Diagnosis {
  why: Why;
  /** the listener's port: the local port of a passive open, the remote one of an active open */
  listenerPort: number;
  /** the listener's accept queue when the kernel gave the verdict, `fill/limit`; null when not read */
  acceptQueue: string | null;
}

/** The verdicts given with the listener's accept queue read at that moment. */
const QUEUE_READ = new Set<Why>(['accept-queue-full', 'syn-queue-full', 'lost-in-network']);

/** A handshake that never completed: how its CLOSE came. */
function failedHandshake(e: TcpEvent): Why | null {
  if (e.oldState !== State.SYN_SENT && e.oldState !== State.SYN_RECV) return null;
  if (e.cause === 'refused') return 'refused';
  if (e.cause === 'timeout') return 'timeout';
  if (e.cause === 'reset-received' || e.cause === 'reset-sent') return 'reset';
  return null;
}

/**
 * The diagnosis of a `->ESTABLISHED` or `->CLOSE` event; null on other transitions and for a
 * connection with nothing to explain. The accept wait is only known at CLOSE (after accept()).
 */
export function diagnose(e: TcpEvent): Diagnosis | null {
  if (e.isAccept || (e.newState !== State.ESTABLISHED && e.newState !== State.CLOSE)) return null;
  const kernel = kernelDiagnosis(e);
  let why: Why | null = kernel || null;
  if (!why && e.newState === State.CLOSE) {
    why = e.acceptWaitUs > SLOW_ACCEPT_MS * 1000 ? 'slow-accept' : failedHandshake(e);
  }
  if (!why) return null;
  return {
    why,
    listenerPort: e.side === 'active' ? e.dport : e.sport,
    acceptQueue: QUEUE_READ.has(why) ? `${e.listenerBacklog}/${e.listenerMax}` : null,
  };
}

/** The JSON form (docs/SCHEMA.md, field `diagnosis`); as text (--lifetimes) the short form. */
export class DiagnosisJson {
  readonly why: Why;
  readonly listener_port: number;
  readonly accept_queue: string | null;

  constructor(d: Diagnosis) {
    this.why = d.why;
    this.listener_port = d.listenerPort;
    this.accept_queue = d.acceptQueue;
  }

  toString(): string {
    return diagnosisText({ why: this.why, listenerPort: this.listener_port, acceptQueue: this.accept_queue });
  }
}

export function diagnosisJson(d: Diagnosis | null): DiagnosisJson | null {
  return d && new DiagnosisJson(d);
}

/** One short text: `accept-queue-full(2/1 :8080)`, for the table-like outputs. */
export function diagnosisText(d: Diagnosis): string {
  return `${d.why}(${d.acceptQueue ? `${d.acceptQueue} ` : ''}:${d.listenerPort})`;
}
