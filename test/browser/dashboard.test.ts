// The dashboard in a real browser (Debian's chromium, driven by playwright-core) against the
// real tracer: the table and charts follow connections the test makes, a hostile process
// name is shown as text, pause/filter work, and the page reconnects by itself.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { StreamSink } from '../../src/sinks/ws';
import { StatsEngine } from '../../src/derive/stats';
import { Pipeline } from '../../src/pipeline';
import { statusReport } from '../../src/status';
import { Tracer } from '../../src/tracer';
import { closedPort, connectAndClose, listen, sleep } from '../helpers/kernel';
import { describeBrowser, launchChromium, screenshotPath } from '../helpers/browser';

const SCREENSHOT = screenshotPath('dashboard.png');

/** Runs a shell whose comm is `comm` and which connects to `port` from that shell itself. */
function connectAs(comm: string, port: number): Promise<void> {
  const script = `printf '%s' "$1" > /proc/$$/comm && exec 3<>/dev/tcp/127.0.0.1/"$2" && sleep 0.2 && exec 3>&-`;
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', ['-c', script, 'bash', comm, String(port)], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bash exited ${code}`))));
  });
}

async function refused(port: number): Promise<void> {
  const net = await import('node:net');
  await new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => resolve());
    s.on('connect', () => { s.destroy(); resolve(); });
  });
}

async function number(page: Page, selector: string): Promise<number> {
  return Number(await page.textContent(selector));
}

/** Sets the page's server-side filter to these ports and waits for the server's answer. */
async function subscribe(page: Page, ports: number[]): Promise<void> {
  await page.fill('#sub-ports', ports.join(','));
  await page.click('#subscribe');
  await page.waitForFunction(() => document.getElementById('sub-status')?.textContent === 'applied', null, { timeout: 10_000 });
}

/** Rows the table holds (it is virtual: only the rows in sight are in the DOM). */
async function tableRows(page: Page): Promise<number> {
  return Number(await page.getAttribute('#events', 'data-rows'));
}

/** Waits until a visible cell's text is exactly `text` (filtering the table to `filter`). */
async function waitForCell(page: Page, text: string, filter: string): Promise<void> {
  await page.fill('#filter', filter);
  await page.waitForFunction((t) => [...document.querySelectorAll('#events tbody td')].some((td) => td.textContent === t), text, { timeout: 10_000 });
}

