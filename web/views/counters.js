// The header's source line, the sampling banner, the counter cards, and the two tables of
// counts (sockets now in each state, failed connects), from `hello`, `events`, `stats` and `lost`.
'use strict';

(function () {
  const t = window.tcptrace;
  const el = {
    source: t.$('source'), banner: t.$('sample-banner'), rate: t.$('rate'), total: t.$('events-total'),
    failedTotal: t.$('failed-total'), lostKernel: t.$('lost-kernel'), lostClient: t.$('lost-client'), clients: t.$('clients'),
    current: document.querySelector('#current tbody'), failed: document.querySelector('#failed tbody'),
  };
  let lastStats = null;
  let dirty = false;
  let lostKernel = 0;
  let lostClient = 0;
  let sample = 1; // the server sends 1 connection in `sample` (docs/STREAM.md, Sampling)

  function drawSample() {
    el.banner.hidden = sample <= 1;
    el.banner.textContent = sample <= 1 ? '' : 'showing 1 in ' + sample + ' connections: this page cannot keep up ' +
      'with the event rate, so the table gets every transition of 1 connection in ' + sample + '; counts and charts stay exact';
  }

  function draw() {
    el.lostKernel.textContent = String(lostKernel);
    el.lostClient.textContent = String(lostClient);
    const s = lastStats;
    if (!s) return;
    el.rate.textContent = String(Math.round(Number(s.rate) || 0));
    el.total.textContent = String(s.events);
    el.clients.textContent = String(s.clients);
    if (s.kernel) lostKernel = Math.max(lostKernel, Number(s.kernel.lost) || 0);
    if (s.client) lostClient = Math.max(lostClient, Number(s.client.missed) || 0);
    el.lostKernel.textContent = String(lostKernel);
    el.lostClient.textContent = String(lostClient);
    const fc = s.failed_connects || { total: 0, by_cause: {} };
    el.failedTotal.textContent = String(fc.total);
    const causes = Object.entries(fc.by_cause || {}).map(([k, v]) => [k, Number(v)]).sort((a, b) => b[1] - a[1]);
    t.kvRows(el.failed, causes.length ? causes : [['none', 0]], false);
    const current = t.STATES.map((st) => [st, Number((s.current || {})[st]) || 0]).filter((x) => x[1] > 0);
    t.kvRows(el.current, current.length ? current : [['(none tracked)', 0]], true);
  }

  t.view({
    message(m) {
      switch (m.type) {
        case 'hello':
          sample = 1;
          drawSample();
          el.source.textContent = [m.host, 'kernel ' + m.kernel, m.attach + ' / ' + m.delivery, 'tcptrace ' + m.version].join(' · ');
          break;
        case 'events':
          if (Number(m.sample) >= 1 && Number(m.sample) !== sample) {
            sample = Number(m.sample);
            drawSample();
          }
          break;
        case 'stats':
          lastStats = m;
          dirty = true;
          break;
        case 'lost':
          if (m.source === 'kernel') lostKernel = Number(m.total) || lostKernel;
          else lostClient = Number(m.total) || lostClient;
          dirty = true;
          break;
      }
    },
    frame() {
      if (!dirty) return;
      dirty = false;
      draw();
    },
  });
})();
