// Why a handshake was slow or failed, per connection (docs/HANDSHAKE.md): the kernel's evidence
// (bpf/handshake.bpf.h, carried on the record) first, then what the event itself shows (the wait
// for accept(), how a handshake that never completed ended). One small vocabulary for every output.
import type { TcpEvent } from '../decode/event';
import { HandshakeDiag, HandshakeEvidence } from '../decode/record.generated';
import { State } from '../decode/states';

/** enum tcptrace_handshake_diag in words, keyed by its own names (a value added in C fails here) */
const KERNEL_WORDS = {
  NONE: '', ACCEPT_QUEUE_FULL: 'accept-queue-full', SYN_DROPPED: 'syn-dropped', SYN_COOKIE: 'syn-cookie',
  LOST: 'lost-in-network', UNKNOWN: 'unknown',
} as const satisfies Record<keyof typeof HandshakeDiag, string>;
type KernelDiagnosis = (typeof KERNEL_WORDS)[keyof typeof KERNEL_WORDS];
/** the kernel's verdict by value */
const KERNEL: KernelDiagnosis[] = [];
for (const k of Object.keys(HandshakeDiag) as (keyof typeof HandshakeDiag)[]) KERNEL[HandshakeDiag[k]] = KERNEL_WORDS[k];

/** enum tcptrace_handshake_evidence in words, and whether each proves its verdict */
const EVIDENCE_WORDS = {
  NONE: ['', false], REQUEST_ACKED: ['request-acked', true], REQUEST_UNACKED: ['request-not-acked', true],
  SYN_ANSWERED: ['syn-answered', true], LISTENER_DROP: ['listener-drop-count', false],
  NO_LISTENER_DROP: ['no-listener-drop', false], COOKIE_CHILD: ['cookie-child', true], NO_LISTENER: ['no-listener-here', false],
} as const satisfies Record<keyof typeof HandshakeEvidence, readonly [string, boolean]>;
export type Evidence = (typeof EVIDENCE_WORDS)[keyof typeof EVIDENCE_WORDS][0];
const EVIDENCE: (readonly [Evidence, boolean])[] = [];
for (const k of Object.keys(HandshakeEvidence) as (keyof typeof HandshakeEvidence)[]) EVIDENCE[HandshakeEvidence[k]] = EVIDENCE_WORDS[k];
/** the evidence values by their words (for reading JSON back) */
export const EVIDENCE_BY_WORD = new Map<string, number>(Object.entries(HandshakeEvidence).map(([k, n]) => [EVIDENCE_WORDS[k as keyof typeof HandshakeEvidence][0], n]));

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
  'accept-queue-full', 'syn-dropped', 'syn-cookie', 'lost-in-network', 'slow-accept', 'refused', 'timeout', 'reset', 'unknown',
];

export interface Diagnosis {
  why: Why;
  /** the listener's port: the local port of a passive open, the remote one of an active open */
  listenerPort: number;
  /** the listener's accept queue, `fill/limit`, read at the retransmit that gave the verdict (not
   *  at the drop: no tracepoint fires there); null when not read */
  acceptQueue: string | null;
  /** which retransmit the queue was read at */
  acceptQueueRead: 'syn-retransmit' | 'synack-retransmit' | null;
  /** what the verdict rests on (docs/HANDSHAKE.md) */
  evidence: Evidence | 'accept-wait' | 'close-cause';
  /** false when the verdict is an inference (a shared drop count), not the kernel's own record */
  proven: boolean;
}

/** The verdicts given with the listener's accept queue read at that moment. */
const QUEUE_READ = new Set<Why>(['accept-queue-full', 'syn-dropped', 'lost-in-network']);

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
  const listenerPort = e.side === 'active' ? e.dport : e.sport;
  if (kernel) {
    const [evidence, proven] = EVIDENCE[e.diagEvidence] ?? EVIDENCE[0];
    const read = QUEUE_READ.has(kernel);
    return {
      why: kernel, listenerPort, evidence, proven,
      acceptQueue: read ? `${e.listenerBacklog}/${e.listenerMax}` : null,
      acceptQueueRead: read ? (e.side === 'active' ? 'syn-retransmit' : 'synack-retransmit') : null,
    };
  }
  if (e.newState !== State.CLOSE) return null;
  const slow = e.acceptWaitUs > SLOW_ACCEPT_MS * 1000;
  const why = slow ? 'slow-accept' : failedHandshake(e);
  if (!why) return null;
  return { why, listenerPort, acceptQueue: null, acceptQueueRead: null, evidence: slow ? 'accept-wait' : 'close-cause', proven: true };
}

/** The JSON form (docs/SCHEMA.md, field `diagnosis`); as text (--lifetimes) the short form. */
export class DiagnosisJson {
  readonly why: Why;
  readonly proven: boolean;
  readonly evidence: Diagnosis['evidence'];
  readonly listener_port: number;
  readonly accept_queue: string | null;
  readonly accept_queue_read: Diagnosis['acceptQueueRead'];

  constructor(d: Diagnosis) {
    this.why = d.why;
    this.proven = d.proven;
    this.evidence = d.evidence;
    this.listener_port = d.listenerPort;
    this.accept_queue = d.acceptQueue;
    this.accept_queue_read = d.acceptQueueRead;
  }

  toString(): string {
    return diagnosisText({ why: this.why, proven: this.proven, acceptQueue: this.accept_queue, listenerPort: this.listener_port });
  }
}

export function diagnosisJson(d: Diagnosis | null): DiagnosisJson | null {
  return d && new DiagnosisJson(d);
}

/** One short text: `accept-queue-full(2/1 :8080)`, `?` after an inferred verdict, for the
 *  table-like outputs. */
export function diagnosisText(d: Pick<Diagnosis, 'why' | 'proven' | 'acceptQueue' | 'listenerPort'>): string {
  return `${d.why}${d.proven ? '' : '?'}(${d.acceptQueue ? `${d.acceptQueue} ` : ''}:${d.listenerPort})`;
}