describeBrowser('dashboard in chromium', () => {
  let tracer: Tracer;
  let stats: StatsEngine;
  let sink: StreamSink;
  let browser: Browser;
  let page: Page;
  let port: number;
  const problems: string[] = [];
  const dialogs: string[] = [];

  let pipeline: Pipeline | undefined;
  const startSink = async (p: number) => {
    pipeline?.end(); // one pipeline at a time feeds the stats
    sink = await StreamSink.start(statusReport(tracer), stats, { listen: { host: '127.0.0.1', port: p }, statsIntervalMs: 500 });
    pipeline = new Pipeline(tracer, [sink], { stats });
  };

  beforeAll(async () => {
    // A large ring: whatever else the machine runs, the test's own events must arrive.
    tracer = Tracer.open({ ringBytes: 32 * 1024 * 1024 });
    stats = new StatsEngine();
    await startSink(0);
    port = sink.address.port;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    // Record every element ever added under the event table, whatever removes it later.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { __added: string[] }).__added = seen;
      document.addEventListener('DOMContentLoaded', () => {
        const table = document.getElementById('events')!;
        new MutationObserver((records) => {
          for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) seen.push((n as Element).tagName);
        }).observe(table, { childList: true, subtree: true });
      });
    });
    // Start quiet (a port nobody uses); each test then picks its ports in the page's form.
    await page.goto(`http://127.0.0.1:${port}/?ports=1`);
    expect(await page.inputValue('#sub-ports')).toBe('1');
    await page.waitForSelector('#status[data-state="open"]', { timeout: 20_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sink?.close();
    tracer?.close();
  });

  it('shows the hello, and fills the table, charts and counters from connections the test makes', async () => {
    expect(await page.textContent('#source')).toContain('kernel ');
    const server = await listen();
    const dead = await closedPort();
    // Only this test's ports reach the page (the stats and charts still cover everything).
    await subscribe(page, [server.port, dead]);
    for (let round = 0; round < 6; round++) {
      await Promise.all(Array.from({ length: 10 }, () => connectAndClose(server.port)));
      await refused(dead);
      await sleep(250);
    }
    await waitForCell(page, `127.0.0.1:${server.port}`, String(server.port));
    await page.fill('#filter', '');
    await page.waitForFunction(() => Number(document.getElementById('hs-chart')?.dataset.count) > 0, null, { timeout: 10_000 });
    await page.waitForFunction(() => Number(document.getElementById('failed-total')?.textContent) > 0, null, { timeout: 10_000 });
    expect(Number(await page.getAttribute('#rate-chart', 'data-updates'))).toBeGreaterThan(1);
    expect(Number(await page.getAttribute('#rate-chart', 'data-points'))).toBeGreaterThan(1);
    expect(await page.locator('#rate-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#hs-chart canvas').count()).toBeGreaterThan(0);
    expect(await number(page, '#events-total')).toBeGreaterThan(60);
    expect(await page.locator('#current tbody tr').count()).toBeGreaterThan(0);
    expect(await page.textContent('#failed tbody')).toMatch(/refused/);
    expect(Number(await page.textContent('#lost-kernel'))).toBeGreaterThanOrEqual(0);
    await server.close();
  });

  it('lists the connection and the listener that moved the most bytes, from the totals at CLOSE', async () => {
    const net = await import('node:net');
    const size = 48 * 1024 * 1024; // more than anything else on the machine is likely to move meanwhile
    const server = net.createServer((s) => { s.resume(); s.on('end', () => s.end()); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => c.end(Buffer.alloc(size)));
      c.resume();
      c.on('error', reject);
      c.on('close', () => resolve());
    });
    const peer = `→ 127.0.0.1:${port}`;
    await page.waitForFunction((p) => [...document.querySelectorAll('#traffic-connections tbody tr')].some((tr) => tr.textContent!.includes(p)), peer, { timeout: 15_000 });
    const row = await page.locator('#traffic-connections tbody tr', { hasText: peer }).first().locator('td').allTextContents();
    expect(row[2]).toBe('48.0 MiB'); // sent: acknowledged by the peer
    await page.waitForFunction((k) => [...document.querySelectorAll('#traffic-listeners tbody td')].some((td) => td.textContent === k), `listening port ${port}`, { timeout: 15_000 });
    const listener = await page.locator('#traffic-listeners tbody tr', { hasText: `listening port ${port}` }).first().locator('td').allTextContents();
    expect(listener[3]).toBe('48.0 MiB'); // received by the accepted side
    server.close();
  });

  it('renders a hostile process name as literal text', async () => {
    const server = await listen();
    await subscribe(page, [server.port]);
    await connectAs('<img src=x>', server.port);
    await connectAs('<b>x</b>', server.port);
    await page.fill('#filter', String(server.port));
    const comms = () => page.$$eval('#events td.comm', (tds) => tds.map((td) => td.textContent));
    await expect.poll(comms, { timeout: 10_000 }).toEqual(expect.arrayContaining(['<img src=x>', '<b>x</b>']));
    expect(await page.locator('#events img, #events b, body img').count()).toBe(0);
    expect(await page.$$eval('#events td.comm', (tds) => tds.every((td) => td.children.length === 0))).toBe(true);
    const added = await page.evaluate(() => (window as unknown as { __added: string[] }).__added);
    expect(added.length).toBeGreaterThan(0);
    expect(new Set(added.filter((t) => t !== 'TR' && t !== 'TD'))).toEqual(new Set());
    expect(dialogs).toEqual([]);
    await page.fill('#filter', '');
    await server.close();
  });

  it('filters rows by text, pauses and resumes, and caps rows', async () => {
    const server = await listen();
    await subscribe(page, [server.port]);
    await Promise.all(Array.from({ length: 5 }, () => connectAndClose(server.port)));
    const local = `127.0.0.1:${server.port}`;
    await page.fill('#filter', String(server.port));
    await page.waitForFunction((p) => {
      const rows = [...document.querySelectorAll('#events tbody tr:not(.spacer)')];
      return rows.length > 0 && rows.every((r) => r.textContent!.includes(p));
    }, String(server.port), { timeout: 10_000 });
    await sleep(300);
    const before = await tableRows(page);

    await page.click('#pause');
    expect(await page.textContent('#pause')).toBe('Resume');
    await Promise.all(Array.from({ length: 5 }, () => connectAndClose(server.port)));
    await sleep(700);
    expect(await tableRows(page)).toBe(before);
    await page.click('#pause');
    await page.waitForFunction((n) => Number(document.getElementById('events')?.dataset.rows) > n, before, { timeout: 10_000 });
    expect(await page.locator('#events tbody td', { hasText: local }).count()).toBeGreaterThan(0);

    await page.selectOption('#cap', '100');
    await page.fill('#filter', '');
    await Promise.all(Array.from({ length: 30 }, () => connectAndClose(server.port)));
    await sleep(500);
    expect(await tableRows(page)).toBe(100);
    expect(await page.locator('#events tbody tr:not(.spacer)').count()).toBeLessThanOrEqual(100);
    await page.selectOption('#cap', '500');
    await server.close();
  });

  it('is served with a Content-Security-Policy the browser enforces', async () => {
    const other = await browser.newPage();
    const violations: string[] = [];
    other.on('console', (msg) => { if (/Content Security Policy/.test(msg.text())) violations.push(msg.text()); });
    await other.goto(`http://127.0.0.1:${port}/`);
    const ran = await other.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.appendChild(s);
      return (window as unknown as { __inline?: number }).__inline ?? null;
    });
    expect(ran).toBeNull();
    await other.waitForTimeout(100);
    expect(violations.length).toBeGreaterThan(0);
    await other.close();
  });

  it('passes the token from its own URL to /ws and its files (a cookie); without it nothing is served', async () => {
    const guarded = await StreamSink.start(statusReport(tracer), stats, { listen: { host: '127.0.0.2', port: 0 }, token: 'browser-token-42' });
    const base = `http://127.0.0.2:${guarded.address.port}/`;
    const other = await browser.newPage();
    const stranger = await browser.newContext(); // no cookie from the visit with the token
    try {
      await other.goto(`${base}?token=browser-token-42&ports=1`);
      await other.waitForSelector('#status[data-state="open"]', { timeout: 10_000 });
      const page401 = await stranger.newPage();
      const res = await page401.goto(base);
      expect(res?.status()).toBe(401);
      expect(await page401.textContent('body')).toContain('missing token');
    } finally {
      await other.close();
      await stranger.close();
      await guarded.close();
    }
  });

  it('says why the server refused its filter instead of retrying for ever', async () => {
    const other = await browser.newPage();
    try {
      await other.goto(`http://127.0.0.1:${port}/?ports=99999`);
      await other.waitForFunction(() => /refused by the server: .*ports/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 10_000 });
      await sleep(1500); // no retry replaces the reason
      expect(await other.textContent('#status')).toMatch(/refused by the server: .*ports/);
    } finally {
      await other.close();
    }
  });

  it('shows "showing 1 in N" when the server samples the page because it cannot keep up', async () => {
    const server = await listen();
    const other = await browser.newPage();
    try {
      await other.goto(`http://127.0.0.1:${port}/?ports=${server.port}`);
      await other.waitForSelector('#status[data-state="open"]', { timeout: 10_000 });
      expect(await other.isVisible('#sample-banner')).toBe(false);
      const sampled = () => sink.clientStats().some((c) => c.filter.ports?.[0] === server.port && c.sample > 1);
      // A page whose main thread is busy stops reading its socket: storm while it spins.
      const deadline = Date.now() + 60_000;
      while (!sampled() && Date.now() < deadline) {
        const busy = other.evaluate(() => { const until = Date.now() + 1500; while (Date.now() < until); });
        for (let r = 0; r < 5 && !sampled(); r++) await Promise.all(Array.from({ length: 100 }, () => connectAndClose(server.port)));
        await busy;
      }
      expect(sampled(), 'the server never sampled the page').toBe(true);
      await Promise.all(Array.from({ length: 50 }, () => connectAndClose(server.port)));
      await other.waitForSelector('#sample-banner', { state: 'visible', timeout: 10_000 });
      const text = await other.textContent('#sample-banner');
      const n = Number(/showing 1 in (\d+) connections/.exec(text ?? '')?.[1]);
      expect(n, String(text)).toBeGreaterThan(1);
      expect(Math.log2(n) % 1).toBe(0);
    } finally {
      await other.close();
      await server.close();
    }
  }, 90_000);

  it('saves a screenshot of the live dashboard', async () => {
    const server = await listen();
    const dead = await closedPort();
    await subscribe(page, [server.port, dead]);
    for (let round = 0; round < 8; round++) {
      await Promise.all(Array.from({ length: 5 + round * 3 }, () => connectAndClose(server.port)));
      if (round % 3 === 0) await refused(dead);
      await sleep(250);
    }
    await connectAs('<img src=x>', server.port);
    await sleep(450);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    // Tall enough for the state machine, the charts and the first rows of the table.
    await page.setViewportSize({ width: 1440, height: 1700 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await sleep(300);
    await page.screenshot({ path: SCREENSHOT });
    await page.setViewportSize({ width: 1440, height: 1000 });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    await server.close();
  });

  it('reconnects by itself when the server comes back', async () => {
    await sink.close();
    await page.waitForSelector('#status[data-state="closed"]', { timeout: 10_000 });
    await startSink(port);
    await page.waitForSelector('#status[data-state="open"]', { timeout: 20_000 });
    const server = await listen();
    await subscribe(page, [server.port]);
    await connectAndClose(server.port);
    await waitForCell(page, `127.0.0.1:${server.port}`, String(server.port));
    await server.close();
    // No CSP violation, script error or dialog along the way (the reconnect's own failed
    // attempts are the only console errors a browser logs by itself).
    expect(problems.filter((p) => !/WebSocket connection to .* failed|Failed to load resource: net::ERR_CONNECTION_REFUSED/.test(p))).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
