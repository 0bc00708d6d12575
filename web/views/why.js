// Why handshakes were slow (docs/HANDSHAKE.md): per listener, each connection's handshake time
// (dot) and accept-queue wait (square) over time, coloured by its diagnosis; the listener's
// accept-queue fill, sampled while it was under pressure, drawn under it. A click on a point
// shows that connection's transitions. Plain canvas: a scatter on a log scale.
'use strict';

(function () {
  const t = window.tcptrace;
  const COLORS = {
    'accept-queue-full': '#f85149', 'syn-dropped': '#ff7b72', 'syn-cookie': '#d29922', 'lost-in-network': '#a371f7',
    'slow-accept': '#e3b341', refused: '#db61a2', timeout: '#bc8cff', reset: '#39c5cf', unknown: '#8b949e', ok: '#3fb950',
  };
  const MAX_POINTS = 5000;
  const MAX_SOCKETS = 4000;
  const WINDOW_MS = 5 * 60 * 1000;
  const el = {
    plot: t.$('why-plot'), queue: t.$('why-queue'), listener: t.$('why-listener'), legend: t.$('why-legend'),
    picked: t.$('why-picked'), note: t.$('why-note'),
  };
  /** {time, ms, kind: 'handshake'|'wait', why, listener, skaddr} */
  const points = [];
  /** skaddr → transitions seen, oldest first (bounded) */
  const sockets = new Map();
  /** listener key → [[time, fill]], and its limit */
  const fills = new Map();
  const limits = new Map();
  let shown = []; // points of the selected listener, with their pixel position
  let dirty = false;
  let chosen = '';

  const listenerOf = (e) => (e.side === 'active' ? e.dport : e.sport);

  /** Keeps each socket's transitions, the sockets seen last kept longest. */
  function remember(e) {
    const list = sockets.get(e.skaddr) || [];
    sockets.delete(e.skaddr);
    if (e.oldstate === 'LISTEN' && e.newstate === 'SYN_RECV') list.length = 0; // a new socket at a reused address
    if (list.length < 16) list.push(e);
    sockets.set(e.skaddr, list);
    if (sockets.size > MAX_SOCKETS) sockets.delete(sockets.keys().next().value);
  }

  function add(e) {
    const time = Date.parse(e.time);
    const why = (e.diagnosis && e.diagnosis.why) || 'ok';
    const listener = String(e.diagnosis ? e.diagnosis.listener_port : listenerOf(e));
    if (e.newstate === 'ESTABLISHED' && e.handshake_ms) points.push({ time, ms: e.handshake_ms, kind: 'handshake', why, listener, skaddr: e.skaddr });
    if (e.newstate === 'CLOSE' && e.accept_wait_ms) points.push({ time, ms: e.accept_wait_ms, kind: 'wait', why, listener, skaddr: e.skaddr });
    if (e.newstate === 'CLOSE' && e.diagnosis && (e.oldstate === 'SYN_SENT' || e.oldstate === 'SYN_RECV')) {
      points.push({ time, ms: e.ms || 1, kind: 'handshake', why, listener, skaddr: e.skaddr }); // a failed handshake: its time in that state
    }
    if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
  }

  function listeners() {
    const count = new Map();
    for (const p of points) if (p.why !== 'ok') count.set(p.listener, (count.get(p.listener) || 0) + 1);
    for (const p of points) if (!count.has(p.listener)) count.set(p.listener, 0);
    return [...count].sort((a, b) => b[1] - a[1]);
  }

  function fillOptions() {
    const all = listeners();
    if (!chosen && all.length) chosen = all[0][0];
    const have = [...el.listener.options].map((o) => o.value).join(',');
    if (have === all.map((l) => l[0]).join(',')) return;
    el.listener.replaceChildren(...all.map(([port, n]) => {
      const o = document.createElement('option');
      o.value = port;
      o.textContent = ':' + port + (n ? ' (' + n + ' slow or failed)' : '');
      return o;
    }));
    el.listener.value = chosen;
  }

  function canvas(node, height) {
    const width = t.chartWidth(node);
    let c = node.querySelector('canvas');
    if (!c) node.appendChild((c = document.createElement('canvas')));
    const dpr = window.devicePixelRatio || 1;
    c.width = width * dpr;
    c.height = height * dpr;
    c.style.width = width + 'px';
    c.style.height = height + 'px';
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, height);
    g.font = '11px system-ui, sans-serif';
    return { g, width, height };
  }

  const LEFT = 52;
  const RIGHT = 8;

  function drawPlot(now) {
    const mine = points.filter((p) => p.listener === chosen && p.time > now - WINDOW_MS);
    const { g, width, height } = canvas(el.plot, 240);
    const t0 = mine.length ? Math.min(...mine.map((p) => p.time)) : now - 60000;
    const t1 = Math.max(now, t0 + 1000);
    const lo = Math.log10(Math.max(0.001, Math.min(0.01, ...mine.map((p) => p.ms))));
    const hi = Math.log10(Math.max(10, ...mine.map((p) => p.ms)) * 1.5);
    const x = (time) => LEFT + ((time - t0) / (t1 - t0)) * (width - LEFT - RIGHT);
    const y = (ms) => height - 16 - ((Math.log10(Math.max(ms, 0.001)) - lo) / (hi - lo)) * (height - 24);
    g.strokeStyle = '#2b333d';
    g.fillStyle = '#8a96a3';
    for (let d = Math.ceil(lo); d <= hi; d++) {
      g.beginPath();
      g.moveTo(LEFT, y(10 ** d));
      g.lineTo(width - RIGHT, y(10 ** d));
      g.stroke();
      g.fillText(t.text.fmtMs(10 ** d), 2, y(10 ** d) + 4);
    }
    g.fillText(new Date(t0).toISOString().slice(11, 19), LEFT, height - 2);
    g.fillText(new Date(t1).toISOString().slice(11, 19), width - RIGHT - 48, height - 2);
    shown = mine.map((p) => ({ p, px: x(p.time), py: y(p.ms) }));
    for (const s of shown) {
      g.fillStyle = COLORS[s.p.why] || COLORS.unknown;
      g.beginPath();
      if (s.p.kind === 'wait') g.rect(s.px - 3, s.py - 3, 6, 6);
      else g.arc(s.px, s.py, 3, 0, 2 * Math.PI);
      g.fill();
    }
    el.plot.dataset.points = String(shown.length);
    el.plot.dataset.diagnosed = String(shown.filter((s) => s.p.why !== 'ok').length);
    drawQueue(t0, t1, x);
  }

  /** The listener's accept-queue fill over the same time axis, with its limit. */
  function drawQueue(t0, t1, x) {
    const series = (fills.get(chosen) || []).filter(([time]) => time >= t0 && time <= t1);
    const limit = limits.get(chosen) || 0;
    const { g, width, height } = canvas(el.queue, 90);
    // scaled to the fill; the limit drawn when it is near (a queue far below it is not the story)
    const peak = Math.max(1, ...series.map((s) => s[1]));
    const top = limit && limit <= 2 * peak ? Math.max(peak, limit + 1) : Math.ceil(peak * 1.2);
    const y = (v) => height - 12 - (v / top) * (height - 20);
    g.fillStyle = '#8a96a3';
    g.fillText(String(top), 2, y(top) + 10);
    g.fillText('0', 2, y(0));
    g.fillText('accept queue' + (limit && limit > top ? ' (limit ' + limit + ')' : ''), LEFT, 10);
    if (limit && limit <= top) {
      g.strokeStyle = '#f85149';
      g.setLineDash([4, 3]);
      g.beginPath();
      g.moveTo(LEFT, y(limit));
      g.lineTo(width - RIGHT, y(limit));
      g.stroke();
      g.setLineDash([]);
      g.fillText('limit ' + limit, width - RIGHT - 52, y(limit) - 2);
    }
    g.strokeStyle = '#58a6ff';
    g.beginPath();
    series.forEach(([time, fill], i) => (i ? g.lineTo(x(time), y(fill)) : g.moveTo(x(time), y(fill))));
    g.stroke();
    el.queue.dataset.samples = String(series.length);
    el.note.textContent = series.length ? '' : 'no queue samples for :' + chosen + ' (sampled only while its connections show pressure)';
  }

  function drawLegend() {
    el.legend.replaceChildren(...Object.entries(COLORS).map(([why, color]) => {
      const s = document.createElement('span');
      s.className = 'why-key';
      s.style.color = color;
      s.textContent = '● ' + why;
      return s;
    }), Object.assign(document.createElement('span'), { className: 'why-key', textContent: '● handshake  ■ accept wait' }));
  }

  function showConnection(p) {
    const list = sockets.get(p.skaddr) || [];
    const rows = list.map((e) => [e.time.slice(11, 23), e.oldstate + ' → ' + e.newstate, e.ms == null ? '' : t.text.fmtMs(e.ms),
      t.text.endpoint(e.saddr, e.sport, e.family) + ' ⇄ ' + t.text.endpoint(e.daddr, e.dport, e.family),
      // an inferred verdict carries '?'; the queue is as read at that retransmit, not at the drop
      (e.diagnosis ? e.diagnosis.why + (e.diagnosis.proven === false ? '?' : '') +
        (e.diagnosis.accept_queue ? ' queue ' + e.diagnosis.accept_queue + ' at ' + e.diagnosis.accept_queue_read : '') : '') +
        (e.syn_retrans ? ' syn×' + e.syn_retrans : '') + (e.synack_retrans ? ' synack×' + e.synack_retrans : '')]);
    const head = document.createElement('p');
    head.className = 'note';
    head.textContent = p.kind + ' ' + t.text.fmtMs(p.ms) + ', ' + p.why + ', socket ' + p.skaddr + (list.length ? '' : ' (its transitions are no longer kept)');
    const table = document.createElement('table');
    table.className = 'kv';
    for (const r of rows) {
      const tr = table.insertRow();
      for (const c of r) tr.insertCell().textContent = c;
    }
    el.picked.replaceChildren(head, table);
    el.picked.dataset.skaddr = p.skaddr;
  }

  el.plot.addEventListener('click', (ev) => {
    const box = el.plot.getBoundingClientRect();
    const px = ev.clientX - box.left;
    const py = ev.clientY - box.top;
    let best = null;
    let bestD = 64;
    for (const s of shown) {
      const d = (s.px - px) ** 2 + (s.py - py) ** 2;
      if (d < bestD) (best = s), (bestD = d);
    }
    if (best) showConnection(best.p);
  });
  el.listener.addEventListener('change', () => {
    chosen = el.listener.value;
    dirty = true;
    t.requestFrame();
  });
  drawLegend();

  t.view({
    message(m) {
      if (m.type === 'events' && Array.isArray(m.events)) {
        for (const e of m.events) {
          remember(e);
          add(e);
        }
        dirty = true;
      } else if (m.type === 'stats' && m.handshakes) {
        for (const l of m.handshakes.listeners || []) {
          const key = String(l.port);
          const series = fills.get(key) || [];
          const last = series.length ? series[series.length - 1][0] : 0;
          for (const s of l.series || []) if (s[0] > last) series.push(s);
          if (series.length > 3000) series.splice(0, series.length - 3000);
          fills.set(key, series);
          limits.set(key, l.limit);
        }
        dirty = true;
      }
    },
    frame() {
      if (!dirty) return;
      dirty = false;
      fillOptions();
      drawPlot(Date.now());
    },
  });
})();
