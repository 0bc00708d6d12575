import { defineConfig } from 'vitest/config';
import { patience } from './test/helpers/patience';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file loads its own BPF object; separate processes keep libbpf's global state apart.
    pool: 'forks',
    // scaled by TCPTRACE_TEST_SLOW like every wait inside the tests (test/helpers/patience.ts)
    testTimeout: patience(30_000),
    hookTimeout: patience(30_000),
  },
});
