// The kernel's tick rate (CONFIG_HZ), to turn the jiffies a CLOSE record carries (tcp_info's busy,
// rwnd-limited and sndbuf-limited times) into µs as tcp_info does. From the kernel's build config
// where it ships one (/boot/config-RELEASE, /proc/config.gz); else measured: /proc/timer_list's
// jiffies read twice, at least 50 ms apart, against CLOCK_MONOTONIC (the first read happens when
// this module loads, which is before the BPF load, so the second one rarely waits).
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';

/** The rates Linux is built with (x86: 100, 250, 300, 1000; some arches 24, 32, 48, 128, 512, 1024, 1200). */
const KNOWN_HZ = [24, 32, 48, 100, 128, 250, 256, 300, 512, 1000, 1024, 1200];
const MIN_SPAN_NS = 50e6;

interface Sample { jiffies: number; ns: number }

function readTimerList(): Sample | null {
  try {
    const text = readFileSync('/proc/timer_list', 'latin1');
    const j = /^jiffies: (\d+)$/m.exec(text);
    return j ? { jiffies: Number(j[1]), ns: Number(process.hrtime.bigint()) } : null;
  } catch {
    return null;
  }
}

function fromConfig(): number | null {
  const read = [
    () => readFileSync(`/boot/config-${release()}`, 'latin1'),
    () => gunzipSync(readFileSync('/proc/config.gz')).toString('latin1'),
  ];
  for (const r of read) {
    try {
      const m = /^CONFIG_HZ=(\d+)$/m.exec(r());
      if (m) return Number(m[1]);
    } catch { /* next source */ }
  }
  return null;
}

function nearestKnown(hz: number): number {
  return KNOWN_HZ.reduce((best, h) => (Math.abs(h - hz) < Math.abs(best - hz) ? h : best));
}

const first = readTimerList();
let hz: number | null | undefined;

function measured(): number | null {
  if (!first) return null;
  const wait = (first.ns + MIN_SPAN_NS - Number(process.hrtime.bigint())) / 1e6;
  if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.ceil(wait));
  const second = readTimerList();
  if (!second || second.ns <= first.ns) return null;
  return nearestKnown(((second.jiffies - first.jiffies) * 1e9) / (second.ns - first.ns));
}

/** The kernel's HZ, or null when neither its config nor /proc/timer_list can be read. */
export function kernelHz(): number | null {
  if (hz === undefined) hz = fromConfig() ?? measured();
  return hz;
}

/** µs per jiffy (tcp_info's USEC_PER_SEC / HZ, an integer for every HZ it allows), or null. */
export function usPerJiffy(): number | null {
  const h = kernelHz();
  return h === null ? null : Math.floor(1e6 / h);
}
