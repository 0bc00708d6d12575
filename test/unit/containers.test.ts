import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CgroupResolver, cgroup2Root, cgroupIdOf, containerFromPath } from '../../src/enrich/containers';
import { parseArgs, UsageError } from '../../src/command/options';

const ID = '3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899';

describe('container ids from cgroup paths', () => {
  it.each([
    ['Docker, systemd driver', `/system.slice/docker-${ID}.scope`, { runtime: 'docker', id: ID }],
    ['Docker, cgroupfs driver', `/docker/${ID}`, { runtime: 'docker', id: ID }],
    ['containerd under Kubernetes (systemd)', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0d3c5f4e_1a2b_4c3d_9e8f_0123456789ab.slice/cri-containerd-${ID}.scope`,
      { runtime: 'containerd', id: ID, podUid: '0d3c5f4e-1a2b-4c3d-9e8f-0123456789ab' }],
    ['CRI-O under Kubernetes (systemd)', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod11111111_2222_3333_4444_555555555555.slice/crio-${ID}.scope`,
      { runtime: 'cri-o', id: ID, podUid: '11111111-2222-3333-4444-555555555555' }],
    ['Kubernetes, cgroupfs driver', `/kubepods/burstable/pod0d3c5f4e-1a2b-4c3d-9e8f-0123456789ab/${ID}`,
      { runtime: 'containerd', id: ID, podUid: '0d3c5f4e-1a2b-4c3d-9e8f-0123456789ab' }],
    ['CRI-O, cgroupfs driver', `/kubepods/besteffort/pod11111111-2222-3333-4444-555555555555/crio-${ID}`,
      { runtime: 'cri-o', id: ID, podUid: '11111111-2222-3333-4444-555555555555' }],
    ['Podman', `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`, { runtime: 'podman', id: ID }],
    ['Podman, inner container cgroup', `/machine.slice/libpod-${ID}.scope/container`, { runtime: 'podman', id: ID }],
  ])('%s', (_name, p, want) => {
    expect(containerFromPath(p)).toEqual(want);
  });

  it.each([
    ['the root', '/'],
    ['a plain service', '/system.slice/sshd.service'],
    ['a user session scope', '/user.slice/user-0.slice/session-3.scope'],
    ['a short hex name', '/docker/3f4e5d6c'],
    ['a pod slice alone', '/kubepods.slice/kubepods-pod0d3c5f4e_1a2b_4c3d_9e8f_0123456789ab.slice'],
  ])('none in %s', (_name, p) => {
    expect(containerFromPath(p)).toBeNull();
  });
});

describe('CgroupResolver', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'tt-cgroot-'));
  const proc = mkdtempSync(path.join(tmpdir(), 'tt-proc-'));
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(proc, { recursive: true, force: true });
  });
  const rel = `/kubepods.slice/kubepods-pod0d3c5f4e_1a2b_4c3d_9e8f_0123456789ab.slice/cri-containerd-${ID}.scope`;
  mkdirSync(path.join(root, rel), { recursive: true });
  mkdirSync(path.join(root, 'system.slice/cron.service'), { recursive: true });
  const ino = statSync(path.join(root, rel)).ino;

  it('finds the cgroup through /proc/PID/cgroup, checked against the id', () => {
    mkdirSync(path.join(proc, '42'));
    writeFileSync(path.join(proc, '42', 'cgroup'), `0::${rel}\n`);
    const r = new CgroupResolver(root, proc);
    expect(r.resolve(ino, 42)).toEqual({ path: rel, container: { runtime: 'containerd', id: ID, podUid: '0d3c5f4e-1a2b-4c3d-9e8f-0123456789ab' } });
  });

  it('falls back to an index of the tree when the process is gone or has moved', () => {
    mkdirSync(path.join(proc, '43'));
    writeFileSync(path.join(proc, '43', 'cgroup'), '0::/system.slice/cron.service\n');
    const r = new CgroupResolver(root, proc);
    expect(r.resolve(ino, 43)?.path).toBe(rel);
    expect(r.resolve(ino, 99999)?.path).toBe(rel);
    const cron = statSync(path.join(root, 'system.slice/cron.service')).ino;
    expect(r.resolve(cron, 0)).toEqual({ path: '/system.slice/cron.service', container: null });
  });

  it('unknown ids resolve to null, and are found after a rescan', () => {
    const r = new CgroupResolver(root, proc, 0);
    mkdirSync(path.join(root, 'late.slice'));
    const late = statSync(path.join(root, 'late.slice')).ino;
    expect(r.resolve(late + 1e9, 0)).toBeNull();
    expect(r.resolve(late, 0)?.path).toBe('/late.slice');
    expect(r.resolve(0, 0)).toBeNull();
  });

  it('without a cgroup v2 mount, nothing resolves', () => {
    expect(new CgroupResolver(undefined, proc).resolve(ino, 42)).toBeNull();
  });
});

describe('--cgroup and --netns', () => {
  it('--cgroup refuses what is not a cgroup v2 directory, in one line', () => {
    expect(() => parseArgs(['--cgroup', tmpdir()])).toThrow(UsageError);
    expect(() => parseArgs(['--cgroup', tmpdir()])).toThrow(/^--cgroup: '.*' is not a cgroup v2 directory \(.*\)$/);
    expect(() => parseArgs(['--cgroup', '/nonexistent/tt'])).toThrow(/^--cgroup: cannot use cgroup '\/nonexistent\/tt': ENOENT$/);
  });

  it('--cgroup takes the directory inode as the cgroup id', () => {
    const root = cgroup2Root();
    if (!root) return; // no cgroup v2 here: the kernel tests cover it where there is one
    expect(cgroupIdOf(root)).toBe(statSync(root).ino);
    expect(parseArgs(['--cgroup', root]).filter.cgroupId).toBe(statSync(root).ino);
  });

  it('--netns takes an inode number', () => {
    expect(parseArgs(['--netns', '4026531840']).filter.netns).toBe(4026531840);
    expect(() => parseArgs(['--netns', 'abc'])).toThrow(/bad value 'abc' for --netns/);
  });
});
