// Transitions per second by new state: the last HISTORY seconds of `stats`, as a uPlot line chart.
'use strict';

(function () {
  const t = window.tcptrace;
  const HISTORY = 120; // seconds of rate history
  const node = t.$('rate-chart');
  const rateX = [];
  const rateY = t.STATES.map(() => []);
  let chart = null;
  let dirty = false;

  function clock(seconds) {
    const d = new Date(seconds * 1000);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  }

  function push(m) {
    rateX.push(Date.parse(m.time) / 1000);
    const by = m.by_state || {};
    t.STATES.forEach((s, i) => rateY[i].push(Number(by[s]) || 0));
    if (rateX.length > HISTORY) {
      rateX.shift();
      for (const y of rateY) y.shift();
    }
  }

  function draw() {
    if (typeof uPlot === 'undefined') return;
    const data = [rateX.slice(), ...rateY.map((y) => y.slice())];
    if (!chart) {
      chart = new uPlot({
        width: t.chartWidth(node),
        height: 220,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
        axes: [
          { stroke: '#8a96a3', grid: { stroke: '#2b333d' }, space: 70, values: (u, vals) => vals.map(clock) },
          { stroke: '#8a96a3', grid: { stroke: '#2b333d' }, size: 56, values: (u, vals) => vals.map(t.text.compact) },
        ],
        series: [{}].concat(t.STATES.map((s, i) => ({ label: s, stroke: t.COLORS[i], width: 1.5, points: { show: false } }))),
        legend: { live: false },
      }, data, node);
    } else {
      chart.setData(data);
    }
    node.dataset.updates = String(Number(node.dataset.updates) + 1);
    node.dataset.points = String(rateX.length);
  }

  window.addEventListener('resize', () => {
    if (chart) chart.setSize({ width: t.chartWidth(node), height: 220 });
  });

  t.view({
    message(m) {
      if (m.type !== 'stats') return;
      push(m);
      dirty = true;
    },
    frame() {
      if (!dirty) return;
      dirty = false;
      draw();
    },
  });
})();
