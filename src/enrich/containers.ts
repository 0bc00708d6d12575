// Cgroup v2 ids → cgroup paths → container ids. The kernel records the owner's cgroup v2 id
// (the inode number of its cgroup directory); this module finds the directory and reads a
// container id out of its path where the runtime put one there (Docker, containerd, CRI-O,
// Podman, and the systemd scopes they create). Everything is cached per cgroup id.
import { readdirSync, readFileSync, statSync, statfsSync } from 'node:fs';
import path from 'node:path';

/** statfs(2) f_type of a cgroup v2 mount. */
export const CGROUP2_SUPER_MAGIC = 0x63677270;

// The shapes live with the event they are stored on (decode/event.ts: data flows one way).
import type { CgroupInfo, ContainerRef } from '../decode/event';

export type { CgroupInfo, ContainerRef };

const HEX64 = '([0-9a-f]{64})';
// Leaf names, most specific first. A systemd scope is "<prefix>-<id>.scope"; cgroupfs
// drivers use the bare id as the directory name under a runtime-named parent.
// (CRI-O under the cgroupfs driver writes "crio-<id>" without the .scope suffix.)
const SCOPE_PATTERNS: [RegExp, string][] = [
  [new RegExp(`^docker-${HEX64}(?:\\.scope)?$`), 'docker'],
  [new RegExp(`^cri-containerd-${HEX64}(?:\\.scope)?$`), 'containerd'],
  [new RegExp(`^crio-${HEX64}(?:\\.scope)?$`), 'cri-o'],
  [new RegExp(`^libpod-${HEX64}(?:\\.scope)?$`), 'podman'],
];
const PARENT_RUNTIMES: Record<string, string> = { docker: 'docker', libpod_parent: 'podman', 'crio': 'cri-o' };

/** Reads a container id out of a cgroup path; null when the path shows none. */
export function containerFromPath(cgroupPath: string): ContainerRef | null {
  const parts = cgroupPath.split('/').filter(Boolean);
  const podUid = podUidOf(parts);
  // The innermost container-looking component wins (nested runtimes put theirs deeper).
  for (let i = parts.length - 1; i >= 0; i--) {
    const name = parts[i];
    for (const [re, runtime] of SCOPE_PATTERNS) {
      const m = re.exec(name);
      if (m) return withPod({ runtime, id: m[1] }, podUid);
    }
    if (/^[0-9a-f]{64}$/.test(name)) {
      const parent = parts[i - 1] ?? '';
      let runtime = PARENT_RUNTIMES[parent] ?? 'unknown';
      if (podUid) runtime = 'containerd'; // cgroupfs driver under kubepods: containerd or CRI-O write bare ids
      if (/^libpod-/.test(parent)) runtime = 'podman';
      return withPod({ runtime, id: name }, podUid);
    }
  }
  return null;
}

function withPod(ref: ContainerRef, podUid: string | undefined): ContainerRef {
  return podUid ? { ...ref, podUid } : ref;
}

function podUidOf(parts: string[]): string | undefined {
  for (const p of parts) {
    // systemd driver: kubepods-burstable-pod1234abcd_5678_....slice; cgroupfs: pod1234abcd-5678-...
    const m = /(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/.exec(p);
    if (m) return m[1].replace(/_/g, '-');
  }
  return undefined;
}

/** Where cgroup v2 is mounted: $TCPTRACE_CGROUP_ROOT, else from /proc/self/mounts. */
export function cgroup2Root(mounts = '/proc/self/mounts'): string | undefined {
  const fromEnv = process.env.TCPTRACE_CGROUP_ROOT;
  if (fromEnv) return fromEnv;
  let text = '';
  try {
    text = readFileSync(mounts, 'utf8');
  } catch {
    return undefined;
  }
  const found = text.split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'cgroup2').map((f) => f[1]);
  // A pure v2 host mounts it at /sys/fs/cgroup; a hybrid one at /sys/fs/cgroup/unified.
  return found.find((m) => m === '/sys/fs/cgroup') ?? found[0];
}

