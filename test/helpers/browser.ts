// Chromium for the browser tests (Debian's, driven by playwright-core).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { describeKernel } from './kernel';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** describeKernel, skipped with the reason when there is no chromium. */
export const describeBrowser: typeof describeKernel = fs.existsSync(CHROMIUM)
  ? describeKernel
  : (((name: string, fn: () => void) => describeKernel.skip(`${name} [skipped: no ${CHROMIUM}]`, fn)) as typeof describeKernel);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/**
 * Where a test's screenshot goes: the docs/ copy (shown in the README) only when asked for
 * with TCPTRACE_SCREENSHOTS=docs, so that a test run leaves the checkout unchanged.
 */
export function screenshotPath(name: string): string {
  const dir = process.env.TCPTRACE_SCREENSHOTS === 'docs'
    ? path.join(__dirname, '..', '..', 'docs')
    : fs.mkdtempSync(path.join(os.tmpdir(), 'tcptrace-shot-'));
  return path.join(dir, name);
}
