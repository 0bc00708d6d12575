// The tracer's filters (-4/-6, -L, -D, --state, --netns, -p, --comm, --cgroup) applied to
// replayed events, as the kernel and the owner gate applied them live (bpf `wanted`,
// src/filter/filter.ts): the events of a capture already carry their settled owners.
import type { TcpEvent } from '../decode/event';
import type { KernelFilter } from '../probe/config';
import { ownerMatcher } from '../filter/filter';

export function eventMatcher(f: KernelFilter): ((e: TcpEvent) => boolean) | undefined {
  const owner = ownerMatcher({ pid: f.pid, comm: f.comm, cgroupId: f.cgroupId });
  const lports = f.localPorts?.length ? new Set(f.localPorts) : undefined;
  const rports = f.remotePorts?.length ? new Set(f.remotePorts) : undefined;
  const states = f.states?.length ? new Set(f.states) : undefined;
  if (!owner && !lports && !rports && !states && f.family === undefined && f.netns === undefined) return undefined;
  return (e) =>
    (f.family === undefined || e.family === f.family) &&
    (f.netns === undefined || e.netns === f.netns) &&
    (!states || states.has(e.newState)) &&
    (!lports || lports.has(e.sport)) &&
    (!rports || rports.has(e.dport)) &&
    (!owner || owner(e));
}
