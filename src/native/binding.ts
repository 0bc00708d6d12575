// Loads the addon (typed by addon.d.ts) with node-gyp-build: build/Release when it was compiled
// here, else the prebuilt one for this platform in prebuilds/ (N-API 8, so any Node.js ≥ 20).
// The package root is the same from src/ (vitest) and dist/ (built).
import path from 'node:path';
import type * as Binding from './addon';

const ROOT = path.join(__dirname, '..', '..');

let cached: typeof Binding | undefined;

export function loadBinding(): typeof Binding {
  if (!cached) {
    try {
      cached = (require('node-gyp-build') as (dir: string) => typeof Binding)(ROOT);
    } catch (err) {
      const why = (err as Error).message.split('\n')[0];
      const e = new Error(`the native addon is not built and no prebuilt one loads (${why}); run: npm ci (needs libbpf-dev, pkg-config, g++)`);
      (e as Error & { cause?: unknown }).cause = err;
      throw e;
    }
  }
  return cached;
}
