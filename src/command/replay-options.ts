// --replay, --speed and the flight recorder's options (--capture, --capture-size,
// --capture-last): their checks, apart from the tracer's (options.ts).
import { parseSize, UsageError } from './option-values';

export interface CapturePlan {
  /** the directory of the rotating capture files */
  dir: string;
  /** the most bytes its files take together */
  sizeBytes: number;
  /** what a save on demand (SIGUSR2, the dashboard) covers, minutes back from now */
  lastMinutes: number;
}

export interface ReplayPlan {
  /** --replay FILE|DIR|-: a capture read back instead of the kernel */
  replay?: string;
  /** trace seconds per wall second; undefined: as fast as possible */
  speed?: number;
  capture?: CapturePlan;
}

type Raw = Record<string, string | boolean | undefined>;

/** Options that make no sense without the kernel. */
const LIVE_ONLY: [string, string][] = [['attach', '--attach'], ['perfBuffer', '--perf-buffer'], ['ringSize', '--ring-size'], ['wakeupBytes', '--wakeup-bytes'], ['flushMs', '--flush-ms'], ['capture', '--capture']];

export function replayOptions(o: Raw): ReplayPlan {
  const plan: ReplayPlan = {};
  if (typeof o.replay === 'string') {
    if (!o.replay) throw new UsageError('--replay needs a capture file, a --capture directory or - for stdin');
    for (const [key, flag] of LIVE_ONLY) {
      if (o[key] !== undefined && !(key === 'attach' && o[key] === 'auto')) throw new UsageError(`${flag} is for live tracing, not --replay`);
    }
    plan.replay = o.replay;
  }
  if (typeof o.speed === 'string') {
    if (!plan.replay) throw new UsageError('--speed needs --replay');
    const n = /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(o.speed) ? Number(o.speed) : NaN;
    if (o.speed !== 'max' && !(n > 0 && n <= 1e6)) throw new UsageError(`bad value '${o.speed}' for --speed: use a factor such as 1 (real time) or 10, or max`);
    if (o.speed !== 'max') plan.speed = n;
  }
  if (typeof o.capture === 'string') {
    if (!o.capture) throw new UsageError('--capture needs a directory');
    const sizeBytes = typeof o.captureSize === 'string' ? parseSize(o.captureSize, '--capture-size') : 256 << 20;
    if (sizeBytes < 1 << 20) throw new UsageError(`bad value '${o.captureSize}' for --capture-size: use at least 1M`);
    const last = typeof o.captureLast === 'string' ? Number(o.captureLast) : 10;
    if (!(last > 0 && last <= 1e6)) throw new UsageError(`bad value '${o.captureLast}' for --capture-last: use a positive number of minutes`);
    plan.capture = { dir: o.capture, sizeBytes, lastMinutes: last };
  } else if (o.captureSize !== undefined || o.captureLast !== undefined) {
    throw new UsageError('--capture-size and --capture-last need --capture');
  }
  return plan;
}
