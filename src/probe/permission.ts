// Why the kernel refused to load BPF for us, in one line naming what is missing. From 5.11 BPF
// memory is charged to the memory cgroup, and CAP_BPF with CAP_PERFMON is enough. Before 5.11 it
// is charged to RLIMIT_MEMLOCK (64 KiB by default), which libbpf raises only with
// CAP_SYS_RESOURCE: without it, those two capabilities still load nothing.
import { readFileSync } from 'node:fs';
import os from 'node:os';

const CAP_SYS_RESOURCE = 24;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

export interface Privileges {
  /** effective capabilities (CapEff) */
  effective: bigint;
  /** the soft RLIMIT_MEMLOCK in bytes, Infinity when unlimited */
  memlock: number;
  /** its hard limit: libbpf raises both to unlimited, which needs CAP_SYS_RESOURCE only when
   *  this is finite (absent: taken as finite) */
  memlockHard?: number;
  kernelRelease: string;
}

/** The refusal's line (after "tcptrace: "). */
export function permissionMessage(p: Privileges = current()): string {
  const has = (cap: number) => (p.effective & (1n << BigInt(cap))) !== 0n;
  const [major, minor] = p.kernelRelease.split('.').map(Number);
  const chargesMemlock = major < 5 || (major === 5 && minor < 11);
  const memlockShort = chargesMemlock && p.memlock !== Infinity && p.memlockHard !== Infinity && !has(CAP_SYS_RESOURCE);
  const missing = [
    ...(has(CAP_BPF) ? [] : ['CAP_BPF']),
    ...(has(CAP_PERFMON) ? [] : ['CAP_PERFMON']),
    ...(memlockShort ? ['CAP_SYS_RESOURCE'] : []),
  ];
  const grant = missing.length > 1 ? `${missing.slice(0, -1).join(', ')} and ${missing[missing.length - 1]}` : missing[0];
  const line = `permission denied loading BPF: run as root (sudo)${grant ? ` or grant ${grant}` : ''}`;
  if (!memlockShort) return line;
  return `${line}; Linux ${major}.${minor} charges BPF memory to RLIMIT_MEMLOCK (${kib(p.memlock)} here), ` +
    'which only CAP_SYS_RESOURCE lets tcptrace raise (or start it with LimitMEMLOCK=infinity)';
}

function kib(bytes: number): string {
  return bytes >= 1 << 20 && bytes % (1 << 20) === 0 ? `${bytes / (1 << 20)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

function current(): Privileges {
  const [memlock, memlockHard] = memlockLimits();
  return { effective: effective(), memlock, memlockHard, kernelRelease: os.release() };
}

function effective(): bigint {
  try {
    return BigInt(`0x${/^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);
  } catch {
    return 0n;
  }
}

/** The soft and hard limits from /proc/self/limits ("Max locked memory  65536  65536  bytes"). */
function memlockLimits(): [number, number] {
  const bytes = (v: string | undefined) => (v === undefined || v === 'unlimited' ? Infinity : Number(v));
  try {
    const m = /^Max locked memory\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return [bytes(m?.[1]), bytes(m?.[2])];
  } catch {
    return [Infinity, Infinity];
  }
}
