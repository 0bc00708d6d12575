// How long a test waits for something that takes time (attach, events, a peer's reply).
// TCPTRACE_TEST_SLOW=N multiplies every such wait by N: scripts/test-kernels sets it inside its
// software-emulated guests, where everything runs several times slower. Unset: the waits as written.
const factor = Math.max(1, Number(process.env.TCPTRACE_TEST_SLOW) || 1);

/** `ms`, scaled for a slow machine. */
export function patience(ms: number): number {
  return ms * factor;
}
