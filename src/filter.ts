// Filters that cannot be decided in the kernel: the owner of a socket the kernel side met
// before it knew who owned it (attributed later from /proc) still has to match --pid/--comm/--cgroup.
import type { TcpEvent } from './event';
import { kernelComm } from './comm';

export interface OwnerFilter {
  pid?: number;
  comm?: string;
  cgroupId?: number;
}

export function ownerMatcher(f: OwnerFilter): ((e: TcpEvent) => boolean) | undefined {
  if (f.pid === undefined && f.comm === undefined && f.cgroupId === undefined) return undefined;
  const comm = f.comm === undefined ? undefined : kernelComm(f.comm);
  return (e) =>
    (f.pid === undefined || e.pid === f.pid) &&
    (comm === undefined || e.comm === comm) &&
    (f.cgroupId === undefined || e.cgroupId === f.cgroupId);
}

/** Keeps the events a predicate accepts; returns the same array when nothing is dropped. */
export function keep(batch: TcpEvent[], pred: ((e: TcpEvent) => boolean) | undefined): TcpEvent[] {
  if (!pred) return batch;
  let all = true;
  for (const e of batch) if (!pred(e)) { all = false; break; }
  return all ? batch : batch.filter(pred);
}