/** The cgroup v2 id of a directory (what `--cgroup PATH` filters on); throws a one-line Error. */
export function cgroupIdOf(dir: string): number {
  let st;
  let fsType: number;
  try {
    st = statSync(dir);
    fsType = Number(statfsSync(dir).type);
  } catch (err) {
    throw new Error(`cannot use cgroup '${dir}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!st.isDirectory() || fsType !== CGROUP2_SUPER_MAGIC) {
    const root = cgroup2Root();
    throw new Error(`'${dir}' is not a cgroup v2 directory${root ? ` (cgroup v2 is mounted at ${root})` : ' (no cgroup v2 mount found)'}`);
  }
  return st.ino;
}

/**
 * Cgroup id → path and container, cached. A lookup first tries the owner's /proc/PID/cgroup
 * (checked against the id, since the process may have moved), then an index of the cgroup
 * tree, rebuilt at most once per `rescanMs` when an id is unknown.
 */
export class CgroupResolver {
  private readonly cache = new Map<number, CgroupInfo>();
  private readonly misses = new Map<number, number>();
  private index = new Map<number, string>();
  private scannedAt = -Infinity;
  private maxIndexed = 0;

  constructor(
    readonly root: string | undefined = cgroup2Root(),
    private readonly procRoot = '/proc',
    private readonly rescanMs = 10_000,
    private readonly maxEntries = 200_000,
    private readonly maxCache = 16_384,
  ) {}

  /** Cgroup info for a cgroup id (0 → null); `pid` helps find it quickly. */
  resolve(cgroupId: number, pid = 0): CgroupInfo | null {
    if (!cgroupId || !this.root) return null;
    const cached = this.cache.get(cgroupId);
    if (cached !== undefined) return cached;
    // A miss is not retried for a second: unresolvable ids must stay cheap per event.
    const missed = this.misses.get(cgroupId);
    if (missed !== undefined && Date.now() - missed < 1000) return null;
    const found = (pid && this.viaProc(cgroupId, pid)) || this.viaIndex(cgroupId);
    const info = found ? { path: found, container: containerFromPath(found) } : null;
    // Misses are cached too, until the next rescan could find them.
    if (this.cache.size >= this.maxCache) this.cache.clear();
    if (info) {
      this.cache.set(cgroupId, info);
      this.misses.delete(cgroupId);
    } else {
      if (this.misses.size >= this.maxCache) this.misses.clear();
      this.misses.set(cgroupId, Date.now());
    }
    return info;
  }

  private viaProc(cgroupId: number, pid: number): string | undefined {
    try {
      const line = readFileSync(`${this.procRoot}/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
      if (!line) return undefined;
      const rel = line.slice(3).trim();
      if (rel.startsWith('/..')) return undefined; // our cgroup namespace hides where it is
      if (statSync(path.join(this.root as string, rel)).ino === cgroupId) return rel;
    } catch { /* gone, or not visible */ }
    return undefined;
  }

  private viaIndex(cgroupId: number): string | undefined {
    const hit = this.index.get(cgroupId);
    if (hit !== undefined) return hit;
    // Cgroup inode numbers only grow: an id above every indexed one is a new cgroup, worth
    // a sooner rescan than one the last scan already missed.
    const age = Date.now() - this.scannedAt;
    if (age < (cgroupId > this.maxIndexed ? Math.min(1000, this.rescanMs) : this.rescanMs)) return undefined;
    this.rescan();
    return this.index.get(cgroupId);
  }

  /** Walks the cgroup tree (directories only), bounded by maxEntries. */
  rescan(): void {
    this.scannedAt = Date.now();
    const root = this.root as string;
    const index = new Map<number, string>();
    const stack = ['/'];
    while (stack.length && index.size < this.maxEntries) {
      const rel = stack.pop() as string;
      const abs = path.join(root, rel);
      try {
        index.set(statSync(abs).ino, rel);
        for (const d of readdirSync(abs, { withFileTypes: true })) if (d.isDirectory()) stack.push(path.posix.join(rel, d.name));
      } catch { /* removed while walking */ }
    }
    this.index = index;
    this.maxIndexed = 0;
    for (const id of index.keys()) if (id > this.maxIndexed) this.maxIndexed = id;
    // Forget misses: the new index may know them.
    this.misses.clear();
  }
}

let shared: CgroupResolver | undefined;

/** The process-wide resolver (created on first use). */
export function cgroupResolver(): CgroupResolver {
  return (shared ??= new CgroupResolver());
}

/** Replaces the process-wide resolver (tests; a sink with a custom root). */
export function setCgroupResolver(r: CgroupResolver | undefined): void {
  shared = r;
}
