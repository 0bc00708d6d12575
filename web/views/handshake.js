// Handshake latency: the `stats` histograms of connect (active) and accept (passive) handshakes
// as a uPlot bar chart, and their percentiles (with the accept-queue wait) in a line below.
'use strict';

(function () {
  const t = window.tcptrace;
  const node = t.$('hs-chart');
  const summary = t.$('hs-summary');
  const fmtMs = t.text.fmtMs;
  let chart = null;
  let stats = null;

  // Summary buckets are half-octaves, upper bounds 1.5·2^k and 2^(k+1) ms (src/derive/histogram.ts):
  // index 2k+1 and 2k+2, laid out evenly.
  function bucketIndex(boundMs) {
    return Math.round(2 * Math.log2(boundMs));
  }

  function boundOf(index) {
    return index % 2 ? 1.5 * 2 ** ((index - 1) / 2) : 2 ** (index / 2);
  }

  function draw(hs, wait) {
    if (typeof uPlot === 'undefined') return;
    const active = new Map();
    const passive = new Map();
    for (const [b, c] of (hs.active && hs.active.buckets) || []) if (b > 0) active.set(bucketIndex(b), c);
    for (const [b, c] of (hs.passive && hs.passive.buckets) || []) if (b > 0) passive.set(bucketIndex(b), c);
    const all = [...active.keys(), ...passive.keys()];
    const count = ((hs.active && hs.active.count) || 0) + ((hs.passive && hs.passive.count) || 0);
    if (all.length === 0) return;
    const lo = Math.max(0, Math.min(...all) - 1);
    const hi = Math.max(...all) + 1;
    const xs = [];
    const ya = [];
    const yp = [];
    for (let i = lo; i <= hi; i++) {
      xs.push(i);
      ya.push(active.get(i) || 0);
      yp.push(passive.get(i) || 0);
    }
    const data = [xs, ya, yp];
    if (!chart) {
      const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 40] }) : undefined;
      chart = new uPlot({
        width: t.chartWidth(node),
        height: 220,
        scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
        axes: [
          { stroke: '#8a96a3', grid: { show: false }, values: (u, vals) => vals.map((v) => (Number.isInteger(v) ? fmtMs(boundOf(v)) : '')) },
          { stroke: '#8a96a3', grid: { stroke: '#2b333d' }, size: 56, values: (u, vals) => vals.map(t.text.compact) },
        ],
        series: [
          { label: 'upper bound', value: (u, v) => (v == null ? '' : '≤ ' + fmtMs(boundOf(v))) },
          { label: 'connect (active)', stroke: '#58a6ff', fill: 'rgba(88,166,255,0.5)', paths: bars, points: { show: false } },
          { label: 'accept (passive)', stroke: '#a371f7', fill: 'rgba(163,113,247,0.5)', paths: bars, points: { show: false } },
        ],
      }, data, node);
    } else {
      chart.setData(data);
    }
    node.dataset.updates = String(Number(node.dataset.updates) + 1);
    node.dataset.count = String(count);
    const parts = [];
    if (hs.active && hs.active.count) parts.push('connect: ' + hs.active.count + ', p50 ' + fmtMs(hs.active.p50) + ', p99 ' + fmtMs(hs.active.p99));
    if (hs.passive && hs.passive.count) parts.push('accept: ' + hs.passive.count + ', p50 ' + fmtMs(hs.passive.p50) + ', p99 ' + fmtMs(hs.passive.p99));
    if (wait && wait.count) parts.push('accept-queue wait: ' + wait.count + ', p50 ' + fmtMs(wait.p50) + ', p99 ' + fmtMs(wait.p99) + ', max ' + fmtMs(wait.max));
    summary.textContent = parts.join(' · ');
  }

  window.addEventListener('resize', () => {
    if (chart) chart.setSize({ width: t.chartWidth(node), height: 220 });
  });

  t.view({
    message(m) {
      if (m.type === 'stats') stats = m;
    },
    frame() {
      if (!stats) return;
      const s = stats;
      stats = null;
      draw(s.handshake || {}, s.accept_wait);
    },
  });
})();
