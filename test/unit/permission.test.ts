// The refusal names what is missing: capabilities, and before 5.11 the RLIMIT_MEMLOCK that
// CAP_BPF and CAP_PERFMON do not lift (test/kernel/privileges.test.ts checks it on a booted 5.10).
import { expect, it } from 'vitest';
import { permissionMessage } from '../../src/probe/permission';

const caps = (...n: number[]) => n.reduce((m, c) => m | (1n << BigInt(c)), 0n);
const BPF = 39, PERFMON = 38, SYS_RESOURCE = 24;

it('from 5.11: the two capabilities, whatever the memlock limit', () => {
  expect(permissionMessage({ effective: 0n, memlock: 65536, kernelRelease: '6.1.0-57-amd64' }))
    .toBe('permission denied loading BPF: run as root (sudo) or grant CAP_BPF and CAP_PERFMON');
  expect(permissionMessage({ effective: caps(BPF), memlock: 8 << 20, kernelRelease: '5.11.0' }))
    .toBe('permission denied loading BPF: run as root (sudo) or grant CAP_PERFMON');
});

it('before 5.11 with a memlock limit: CAP_SYS_RESOURCE too, and why', () => {
  const why = '; Linux 5.10 charges BPF memory to RLIMIT_MEMLOCK (64 KiB here), which only CAP_SYS_RESOURCE lets tcptrace raise (or start it with LimitMEMLOCK=infinity)';
  expect(permissionMessage({ effective: caps(BPF, PERFMON), memlock: 65536, kernelRelease: '5.10.0-32-amd64' }))
    .toBe(`permission denied loading BPF: run as root (sudo) or grant CAP_SYS_RESOURCE${why}`);
  expect(permissionMessage({ effective: 0n, memlock: 65536, kernelRelease: '5.10.0-32-amd64' }))
    .toBe(`permission denied loading BPF: run as root (sudo) or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE${why}`);
  expect(permissionMessage({ effective: 0n, memlock: 8 << 20, kernelRelease: '4.18.0-80.el8.x86_64' }))
    .toContain('Linux 4.18 charges BPF memory to RLIMIT_MEMLOCK (8 MiB here)');
});

it('before 5.11 with no limit to hit (unlimited, or CAP_SYS_RESOURCE held): the capabilities only', () => {
  expect(permissionMessage({ effective: caps(SYS_RESOURCE), memlock: 65536, kernelRelease: '5.10.0' }))
    .toBe('permission denied loading BPF: run as root (sudo) or grant CAP_BPF and CAP_PERFMON');
  expect(permissionMessage({ effective: 0n, memlock: Infinity, kernelRelease: '5.4.0' }))
    .toBe('permission denied loading BPF: run as root (sudo) or grant CAP_BPF and CAP_PERFMON');
  // a soft limit under an unlimited hard one: libbpf raises it without CAP_SYS_RESOURCE
  expect(permissionMessage({ effective: caps(BPF), memlock: 65536, memlockHard: Infinity, kernelRelease: '5.10.0' }))
    .toBe('permission denied loading BPF: run as root (sudo) or grant CAP_PERFMON');
});
