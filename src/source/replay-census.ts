// A replay's census source: the counts a capture recorded (`census` records,
// src/source/capture-census.ts) served to the same SocketCensus the live run uses, as the kernel
// would have answered at that point of the trace. A full count (the census' count at start, or
// a recount) is answered by the next full count in the capture; a sample by the latest one.
// A port or family filter given to the replay is applied to the listed sockets; the sampled
// states (TIME_WAIT, SYN_RECV) are not listed and stay the capture's counts.
import type { CensusRequest, CensusResult } from '../native/addon';
import type { CensusSource } from '../census/kernel-source';
import type { NamespaceScan } from '../census/netns';
import { SAMPLED_MASK } from '../census/space';
import type { CensusRecord, NetnsFacts } from '../format/capture-records';

const TUPLE_BYTES = 40;
const pathFor = (inode: number): string => `capture:${inode}`;

interface Waiting { inode: number; request: CensusRequest; resolve: (r: CensusResult) => void }

export class ReplayCensus implements CensusSource {
  private readonly latest = new Map<number, CensusRecord>();
  private readonly waiting: Waiting[] = [];
  private readonly inodes = new Set<number>();
  private ended = false;

  constructor(private readonly netns: NetnsFacts, namespaces: Iterable<number> = []) {
    for (const n of namespaces) this.inodes.add(n);
  }

  /** A census record read from the capture. */
  add(rec: CensusRecord): void {
    this.inodes.add(rec.netns);
    const prev = this.latest.get(rec.netns);
    // A sample updates the sampled states of the last full count; a full count replaces it.
    const full = rec.tuples !== undefined || (rec.states & ~SAMPLED_MASK) !== 0;
    if (full || !prev) this.latest.set(rec.netns, rec);
    else this.latest.set(rec.netns, { ...prev, counts: prev.counts.map((n, s) => ((rec.states >> s) & 1 ? rec.counts[s] : n)), end_ns: rec.end_ns, start_ns: rec.start_ns });
    if (!full) return;
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i];
      if (w.inode !== rec.netns) continue;
      this.waiting.splice(i--, 1);
      w.resolve(this.result(rec, w.request));
    }
  }

  /** The capture is over: counts still awaited never come. */
  end(): void {
    this.ended = true;
    for (const w of this.waiting.splice(0)) w.resolve(missing());
  }

  scan(): NamespaceScan {
    return { paths: new Map([...this.inodes].map((n) => [n, pathFor(n)])), unreadable: this.netns.unreadable, own: this.netns.own };
  }

  pathOf(inode: number): string | undefined {
    return this.inodes.has(inode) ? pathFor(inode) : undefined;
  }

  dump(request: CensusRequest): CensusResult {
    const rec = this.latest.get(this.inodeOf(request));
    return rec ? this.result(rec, request) : missing();
  }

  dumpAsync(request: CensusRequest): Promise<CensusResult> {
    if (!request.tuples) return Promise.resolve(this.dump(request));
    if (this.ended) return Promise.resolve(missing());
    return new Promise((resolve) => this.waiting.push({ inode: this.inodeOf(request), request, resolve }));
  }

  private inodeOf(request: CensusRequest): number {
    const p = request.netnsPath ?? '';
    return p === '' ? this.netns.own : Number(p.slice('capture:'.length));
  }

  /** The record as sock_diag would have answered this request (its states, the replay's filter). */
  private result(rec: CensusRecord, request: CensusRequest): CensusResult {
    const tuples = rec.tuples ? Buffer.from(rec.tuples, 'base64') : Buffer.alloc(0);
    const counts = rec.counts.map((n, s) => ((request.states >> s) & 1 ? n : 0));
    const narrower = request.family || request.localPorts?.length || request.remotePorts?.length;
    let kept = tuples;
    if (narrower && tuples.length) {
      const parts: Buffer[] = [];
      for (let s = 0; s < 16; s++) if (!((SAMPLED_MASK >> s) & 1)) counts[s] = 0;
      for (let off = 0; off + TUPLE_BYTES <= tuples.length; off += TUPLE_BYTES) {
        const t = tuples.subarray(off, off + TUPLE_BYTES);
        if (request.family && t[1] !== request.family) continue;
        if (request.localPorts?.length && !request.localPorts.includes(t.readUInt16LE(2))) continue;
        if (request.remotePorts?.length && !request.remotePorts.includes(t.readUInt16LE(4))) continue;
        if ((request.states >> t[0]) & 1 && !((SAMPLED_MASK >> t[0]) & 1)) counts[t[0]]++;
        parts.push(t);
      }
      kept = Buffer.concat(parts);
    }
    return { counts, tuples: request.tuples ? kept : Buffer.alloc(0), startNs: rec.start_ns, endNs: rec.end_ns, attempts: 1, error: rec.error };
  }
}

function missing(): CensusResult {
  return { counts: new Array(16).fill(0), tuples: Buffer.alloc(0), startNs: 0, endNs: 0, attempts: 0, error: 'the capture holds no count of its sockets here' };
}
