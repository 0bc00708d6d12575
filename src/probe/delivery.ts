// How close delivery came to loss, in the words and numbers the exit line, the stream's stats
// and /metrics share.
import type { NativeDelivery } from '../native/addon';

export type { NativeDelivery };

/** The ring buffer's high-water mark as a fraction of its size (0..1); undefined for perf buffers. */
export function ringPeakFraction(d: NativeDelivery): number | undefined {
  return d.ringBytes ? (d.ringPeakBytes ?? 0) / d.ringBytes : undefined;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0)} MiB`;

/** The exit line's verbose tail: ring peak, drain thread backlog and scheduling. */
export function deliveryText(d: NativeDelivery): string {
  const parts: string[] = [];
  const peak = ringPeakFraction(d);
  if (peak !== undefined) parts.push(`ring peak ${(peak * 100).toFixed(1)}% of ${mib(d.ringBytes ?? 0)}`);
  if (d.thread) {
    parts.push(`backlog peak ${mib(d.backlogPeakBytes ?? 0)} of ${mib(d.backlogLimitBytes ?? 0)}${d.backlogFull ? ` (full ${d.backlogFull} times)` : ''}`);
    parts.push(`drain thread at ${d.priority}`);
  } else {
    parts.push('read on the event loop');
  }
  parts.push(`longest gap between reads ${d.maxGapMs.toFixed(0)} ms`);
  return parts.join(', ');
}
