// The values of command-line options: each parser returns the value or throws a UsageError
// that names the flag and says what to use instead.
import { MAX_PORTS } from '../decode/record.generated';
import { parseState, STATE_NAMES } from '../decode/states';

export class UsageError extends Error {}

/**
 * The items of a comma-separated list. Fails closed: an empty list, an empty item or a
 * trailing comma is a usage error, never "no filter" (`--state ''` must not trace everything).
 */
export function listItems(text: string, flag: string, example: string): string[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) {
    throw new UsageError(`${flag} needs a comma-separated list without empty items, e.g. ${flag} ${example}`);
  }
  return items;
}

export function parsePorts(text: string, flag: string): number[] {
  const ports = listItems(text, flag, '80,443').map((p) => {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) {
      throw new UsageError(`bad port '${p}' in ${flag}: use numbers 1-65535, comma-separated`);
    }
    return Number(p);
  });
  if (ports.length > MAX_PORTS) throw new UsageError(`${flag} takes at most ${MAX_PORTS} ports`);
  return ports;
}

export function parseStates(text: string): number[] {
  return listItems(text, '--state', 'SYN_SENT,CLOSE').map((s) => {
    const n = parseState(s);
    if (n === undefined) {
      throw new UsageError(`unknown state '${s}' in --state: use ${STATE_NAMES.slice(1, 12).join(', ')}`);
    }
    return n;
  });
}

export function parseInteger(text: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`bad value '${text}' for ${flag}: use a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

/** Node's timers hold at most 2^31 - 1 ms; a longer one fires at once (after a warning). */
const MAX_TIMER_SECONDS = 2147483;

/** A positive decimal number of seconds that a timer can wait (at least `minSec`). */
export function parseNumber(text: string, flag: string, minSec = 0): number {
  const n = /^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i.test(text) ? Number(text) : NaN;
  if (!(minSec > 0 ? n >= minSec : n > 0) || n > MAX_TIMER_SECONDS) {
    throw new UsageError(`bad value '${text}' for ${flag}: use a positive number of seconds${minSec ? ` from ${minSec}` : ''} up to ${MAX_TIMER_SECONDS} (24 days)`);
  }
  return n;
}

export function parseSize(text: string, flag: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw new UsageError(`bad size '${text}' for ${flag}: use bytes, or a number with K, M or G`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

export function parseWakeupBytes(text: string): number {
  const n = parseSize(text, '--wakeup-bytes');
  if (n > 0xffffffff) throw new UsageError(`bad value '${text}' for --wakeup-bytes: use at most 4G - 1 bytes`);
  return n;
}

export function parseRingSize(text: string): number {
  const n = parseSize(text, '--ring-size');
  if (n < 4096 || (n & (n - 1)) !== 0 || n > 2 ** 30) {
    throw new UsageError(`bad value '${text}' for --ring-size: use a power of two from 4K to 1G`);
  }
  return n;
}
