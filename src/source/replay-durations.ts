// Time in the old state to the nanosecond, as the live run had it: the JSON `ms` field keeps
// microseconds, but when the socket's previous transition (the one into the state it leaves) is
// in the capture, the difference of the two kernel timestamps is the exact figure the tracer
// measured; the statistics and their histograms then see the same numbers live and replayed.
import type { TcpEvent } from '../decode/event';
import { State } from '../decode/states';

/** `ms` has µs precision: a difference of timestamps within this of it is the same duration. */
const ROUNDING_NS = 500;

export class ExactDurations {
  /** socket address → its last transition's new state and time (forgotten at CLOSE) */
  private readonly last = new Map<string, { state: number; tsNs: number }>();

  refine(e: TcpEvent): void {
    const prev = this.last.get(e.skaddr);
    if (prev && e.durationNs !== null && prev.state === e.oldState) {
      const exact = e.tsNs - prev.tsNs;
      if (Math.abs(exact - e.durationNs) <= ROUNDING_NS) e.durationNs = exact;
    }
    if (e.newState === State.CLOSE) this.last.delete(e.skaddr);
    else this.last.set(e.skaddr, { state: e.newState, tsNs: e.tsNs });
  }
}
