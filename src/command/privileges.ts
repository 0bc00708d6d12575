// Least privilege once the tracer runs (docs/STREAM.md, "What runs as root"). By then the BPF
// programs are loaded and attached, the ring buffer and maps are open and every server is bound:
// what is left needs only a few capabilities, each for a feature that is running. Every thread
// drops the rest (src/native/privileges.cc), gets no_new_privs and a seccomp filter; with -Z the
// process also becomes that user, as tcpdump does.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { loadBinding } from '../native/binding';
import { UsageError } from './option-values';

/** Capability numbers (linux/capability.h). */
export const CAP = {
  DAC_READ_SEARCH: 2,
  SETUID: 7,
  NET_ADMIN: 12,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  BPF: 39,
} as const;

export interface User {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
}

/** The features running after start-up that still need a privilege. */
export interface RunningFeatures {
  /** the socket census (--summary, --listen, --metrics, --otlp): sock_diag inside other namespaces */
  census: boolean;
}

/** Each kept capability with the reason, for the log and the docs. */
export function neededCapabilities(features: RunningFeatures, kernelRelease = os.release()): Map<number, string> {
  const keep = new Map<number, string>([
    [CAP.SYS_PTRACE, "owners: other processes' /proc/PID/fd"],
    [CAP.DAC_READ_SEARCH, 'owners: /proc/PID/fd directories of other users'],
  ]);
  if (features.census) keep.set(CAP.SYS_ADMIN, 'census: setns into each network namespace for sock_diag');
  // Before 6.5 every bpf(2) command, a lookup in the tracer's own counters map too, needs CAP_BPF
  // when unprivileged BPF is off (the default).
  const [major, minor] = kernelRelease.split('.').map(Number);
  if (major < 6 || (major === 6 && minor < 5)) keep.set(CAP.BPF, 'counters: bpf(2) map lookups before Linux 6.5');
  return keep;
}

/** -Z USER: a name from /etc/passwd or a numeric uid; its primary and supplementary groups. */
export function resolveUser(text: string, passwd = '/etc/passwd', group = '/etc/group'): User {
  const read = (file: string) => { try { return readFileSync(file, 'utf8').split('\n').map((l) => l.split(':')); } catch { return []; } };
  const users = read(passwd);
  const entry = users.find((f) => f[0] === text) ?? (/^\d+$/.test(text) ? users.find((f) => f[2] === text) : undefined);
  if (!entry && !/^\d+$/.test(text)) throw new UsageError(`-Z: no user '${text}' in ${passwd}`);
  const uid = entry ? Number(entry[2]) : Number(text);
  const gid = entry ? Number(entry[3]) : uid;
  if (uid === 0) throw new UsageError('-Z: the user must not be root (uid 0)');
  if (uid > 0xfffffffe || gid > 0xfffffffe) throw new UsageError(`-Z: bad uid or gid for '${text}'`);
  const name = entry?.[0] ?? text;
  const groups = read(group).filter((f) => f.length >= 4 && f[3].split(',').includes(name)).map((f) => Number(f[2]));
  return { name, uid, gid, groups: [...new Set([gid, ...groups])] };
}

/**
 * The uid a thread that blocks every signal is left with (src/native/privileges.cc). No account
 * may use it: a process of the same uid could signal that thread, and so end tcptrace.
 */
export const PARK_UID = 2147483646;

/**
 * Drops what the running features do not need, in every thread; returns one line for the log.
 * Throws (with what failed) when the drop could not be made: tcptrace does not run on with
 * privileges it said it would give up.
 */
export function dropPrivileges(features: RunningFeatures, user?: User): string {
  const keep = neededCapabilities(features);
  const { unreached, unreachedKeep } = loadBinding().dropPrivileges({
    keep: [...keep.keys()], uid: user?.uid, gid: user?.gid, groups: user?.groups, parkUid: user?.uid ?? PARK_UID, seccomp: true,
  });
  // What the kernel says this thread kept (with file capabilities rather than root, some of
  // what the features would use may never have been there).
  const kept = [...keep.keys()].filter((c) => (effective() >> BigInt(c)) & 1n);
  const names = kept.map((c) => Object.entries(CAP).find(([, n]) => n === c)?.[0] ?? String(c));
  const uid = process.getuid?.() ?? 0;
  const who = user ? `running as ${user.name} (uid ${user.uid})` : uid === 0 ? 'running as root' : `running as uid ${uid}`;
  const left = !unreached.length ? '' : unreachedKeep
    ? `; ${unreached.length} idle thread(s) blocking signals keep theirs (no CAP_SETUID to take them)`
    : `; ${unreached.length} thread(s) blocking signals left with none`;
  return `privileges dropped after start-up: ${who}, keeping ${names.map((n) => `CAP_${n}`).join(', ') || 'no capabilities'}, no_new_privs, seccomp${left}`;
}

/** This thread's effective capabilities, as the kernel reports them. */
function effective(): bigint {
  try {
    return BigInt(`0x${/^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/thread-self/status', 'utf8'))?.[1] ?? '0'}`);
  } catch {
    return 0n;
  }
}
