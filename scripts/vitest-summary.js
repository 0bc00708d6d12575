#!/usr/bin/env node
// Reads a vitest JSON report and prints "N passed, N failed". A skipped test counts as failed
// (kernel tests must run), and so does a file that failed to load. Names go to stderr.
// A test that passed on a retry (vitest --retry, only inside scripts/test-kernels' guests) counts
// as passed and is named, with its first failure, so flakiness stays visible.
// Exit status 1 when anything failed. Used by .ci/run and scripts/test-kernels.
'use strict';
const report = require(require('node:path').resolve(process.argv[2]));
let passed = 0, failed = 0, retried = 0;
for (const file of report.testResults) {
  // A file that failed to load has no test results of its own: one failure.
  if (file.status === 'failed' && file.assertionResults.length === 0) {
    failed++;
    console.error(`${file.name} failed to run: ${(file.message || '').split('\n')[0]}`);
  }
  for (const t of file.assertionResults) {
    if (t.status === 'passed') {
      passed++;
      // vitest keeps the errors of the tries that failed before the one that passed
      if (t.failureMessages.length) {
        retried++;
        console.error(`passed on a retry: ${t.fullName} (first try: ${t.failureMessages[0].split('\n')[0]})`);
      }
      continue;
    }
    failed++;
    console.error(`${t.status === 'failed' ? 'failed' : 'skipped (a failure)'}: ${t.fullName}`);
  }
}
console.log(`${passed} passed, ${failed} failed${retried ? ` (${retried} of them passed on a retry)` : ''}`);
process.exit(failed ? 1 : 0);
