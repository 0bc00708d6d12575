// Loads the compiled addon (typed by addon.d.ts); the path is the same from src/ (vitest) and dist/ (built).
import path from 'node:path';
import type * as Binding from './addon';

const ADDON = path.join(__dirname, '..', '..', 'build', 'Release', 'tcptrace.node');

let cached: typeof Binding | undefined;

export function loadBinding(): typeof Binding {
  if (!cached) {
    try {
      cached = require(ADDON) as typeof Binding;
    } catch (err) {
      const e = new Error(`the native addon is not built (${ADDON}); run: npm ci (needs libbpf-dev, pkg-config, g++)`);
      (e as Error & { cause?: unknown }).cause = err;
      throw e;
    }
  }
  return cached;
}
