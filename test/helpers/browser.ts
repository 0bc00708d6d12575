// Chromium for the browser tests (Debian's, driven by playwright-core).
import fs from 'node:fs';
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
