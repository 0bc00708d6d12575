// The words the outputs use for the record's enums (their values: bpf/tcptrace.h, through
// record.generated.ts). Keyed by the enum's own names, so a value added in C fails to compile here.
import { Cause, OwnerHow } from './record.generated';

const CAUSE_WORDS = {
  NONE: '', NORMAL: 'normal', RESET_RECV: 'reset-received', RESET_SENT: 'reset-sent', REFUSED: 'refused', TIMEOUT: 'timeout', ERROR: 'error',
} as const satisfies Record<keyof typeof Cause, string>;

const OWNER_WORDS = {
  NONE: 'unknown', SYSCALL: 'kernel', LISTENER: 'listener', ACCEPT: 'accept', USE: 'use',
} as const satisfies Record<keyof typeof OwnerHow, OwnerSource>;

/** Where the owner of a socket came from (docs/ATTRIBUTION.md). */
export type OwnerSource = 'kernel' | 'listener' | 'accept' | 'use' | 'proc' | 'unknown';

export type CauseName = (typeof CAUSE_WORDS)[keyof typeof CAUSE_WORDS];

function byValue<K extends string, W>(values: Record<K, number>, words: Record<K, W>): W[] {
  const out: W[] = [];
  for (const k of Object.keys(values) as K[]) out[values[k]] = words[k];
  return out;
}

/** enum tcptrace_cause, indexed by value */
export const CAUSE_NAMES: readonly CauseName[] = byValue(Cause, CAUSE_WORDS);
/** enum tcptrace_owner_how → the `owner` source it reports, indexed by value */
export const OWNER_HOW: readonly OwnerSource[] = byValue(OwnerHow, OWNER_WORDS);
