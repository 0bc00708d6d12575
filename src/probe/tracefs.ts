// The classic tracepoint needs tracefs to resolve its id; it is often not mounted.
import { existsSync } from 'node:fs';
import { loadBinding } from '../native/binding';

const EVENT = 'events/sock/inet_sock_set_state/id';

export function tracefsReady(): boolean {
  return loadBinding().tracefsRoots.some((r) => existsSync(`${r}/${EVENT}`));
}

/** Mounts tracefs at its usual place (/sys/kernel/tracing) if needed; returns an error text or ''. */
export function ensureTracefs(): string {
  if (tracefsReady()) return '';
  const target = loadBinding().tracefsRoots[0];
  // required here: child_process costs ~8 ms to load, and tracefs is usually mounted
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync('mount', ['-t', 'tracefs', 'tracefs', target], { encoding: 'utf8' });
  if (r.status === 0 && tracefsReady()) return '';
  const why = (r.stderr || r.error?.message || '').trim();
  return `tracefs is not mounted and mounting it failed${why ? ` (${why})` : ''}: mount -t tracefs tracefs ${target}`;
}
