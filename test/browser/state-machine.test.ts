// The state machine in the dashboard, in chromium, over a namespace of the test's own: the
// counts drawn are the stream's `current` (and `ss -tan`'s), busy arrows show their rate, a
// refused connect marks SYN_SENT -> CLOSE as failing, and a click filters the event table.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { SocketCensus } from '../../src/census/census';
import { StreamSink } from '../../src/sinks/ws';
import { StatsEngine } from '../../src/derive/stats';
import { Pipeline } from '../../src/pipeline';
import { statusReport } from '../../src/status';
import { Tracer } from '../../src/tracer';
import { sleep } from '../helpers/kernel';
import { describeBrowser, launchChromium, screenshotPath } from '../helpers/browser';
import { NetNamespace } from '../helpers/process';
import { sameCounts, ssCounts, StateBuilder } from '../helpers/states';

const SCREENSHOT = screenshotPath('state-machine.png');

describeBrowser('state machine in chromium', () => {
  let ns: NetNamespace;
  let builder: StateBuilder;
  let undrop: () => void;
  let tracer: Tracer;
  let census: SocketCensus;
  let sink: StreamSink;
  let browser: Browser;
  let page: Page;
  const blackHole = 20000 + Math.floor(Math.random() * 20000);
  const build = (op: string, n: number) => builder.build(op, n);

  /** The counts the page draws, state → number. */
  const drawn = () => page.evaluate(() => Object.fromEntries(
    [...document.querySelectorAll('#fsm .state[data-state]')]
      .filter((g) => !g.getAttribute('data-state')!.startsWith('CLOSED'))
      .map((g) => [g.getAttribute('data-state'), Number(g.querySelector('.count')!.textContent)]),
  ));

  beforeAll(async () => {
    ns = new NetNamespace();
    undrop = ns.dropSyns(blackHole);
    builder = new StateBuilder(ns, blackHole);
    await builder.ready();
    await build('est', 12); // before the tracer: known from sock_diag only
    await build('tw', 5);
    tracer = Tracer.open({ filter: { netns: ns.inode } });
    // Lost or skipped transitions (a busy machine) make it count again from the kernel.
    census = new SocketCensus({ netns: ns.inode }, () => { const c = tracer.counters(); return c.lost + c.missed; });
    const stats = new StatsEngine(10, census);
    sink = await StreamSink.start(statusReport(tracer), stats, { listen: { host: '127.0.0.1', port: 0 }, statsIntervalMs: 500 });
    new Pipeline(tracer, [sink], { census, stats });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    await page.goto(`http://127.0.0.1:${sink.address.port}/`);
    await page.waitForSelector('#status[data-state="open"]', { timeout: 20_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sink?.close();
    census?.close();
    tracer?.close();
    builder?.stop();
    undrop?.();
    ns?.delete();
  });

  it('draws the stream\'s current (= ss -tan), arrow rates and a failing arrow; a click filters the table', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${sink.address.port}/ws`);
    let current: Record<string, number> = {};
    let failing: Record<string, number> = {};
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type !== 'stats') return;
      current = m.current;
      if (Object.keys(m.failing).length) failing = m.failing;
    });
    // After the tracer started: every kind of state, and refused connects (nobody listens on 1).
    await build('est', 8);
    await build('tw', 6);
    await build('half', 3);
    await build('synsent', 2);
    const refuse = async (n: number) => {
      for (let i = 0; i < n; i++) {
        ns.run(process.execPath, '-e', "require('net').connect(1,'127.0.0.1').on('error',()=>{})");
        await sleep(50);
      }
    };
    const refusing = refuse(20);
    await page.waitForFunction(() => Number(document.querySelector('#fsm [data-arrow="SYN_SENT->CLOSE"]')?.getAttribute('data-failing')) > 0, null, { timeout: 15_000 });
    await refusing;
    expect(failing['SYN_SENT->CLOSE']).toBeGreaterThan(0);

    const want = ssCounts(ns);
    expect(want).toMatchObject({ ESTABLISHED: 40, LISTEN: 2, TIME_WAIT: 11, FIN_WAIT2: 3, CLOSE_WAIT: 3, SYN_SENT: 2 });
    const end = Date.now() + 20_000; // a recount after skipped transitions comes within 5 s
    for (;;) {
      const page = await drawn();
      if (sameCounts(page, current) && sameCounts(current, want)) break;
      if (Date.now() > end) throw new Error(`page ${JSON.stringify(page)}, stream ${JSON.stringify(current)}, ss ${JSON.stringify(want)}`);
      await sleep(100);
    }

    // A busy arrow carries its rate; the page drew no more often than frames allow.
    const refusingMore = refuse(12);
    await build('storm', 4000); // answers at once; connections come and go for 4 s
    await page.waitForFunction(() => ['FIN_WAIT2->TIME_WAIT', 'SYN_SENT->CLOSE'].every((a) =>
      Number(document.querySelector(`#fsm [data-arrow="${a}"]`)?.getAttribute('data-rate')) > 0 &&
      /\/s( failed|, .* failed)?$/.test(document.querySelector(`#fsm [data-arrow="${a}"] text`)?.textContent ?? '')), null, { timeout: 10_000 });
    await page.locator('.fsm-panel').screenshot({ path: SCREENSHOT });
    await refusingMore;

    // Click ESTABLISHED: only events into or out of it are listed; click again: all.
    await page.click('#fsm [data-state="ESTABLISHED"]');
    // the table is redrawn at most every 100 ms: wait for the filtered one
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#events tbody tr:not(.spacer)')];
      return rows.length > 0 && rows.every((tr) => [tr.querySelector('.old')?.textContent, tr.querySelector('.new')?.textContent].includes('ESTABLISHED'));
    }, null, { timeout: 10_000 });
    const rows = await page.$$eval('#events tbody tr:not(.spacer)', (trs) => trs.map((tr) => [tr.querySelector('.old')?.textContent, tr.querySelector('.new')?.textContent]));
    expect(rows.length).toBeGreaterThan(0);
    for (const [oldState, newState] of rows) expect(oldState === 'ESTABLISHED' || newState === 'ESTABLISHED').toBe(true);
    expect(await page.textContent('#pick')).toContain('ESTABLISHED');
    // An arrow: SYN_SENT -> CLOSE lists the refused connects only.
    await page.dispatchEvent('#fsm [data-arrow="SYN_SENT->CLOSE"]', 'click'); // a curve's box centre is off its stroke
    await page.waitForFunction(() => document.getElementById('pick')?.textContent?.includes('SYN_SENT → CLOSE'), null, { timeout: 5000 });
    await page.waitForFunction(() => [...document.querySelectorAll('#events tbody tr:not(.spacer) .new')].every((td) => td.textContent === 'CLOSE'), null, { timeout: 5000 });
    const causes = await page.$$eval('#events tbody tr:not(.spacer) .cause', (tds) => tds.map((td) => td.textContent));
    expect(causes.length).toBeGreaterThan(0);
    expect(causes.every((c) => c!.includes('refused'))).toBe(true);
    await page.click('#pick');
    expect(await page.isHidden('#pick')).toBe(true);
    ws.close();
  }, 60_000);
});
