/** Maps CLOCK_MONOTONIC ns onto wall-clock ms, measured once (Node's hrtime is CLOCK_MONOTONIC). */
export class Clock {
  readonly offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  wallMs(tsNs: number): number {
    return this.offsetMs + tsNs / 1e6;
  }
}
