// Option values that look fine but could never match what they say (issue 24): each is either
// made to mean what an operator means or refused with a usage error.
import { readFileSync } from 'node:fs';
import { kernelComm } from '../decode/comm';
import { State, STATE_NAMES } from '../decode/states';
import { parseInteger, UsageError } from './option-values';

/** --pid: a whole number this host can give a process (1 to pid_max - 1). */
export function parsePid(text: string, pidMaxFile = '/proc/sys/kernel/pid_max'): number {
  const pid = parseInteger(text, '--pid', 1, 2 ** 32 - 1);
  let pidMax: number | undefined;
  try { pidMax = Number(readFileSync(pidMaxFile, 'utf8').trim()) || undefined; } catch { /* no procfs: only the type's limit */ }
  if (pidMax !== undefined && pid >= pidMax) {
    throw new UsageError(`bad value '${text}' for --pid: this host's pids stay below ${pidMax} (/proc/sys/kernel/pid_max)`);
  }
  return pid;
}

/**
 * --comm: the name as tcptrace prints it (src/format/display.ts), so a name shown with escapes
 * can be given back: \\ \n \r \t, \xNN for a byte (one that is not UTF-8 too), \uNNNN. An
 * argument that is not UTF-8 itself reaches Node as U+FFFD and could never match: refused.
 */
export function commFilter(text: string): string {
  if (!text) throw new UsageError('--comm needs a command name');
  if (text.includes('\ufffd')) {
    throw new UsageError('--comm is not valid UTF-8 and could never match: write each such byte as tcptrace prints it (backslash, x, two hex digits)');
  }
  let name = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\\') {
      name += text[i];
      continue;
    }
    const kind = text[i + 1];
    const simple: Record<string, string> = { '\\': '\\', n: '\n', r: '\r', t: '\t' };
    if (kind in simple) {
      name += simple[kind];
      i++;
    } else if (kind === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      const byte = parseInt(text.slice(i + 2, i + 4), 16);
      name += String.fromCharCode(byte < 0x80 ? byte : 0xdc00 + byte); // a raw byte (src/decode/comm.ts)
      i += 3;
    } else if (kind === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
      name += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
      i += 5;
    } else {
      throw new UsageError(`bad escape in --comm '${text}': a backslash starts an escape as tcptrace prints names (write a backslash itself as two)`);
    }
  }
  if (name === '') throw new UsageError('--comm needs a command name');
  return kernelComm(name);
}

/** --state: states the kernel never reports a transition into are refused, with what to use. */
export function stateFilter(states: number[]): number[] {
  for (const s of states) {
    if (s === State.NEW_SYN_RECV) {
      throw new UsageError(`--state ${STATE_NAMES[s]} never matches: a half-open connection is a request socket, which changes no state; use SYN_RECV`);
    }
    if (s === State.BOUND_INACTIVE) {
      throw new UsageError(`--state ${STATE_NAMES[s]} never matches: a socket that is only bound changes no state the kernel reports; use CLOSE or LISTEN`);
    }
  }
  return states; // TIME_WAIT: the closes that leave a TIME_WAIT socket (src/filter/filter.ts)
}
