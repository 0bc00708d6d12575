// The sockets a capture starts from: every network namespace counted through sock_diag (with
// the sockets listed, as the live census counts them at start), again when the flight recorder
// starts a new file or transitions were lost, and TIME_WAIT/SYN_RECV sampled every second (they
// have no transitions of their own). Each count becomes a `census` record
// (src/source/capture-records.ts) that a replay's census reads back (replay-census.ts).
import type { CensusRequest } from '../native/addon';
import type { KernelFilter } from '../probe/config';
import { kernelCensusSource, type CensusSource } from '../census/kernel-source';
import { SAMPLED_MASK } from '../census/space';
import { State } from '../decode/states';
import { censusRecord, type CensusRecord, type NetnsFacts } from '../format/capture-records';

/** Every state `ss -tan` shows (CLOSE sockets are in no table), as the live census dumps them. */
export const FULL_MASK = 0x1fff & ~(1 << State.CLOSE) & ~1;
const SAMPLE_MS = 1000;

export class CaptureCensus {
  readonly netns: NetnsFacts;
  private paths = new Map<number, string>();
  private readonly listeners = new Set<(r: CensusRecord) => void>();
  private readonly lastSample = new Map<number, string>();
  /** the latest full count per namespace, for a writer that subscribes after it was made */
  private readonly lastFull = new Map<number, CensusRecord>();
  private timer?: NodeJS.Timeout;
  private sampling = false;

  constructor(private readonly filter: KernelFilter, private readonly source: CensusSource = kernelCensusSource) {
    const scan = source.scan();
    this.paths = this.wanted(scan.paths, scan.own);
    this.netns = { own: scan.own, unreadable: scan.unreadable, namespaces: [...this.paths.keys()] };
  }

  /** Every count from now on goes to `listener`. */
  subscribe(listener: (r: CensusRecord) => void): () => void {
    for (const r of this.lastFull.values()) listener(r);
    this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => this.sample(), SAMPLE_MS);
      this.timer.unref();
    }
    return () => this.listeners.delete(listener);
  }

  /** Counts every namespace in full (sockets listed), off the event loop. */
  full(): Promise<void> {
    const scan = this.source.scan();
    this.paths = this.wanted(scan.paths, scan.own);
    return this.dumpAll(FULL_MASK, true);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      await this.dumpAll(SAMPLED_MASK, false);
    } finally {
      this.sampling = false;
    }
  }

  /**
   * One namespace at a time: a dump holds a thread of the pool (which zlib and fs share with
   * it: the flight recorder) for as long as it runs, and under a storm the kernel interrupts a
   * dump of many TIME_WAIT sockets over and over (it is retried).
   */
  private async dumpAll(states: number, tuples: boolean): Promise<void> {
    for (const [inode, path] of [...this.paths]) {
      const r = await this.source.dumpAsync(this.request(path, states, tuples));
      const rec = censusRecord(inode, states, r);
      if (!tuples) {
        // A sample that could not be made (another namespace, once privileges are dropped: -j
        // keeps none for it) is not written: the count at start and the transitions stand.
        if (r.error) continue;
        // A sample that changed nothing is not written again.
        const key = `${r.counts.join(',')}${r.error ?? ''}`;
        if (this.lastSample.get(inode) === key) continue;
        this.lastSample.set(inode, key);
      } else {
        this.lastFull.set(inode, rec);
      }
      for (const l of this.listeners) l(rec);
    }
  }

  private wanted(paths: Map<number, string>, own: number): Map<number, string> {
    const out = new Map<number, string>();
    if (this.filter.netns !== undefined) {
      const p = this.filter.netns === own ? '' : paths.get(this.filter.netns);
      if (p !== undefined) out.set(this.filter.netns, p);
      return out;
    }
    for (const [inode, path] of paths) out.set(inode, inode === own ? '' : path);
    return out;
  }

  private request(netnsPath: string, states: number, tuples: boolean): CensusRequest {
    const f = this.filter;
    return { netnsPath, states, tuples, family: f.family ?? 0, localPorts: f.localPorts ?? [], remotePorts: f.remotePorts ?? [] };
  }
}
