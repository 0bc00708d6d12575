// Where the census' counts come from: the kernel's socket tables through sock_diag (the addon,
// in each network namespace), or a test's stand-in with the same shape.
import type { CensusRequest, CensusResult } from '../native/addon';
import { loadBinding } from '../native/binding';
import { pathOf, scanNamespaces, type NamespaceScan } from './netns';

/** Where the counts come from: the kernel, or a test's stand-in. */
export interface CensusSource {
  scan(): NamespaceScan;
  pathOf(inode: number, scan: NamespaceScan): string | undefined;
  dump(request: CensusRequest): CensusResult;
  dumpAsync(request: CensusRequest): Promise<CensusResult>;
}

export const kernelCensusSource: CensusSource = {
  scan: () => scanNamespaces(),
  pathOf: (inode, scan) => pathOf(inode, scan),
  dump: (request) => loadBinding().socketCensus(request),
  dumpAsync: (request) => loadBinding().socketCensusAsync(request),
};
