// A capture replayed at ×10 to the dashboard in a real browser (Debian's chromium): the header
// shows the trace's own clock, which runs ten times faster than the wall clock, and the page
// fills as it did live. No root and no BPF: the capture is the committed flight recorder file.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { describeBrowser, launchChromium, screenshotPath } from '../helpers/browser';

const bin = path.join(__dirname, '../../bin/tcptrace');
const CAPTURE = path.join(__dirname, '../fixtures/captures/trickle.ndjson.gz'); // 60 s of trace
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describeBrowser('the dashboard replays a capture', () => {
  let browser: Browser;
  beforeAll(async () => { browser = await launchChromium(); });
  afterAll(async () => { await browser?.close(); });

  it('at ×10, with the trace clock in the header running ten times the wall clock', async () => {
    const port = await freePort();
    const started = performance.now();
    const child = spawn(bin, ['-r', CAPTURE, '--speed', '10', '--listen', `127.0.0.1:${port}`]);
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    try {
      while (!err.includes('dashboard at')) { if (child.exitCode !== null) throw new Error(err); await sleep(20); }
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/`);
      const clock = page.locator('#trace-clock');
      await clock.waitFor({ state: 'visible', timeout: 10_000 });
      const read = async () => {
        const text = (await clock.textContent()) ?? '';
        expect(text).toMatch(/^replay ×10 · trace clock 2026-12-05 18:3\d:\d\d\.\d{3} UTC$/);
        return Date.parse(text.replace(/^.*trace clock /, '').replace(' UTC', 'Z').replace(' ', 'T'));
      };
      const t0 = await read();
      const w0 = performance.now();
      await sleep(2000);
      const t1 = await read();
      const rate = (t1 - t0) / (performance.now() - w0);
      expect(rate).toBeGreaterThan(7); // the stats come once a second of trace time: ×10 within their step
      expect(rate).toBeLessThan(13);
      expect(Number(await page.textContent('#events-total'))).toBeGreaterThan(0);
      expect(await page.locator('#events tbody tr').count()).toBeGreaterThan(0);
      await page.screenshot({ path: screenshotPath('replay.png'), fullPage: false });
      while (!err.includes('serving until Ctrl-C')) { if (child.exitCode !== null) throw new Error(err); await sleep(50); }
      const seconds = (performance.now() - started) / 1000;
      expect(seconds).toBeGreaterThan(5.5); // 60 s of trace at ×10
      expect(seconds).toBeLessThan(12);
      expect(Number(await page.textContent('#events-total'))).toBe(1192);
    } finally {
      child.kill('SIGINT');
    }
  });
});
