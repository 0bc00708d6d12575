// The dashboard's handshake view (web/views/why.js) in chromium against the real tracer: a
// listener whose acceptor is slow (slow-accept) fills the plot with coloured points, its accept
// queue sampled under pressure is drawn below, and a click on a point lists that connection's
// transitions.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { StreamSink } from '../../src/sinks/ws';
import { StatsEngine } from '../../src/derive/stats';
import { listenerPressure, type ListenerPressure } from '../../src/derive/listener-pressure';
import { Pipeline } from '../../src/pipeline';
import { statusReport } from '../../src/status';
import { Tracer } from '../../src/tracer';
import { closedPort, sleep } from '../helpers/kernel';
import { describeBrowser, launchChromium, screenshotPath } from '../helpers/browser';

const fixture = path.resolve(__dirname, '../fixtures/handshakes.py');

/** handshakes.py on the host's loopback; resolves with its first JSON line holding `key`. */
function run(args: string[], key: string): { line: Promise<Record<string, number>>; stop: () => void } {
  const child = spawn('python3', [fixture, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  let text = '';
  const line = new Promise<Record<string, number>>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      for (const l of text.split('\n')) if (l.includes(`"${key}"`)) resolve(JSON.parse(l));
    });
    child.on('exit', () => reject(new Error(`handshakes.py ${args[0]} exited before '${key}'`)));
  });
  line.catch(() => {});
  return { line, stop: () => { child.stdin!.end(); child.kill(); } };
}

describeBrowser('handshake view in chromium', () => {
  let tracer: Tracer;
  let pressure: ListenerPressure;
  let sink: StreamSink;
  let pipeline: Pipeline;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    tracer = Tracer.open({ ringBytes: 32 * 1024 * 1024 });
    pressure = listenerPressure();
    const stats = new StatsEngine(10, undefined, pressure);
    sink = await StreamSink.start(statusReport(tracer), stats, { listen: { host: '127.0.0.1', port: 0 }, statsIntervalMs: 300 });
    pipeline = new Pipeline(tracer, [sink], { stats, pressure });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 1400 } });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    pipeline?.end();
    pressure?.stop();
    await sink?.close();
    tracer?.close();
  });

  it('plots a slow acceptor\'s connections by diagnosis, its queue below, and a point\'s transitions on click', async () => {
    const port = await closedPort();
    await page.goto(`http://127.0.0.1:${sink.address.port}/?ports=${port}`);
    await page.waitForSelector('#status[data-state="open"]', { timeout: 20_000 });
    // 12 clients queued at once, accepted 150 ms apart: each waits longer than the last
    const server = run(['server', String(port), '128', '300', '150'], 'listening');
    await server.line;
    const clients = run(['clients', String(port), '12'], 'connected');
    expect((await clients.line).connected).toBe(12);
    await page.waitForFunction(() => Number(document.getElementById('why-plot')?.dataset.diagnosed) >= 6, null, { timeout: 20_000 });
    await page.waitForFunction(() => Number(document.getElementById('why-queue')?.dataset.samples) > 0, null, { timeout: 20_000 });
    expect(await page.inputValue('#why-listener')).toBe(String(port));
    expect(await page.locator('#why-plot canvas').count()).toBe(1);

    // click on a point, found by its colour on the canvas, in the same task (the next frame
    // redraws the time axis and moves the points)
    const clicked = await page.evaluate(() => {
      const c = document.querySelector('#why-plot canvas') as HTMLCanvasElement;
      const g = c.getContext('2d')!;
      const dpr = window.devicePixelRatio || 1;
      const { data, width, height } = g.getImageData(0, 0, c.width, c.height);
      const box = c.getBoundingClientRect();
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const i = (y * width + x) * 4;
          if (data[i] !== 0xe3 || data[i + 1] !== 0xb3 || data[i + 2] !== 0x41) continue; // slow-accept's colour
          const at = { clientX: box.left + x / dpr + 1, clientY: box.top + y / dpr + 1, bubbles: true };
          document.getElementById('why-plot')!.dispatchEvent(new MouseEvent('click', at));
          return true;
        }
      }
      return false;
    });
    expect(clicked).toBe(true);
    await page.waitForSelector('#why-picked table tr', { timeout: 5_000 });
    const picked = await page.textContent('#why-picked');
    expect(picked).toMatch(/slow-accept/);
    expect(picked).toMatch(/SYN_RECV → ESTABLISHED/);
    expect(picked).toContain(`:${port}`);
    await page.locator('section.why').screenshot({ path: screenshotPath('handshake-view.png') });
    server.stop();
    await sleep(100);
    expect(problems).toEqual([]);
  }, 60_000);
});
