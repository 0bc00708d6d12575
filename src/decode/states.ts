// TCP state numbers as the kernel defines them (include/net/tcp_states.h).
export const STATE_NAMES = [
  'UNKNOWN', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT',
  'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE',
] as const;

export type StateName = (typeof STATE_NAMES)[number];

export const State = {
  ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, FIN_WAIT1: 4, FIN_WAIT2: 5, TIME_WAIT: 6, CLOSE: 7,
  CLOSE_WAIT: 8, LAST_ACK: 9, LISTEN: 10, CLOSING: 11, NEW_SYN_RECV: 12, BOUND_INACTIVE: 13,
} as const;

export function stateName(n: number): string {
  return STATE_NAMES[n] ?? `STATE_${n}`;
}

/** Accepts "ESTABLISHED", "established", "syn-sent", "SYN_SENT"; undefined if unknown. */
export function parseState(name: string): number | undefined {
  const wanted = name.trim().toUpperCase().replace(/-/g, '_');
  const i = STATE_NAMES.indexOf(wanted as StateName);
  return i > 0 ? i : undefined;
}
