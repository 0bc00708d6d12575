// Network namespaces by inode, each with a path that opens it (/proc/PID/ns/net or a
// bind mount under /run/netns), for dumping its sockets from inside it.
import { readdirSync, statSync } from 'node:fs';

export interface NamespaceScan {
  /** netns inode → a path that opened it at scan time */
  paths: Map<number, string>;
  /** processes whose namespace could not be read (permission): it may be one we lack */
  unreadable: number;
  /** inode of our own namespace (0 without procfs) */
  own: number;
}

export function scanNamespaces(procRoot = '/proc', mounts = '/run/netns'): NamespaceScan {
  const paths = new Map<number, string>();
  let unreadable = 0;
  let own = 0;
  try { own = statSync(`${procRoot}/self/ns/net`).ino; } catch { /* no procfs */ }
  for (const name of safeReaddir(mounts)) add(`${mounts}/${name}`, false);
  for (const entry of safeReaddir(procRoot)) if (/^\d+$/.test(entry)) add(`${procRoot}/${entry}/ns/net`, true);
  return { paths, unreadable, own };

  function add(path: string, isProcess: boolean): void {
    try {
      const ino = statSync(path).ino;
      if (!paths.has(ino)) paths.set(ino, path);
    } catch (err) {
      // A process that exited meanwhile is not a namespace we miss; one we may not read is.
      if (isProcess && (err as NodeJS.ErrnoException).code === 'EACCES') unreadable++;
    }
  }
}

/** A path that opens namespace `inode` now, re-scanning when the remembered one went stale. */
export function pathOf(inode: number, scan: NamespaceScan, procRoot = '/proc'): string | undefined {
  const known = scan.paths.get(inode);
  if (known && inodeOf(known) === inode) return known;
  const fresh = scanNamespaces(procRoot);
  scan.paths = fresh.paths;
  scan.unreadable = fresh.unreadable;
  return fresh.paths.get(inode);
}

function inodeOf(path: string): number | undefined {
  try { return statSync(path).ino; } catch { return undefined; }
}

function safeReaddir(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}
