// Text helpers shared by the line-oriented formatters (table, CSV).
import type { TcpEvent } from '../decode/event';

export type TimeColumn = 'none' | 'clock' | 'relative';

/** HH:MM:SS local time, cached per second since many events share one. */
export class ClockText {
  private second = -1;
  private text = '';
  format(ms: number): string {
    const s = Math.floor(ms / 1000);
    if (s !== this.second) {
      const d = new Date(ms);
      this.second = s;
      this.text = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
    }
    return this.text;
  }
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Seconds since the first event seen by this formatter. */
export class RelativeText {
  private first = -1;
  format(tsNs: number): string {
    if (this.first < 0) this.first = tsNs;
    return ((tsNs - this.first) / 1e9).toFixed(3);
  }
}

/** Milliseconds in the old state, bcc style: three decimals, 0 when not seen. */
export function msText(e: TcpEvent): string {
  return e.durationNs === null ? '0.000' : (e.durationNs / 1e6).toFixed(3);
}

/** The close annotation: cause, plus time-wait where the kernel hands the connection over. */
export function causeText(e: TcpEvent): string {
  if (!e.cause) return '';
  return e.timeWait ? `${e.cause},time-wait` : e.cause;
}
