// Enrich stage: the owner's cgroup path and container id, resolved once per event and stored
// on it (TcpEvent.cgroup), before any sink sees the batch. The pipeline runs it only when a sink
// reads the cgroup (JSON, the stream, the journal), so the table, CSV and -q never pay for it.
import type { TcpEvent } from '../decode/event';
import { cgroupResolver, type CgroupInfo, type CgroupResolver } from './containers';

/** Stores the owner's cgroup on each event of a batch (null when unknown or unresolvable). */
export class CgroupEnricher {
  // Events of one batch mostly share a few owners: the last answer saves a Map lookup.
  private lastId = 0;
  private lastInfo: CgroupInfo | null = null;
  private lastResolver?: CgroupResolver;

  constructor(private readonly resolver: () => CgroupResolver = cgroupResolver) {}

  readonly enrich = (batch: TcpEvent[]): void => {
    const resolver = this.resolver();
    if (resolver !== this.lastResolver) {
      this.lastResolver = resolver;
      this.lastId = 0;
    }
    for (const e of batch) {
      if (e.cgroup !== undefined) continue;
      if (e.ownerSource === 'unknown' || !e.cgroupId) {
        e.cgroup = null;
      } else if (e.cgroupId === this.lastId && this.lastInfo !== null) {
        e.cgroup = this.lastInfo;
      } else {
        e.cgroup = resolver.resolve(e.cgroupId, e.pid);
        this.lastId = e.cgroupId;
        this.lastInfo = e.cgroup;
      }
    }
  };
}
