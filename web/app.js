// tcptrace dashboard. Plain script, no build step. Every value that comes from the server is
// written with textContent (never innerHTML), and drawing happens once per animation frame.
'use strict';

(function () {
  const STATES = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE',
    'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING'];
  const COLORS = ['#3fb950', '#58a6ff', '#a371f7', '#d29922', '#e3b341', '#8b949e', '#f85149',
    '#db61a2', '#ff7b72', '#39c5cf', '#bc8cff'];
  const KNOWN_STATE = new Set(STATES);
  const STORE_MAX = 5000; // events kept for the table (the largest row cap)
  const HISTORY = 120; // seconds of rate history
  const TABLE_MS = 100; // redraw the table at most this often (nobody reads faster)

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $('status'), source: $('source'), rate: $('rate'), total: $('events-total'),
    failedTotal: $('failed-total'), lostKernel: $('lost-kernel'), lostClient: $('lost-client'), clients: $('clients'),
    rateChart: $('rate-chart'), hsChart: $('hs-chart'), hsSummary: $('hs-summary'),
    current: document.querySelector('#current tbody'), failed: document.querySelector('#failed tbody'),
    pause: $('pause'), filter: $('filter'), cap: $('cap'), shown: $('shown'), rows: document.querySelector('#events tbody'),
    subPorts: $('sub-ports'), subStates: $('sub-states'), subComm: $('sub-comm'), subPid: $('sub-pid'),
    subFamily: $('sub-family'), subscribe: $('subscribe'), subStatus: $('sub-status'),
    sampleBanner: $('sample-banner'),
    fsm: $('fsm'), fsmNote: $('fsm-note'), pick: $('pick'),
  };

  // ---- state ---------------------------------------------------------------------------------
  const store = []; // newest last
  let incoming = []; // arrived since the last frame
  let received = 0;
  let paused = false;
  let filterText = '';
  let pick = null; // a state or an arrow picked in the state machine: {state} or {from, to}
  let cap = Number(el.cap.value);
  let rebuild = true; // recompute the table's rows from `store`
  let lastStats = null;
  let statsDirty = false;
  let lostKernel = 0;
  let lostClient = 0;
  let sample = 1; // the server sends 1 connection in `sample` (docs/STREAM.md, Sampling)
  let subscription = null;
  const rateX = [];
  const rateY = STATES.map(() => []);

  // ---- connection ----------------------------------------------------------------------------
  // The page's own query (token, and optionally a starting filter: ports, states, pid, comm,
  // family) goes on to /ws as it is; the server validates it.
  const pageQuery = new URLSearchParams(location.search);
  const wsQuery = new URLSearchParams();
  for (const key of ['token', 'ports', 'states', 'pid', 'comm', 'family']) {
    const v = pageQuery.get(key);
    if (v !== null) wsQuery.set(key, v);
  }
  const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' +
    (wsQuery.toString() ? '?' + wsQuery.toString() : '');
  let ws = null;
  let backoff = 500;
  let retryTimer = 0;

  function setStatus(state, text) {
    el.status.dataset.state = state;
    el.status.textContent = text;
  }

  function connect() {
    setStatus('connecting', 'connecting');
    try {
      ws = new WebSocket(wsUrl);
    } catch (err) {
      scheduleReconnect();
      return;
    }
    let opened = false;
    ws.onopen = () => {
      opened = true;
      backoff = 500;
      setStatus('open', 'live');
      if (subscription) send({ type: 'subscribe', filter: subscription });
    };
    ws.onmessage = (msg) => {
      let m;
      try { m = JSON.parse(msg.data); } catch { return; }
      if (m && typeof m === 'object') onMessage(m);
    };
    ws.onclose = () => {
      ws = null;
      if (opened) scheduleReconnect();
      else explainRefusal();
    };
    ws.onerror = () => {};
  }

  // The browser does not tell a page why a WebSocket handshake failed; a plain GET of the same
  // URL does (the server answers with the reason). A bad URL is not retried: retrying cannot fix it.
  function explainRefusal() {
    const httpUrl = location.protocol + '//' + location.host + '/ws' + (wsQuery.toString() ? '?' + wsQuery.toString() : '');
    fetch(httpUrl, { cache: 'no-store', credentials: 'same-origin' }).then((res) => {
      if (res.status === 426) return scheduleReconnect(); // it would be accepted now
      return res.text().then((text) => {
        const reason = text.trim().slice(0, 200);
        if (res.status === 400 || res.status === 401 || res.status === 403) {
          clearTimeout(retryTimer);
          setStatus('closed', 'refused by the server: ' + reason + ' (fix the URL and reload)');
        } else {
          scheduleReconnect(reason);
        }
      });
    }, () => scheduleReconnect());
  }

  function scheduleReconnect(reason) {
    clearTimeout(retryTimer);
    const wait = backoff;
    backoff = Math.min(backoff * 2, 10000);
    setStatus('closed', (reason ? reason + '; ' : 'disconnected, ') + 'retrying in ' + Math.ceil(wait / 1000) + ' s');
    retryTimer = setTimeout(connect, wait);
  }

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  }

  function onMessage(m) {
    switch (m.type) {
      case 'hello':
        sample = 1;
        drawSample();
        el.source.textContent = [m.host, 'kernel ' + m.kernel, m.attach + ' / ' + m.delivery, 'tcptrace ' + m.version].join(' · ');
        break;
      case 'events':
        if (Array.isArray(m.events)) {
          for (const e of m.events) incoming.push(e);
          received += m.events.length;
        }
        if (Number(m.sample) >= 1 && Number(m.sample) !== sample) {
          sample = Number(m.sample);
          drawSample();
        }
        break;
      case 'stats':
        lastStats = m;
        statsDirty = true;
        pushRates(m);
        break;
      case 'lost':
        if (m.source === 'kernel') lostKernel = Number(m.total) || lostKernel;
        else lostClient = Number(m.total) || lostClient;
        statsDirty = true;
        break;
      case 'subscribed':
        el.subStatus.textContent = 'applied';
        break;
      case 'error':
        el.subStatus.textContent = 'server: ' + String(m.message);
        break;
    }
    requestFrame();
  }

  function pushRates(m) {
    rateX.push(Date.parse(m.time) / 1000);
    const by = m.by_state || {};
    STATES.forEach((s, i) => rateY[i].push(Number(by[s]) || 0));
    if (rateX.length > HISTORY) {
      rateX.shift();
      for (const y of rateY) y.shift();
    }
  }

  const fsm = window.tcptraceStateMachine ? window.tcptraceStateMachine.create(el.fsm, setPick) : null;
  el.pick.addEventListener('click', () => setPick(null));

  // ---- drawing -------------------------------------------------------------------------------
  let framePending = false;
  function requestFrame() {
    if (!framePending) {
      framePending = true;
      requestAnimationFrame(draw);
    }
  }

  // The table is virtual: `view` holds the rows (newest first, at most `cap`), and the DOM
  // holds only the rows in sight plus a few, between two spacer rows. New events cost an
  // array splice; the DOM work per frame stays the same at 10 or 10 000 events per second.
  const ROW_H = 20;
  const OVERSCAN = 10;
  let view = [];
  let lastTable = 0;
  let viewDirty = true;
  let lastFirst = -1;
  let lastScroll = -1;
  const wrap = el.rows.closest('.table-wrap');
  const table = el.rows.closest('table');

  // Work done per frame, for tests and for anyone curious (read-only numbers).
  const perf = { frames: 0, totalMs: 0, maxMs: 0 };
  window.tcptracePerf = perf;
  function draw(now) {
    const t0 = performance.now();
    drawFrame(now);
    const ms = performance.now() - t0;
    perf.frames++;
    perf.totalMs += ms;
    if (ms > perf.maxMs) perf.maxMs = ms;
  }

  function drawFrame(now) {
    framePending = false;
    takeIncoming();
    if (!paused && (rebuild || fresh.length)) {
      if (now - lastTable >= TABLE_MS) {
        lastTable = now;
        updateView();
      } else {
        requestFrame(); // come back for the rows on a later frame
      }
    }
    if (viewDirty || wrap.scrollTop !== lastScroll) drawWindow();
    if (statsDirty) {
      statsDirty = false;
      drawStats();
    }
    el.shown.textContent = view.length + ' rows · ' + received + ' received' + (paused ? ' · paused' : '');
  }

  let fresh = []; // events stored but not yet in the view
  function takeIncoming() {
    if (incoming.length === 0) return;
    for (const e of incoming) store.push(e);
    if (!paused) {
      for (const e of incoming) fresh.push(e);
      if (fresh.length > STORE_MAX) fresh = fresh.slice(-STORE_MAX);
    }
    incoming = [];
    if (store.length > STORE_MAX + 1000) store.splice(0, store.length - STORE_MAX);
  }

  function endpoint(addr, port, family) {
    return family === 6 ? '[' + addr + ']:' + port : addr + ':' + port;
  }

  // The escaping rule of tcptrace's text outputs (src/format/display.ts, README): a process name is
  // chosen by any local user; controls and bytes that are not UTF-8 (lone U+DC80..U+DCFF in
  // the JSON) are shown as escapes, a backslash as \\.
  function shownName(s) {
    return s.replace(/[\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g, (c) => {
      if (c.length === 2) return c; // a whole surrogate pair: a valid character
      const n = c.charCodeAt(0);
      if (c === '\\') return '\\\\';
      if (c === '\n') return '\\n';
      if (c === '\r') return '\\r';
      if (c === '\t') return '\\t';
      if (n < 0x20 || n === 0x7f) return '\\x' + n.toString(16).padStart(2, '0');
      if (n >= 0xdc80 && n <= 0xdcff) return '\\x' + (n - 0xdc00).toString(16);
      return '\\u' + n.toString(16).padStart(4, '0');
    });
  }

  function rowText(e) {
    return [
      typeof e.time === 'string' ? e.time.slice(11, 23) : '',
      e.pid == null ? '' : String(e.pid),
      e.comm == null ? '' : shownName(String(e.comm)),
      String(e.family),
      endpoint(e.saddr, e.sport, e.family),
      endpoint(e.daddr, e.dport, e.family),
      String(e.oldstate),
      String(e.newstate),
      e.ms == null ? '' : String(e.ms),
      e.handshake_ms == null ? '' : String(e.handshake_ms),
      [e.cause, e.error].filter((x) => x != null && x !== '').join(' '),
    ];
  }

  // TIME_WAIT is entered by a close with time_wait set (the tracepoint shows CLOSE).
  function picked(e) {
    const into = e.newstate === 'CLOSE' && e.time_wait ? 'TIME_WAIT' : e.newstate;
    if (pick.state) return e.oldstate === pick.state || into === pick.state;
    return e.oldstate === pick.from && into === pick.to;
  }

  function setPick(p) {
    const same = pick && p && pick.state === p.state && pick.from === p.from && pick.to === p.to;
    pick = same ? null : p;
    if (fsm) fsm.select(pick);
    el.pick.hidden = !pick;
    el.pick.textContent = pick ? 'only ' + (pick.state || pick.from + ' → ' + pick.to) + ' ✕' : '';
    rebuild = true;
    requestFrame();
  }

  function matches(e) {
    if (pick && !picked(e)) return false;
    if (filterText === '') return true;
    if (e._text === undefined) e._text = rowText(e).join(' ').toLowerCase();
    return e._text.includes(filterText);
  }

  function updateView() {
    if (rebuild) {
      rebuild = false;
      fresh = [];
      view = [];
      for (let i = store.length - 1; i >= 0 && view.length < cap; i--) if (matches(store[i])) view.push(store[i]);
    } else {
      const add = [];
      for (let i = fresh.length - 1; i >= 0 && add.length < cap; i--) if (matches(fresh[i])) add.push(fresh[i]);
      fresh = [];
      if (add.length === 0) return;
      view = add.length >= cap ? add : add.concat(view.length + add.length > cap ? view.slice(0, cap - add.length) : view);
    }
    viewDirty = true;
  }

  const CELL_CLASSES = ['', '', 'comm', '', '', '', 'old', 'new', '', '', 'cause'];
  const topSpacer = spacer();
  const bottomSpacer = spacer();
  const pool = []; // row elements in use, top to bottom

  function spacer() {
    const tr = document.createElement('tr');
    tr.className = 'spacer';
    const td = document.createElement('td');
    td.colSpan = CELL_CLASSES.length;
    tr.appendChild(td);
    return tr;
  }

  function makeRow() {
    const tr = document.createElement('tr');
    for (let i = 0; i < CELL_CLASSES.length; i++) {
      const td = document.createElement('td');
      if (CELL_CLASSES[i]) td.className = CELL_CLASSES[i];
      tr.appendChild(td);
    }
    return tr;
  }

  function fillRow(tr, e) {
    if (tr._event === e) return;
    tr._event = e;
    tr.className = KNOWN_STATE.has(e.newstate) ? 's-' + e.newstate + (e.error ? ' err' : '') : e.error ? 'err' : '';
    const cells = rowText(e);
    for (let i = 0; i < cells.length; i++) tr.cells[i].textContent = cells[i];
  }

  function drawWindow() {
    viewDirty = false;
    lastScroll = wrap.scrollTop;
    const height = wrap.clientHeight || 600;
    const first = Math.max(0, Math.floor(lastScroll / ROW_H) - OVERSCAN);
    const count = Math.min(view.length - first, Math.ceil(height / ROW_H) + 2 * OVERSCAN);
    while (pool.length < count) pool.push(makeRow());
    while (pool.length > Math.max(count, 0)) pool.pop().remove();
    for (let i = 0; i < pool.length; i++) fillRow(pool[i], view[first + i]);
    topSpacer.firstChild.style.height = first * ROW_H + 'px';
    bottomSpacer.firstChild.style.height = Math.max(0, view.length - first - pool.length) * ROW_H + 'px';
    if (first !== lastFirst || el.rows.childNodes.length !== pool.length + 2) {
      lastFirst = first;
      el.rows.replaceChildren(topSpacer, ...pool, bottomSpacer);
    }
    table.dataset.rows = String(view.length);
  }

  wrap.addEventListener('scroll', requestFrame, { passive: true });

  function kvRows(body, entries, withBar) {
    const max = Math.max(1, ...entries.map((x) => x[1]));
    const frag = document.createDocumentFragment();
    for (const [k, v] of entries) {
      const tr = document.createElement('tr');
      const name = document.createElement('td');
      name.textContent = k;
      tr.appendChild(name);
      if (withBar) {
        const barCell = document.createElement('td');
        barCell.className = 'barcell';
        const bar = document.createElement('div');
        bar.className = 'bar';
        bar.style.width = Math.round((100 * v) / max) + '%';
        barCell.appendChild(bar);
        tr.appendChild(barCell);
      }
      const val = document.createElement('td');
      val.textContent = String(v);
      tr.appendChild(val);
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
  }

  function drawSample() {
    el.sampleBanner.hidden = sample <= 1;
    el.sampleBanner.textContent = sample <= 1 ? '' : 'showing 1 in ' + sample + ' connections: this page cannot keep up ' +
      'with the event rate, so the table gets every transition of 1 connection in ' + sample + '; counts and charts stay exact';
  }

  function drawStats() {
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
    kvRows(el.failed, causes.length ? causes : [['none', 0]], false);
    const current = STATES.map((st) => [st, Number((s.current || {})[st]) || 0]).filter((x) => x[1] > 0);
    kvRows(el.current, current.length ? current : [['(none tracked)', 0]], true);
    if (fsm) fsm.update(s);
    el.fsmNote.textContent = s.census && !s.census.exact ? 'counts may be off: ' + (s.census.notes || []).join('; ') : '';
    drawRateChart();
    drawHandshake(s.handshake || {}, s.accept_wait);
  }

  // ---- charts --------------------------------------------------------------------------------
  let rateChart = null;
  let hsChart = null;

  function chartWidth(node) {
    return Math.max(240, node.clientWidth - 4);
  }

  function compact(v) {
    if (v == null) return '';
    const a = Math.abs(v);
    if (a >= 1e6) return short(v / 1e6) + 'M';
    if (a >= 1e3) return short(v / 1e3) + 'k';
    return short(v);
  }

  function clock(seconds) {
    const d = new Date(seconds * 1000);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  }

  function drawRateChart() {
    if (typeof uPlot === 'undefined') return;
    const data = [rateX.slice(), ...rateY.map((y) => y.slice())];
    if (!rateChart) {
      rateChart = new uPlot({
        width: chartWidth(el.rateChart),
        height: 220,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
        axes: [
          { stroke: '#8a96a3', grid: { stroke: '#2b333d' }, space: 70, values: (u, vals) => vals.map(clock) },
          { stroke: '#8a96a3', grid: { stroke: '#2b333d' }, size: 56, values: (u, vals) => vals.map(compact) },
        ],
        series: [{}].concat(STATES.map((s, i) => ({ label: s, stroke: COLORS[i], width: 1.5, points: { show: false } }))),
        legend: { live: false },
      }, data, el.rateChart);
    } else {
      rateChart.setData(data);
    }
    el.rateChart.dataset.updates = String(Number(el.rateChart.dataset.updates) + 1);
    el.rateChart.dataset.points = String(rateX.length);
  }

  // Summary buckets are half-octaves, upper bounds 1.5·2^k and 2^(k+1) ms (src/derive/histogram.ts):
  // index 2k+1 and 2k+2, laid out evenly.
  function bucketIndex(boundMs) {
    return Math.round(2 * Math.log2(boundMs));
  }

  function boundOf(index) {
    return index % 2 ? 1.5 * 2 ** ((index - 1) / 2) : 2 ** (index / 2);
  }

  function short(v) {
    return v >= 10 ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, '');
  }

  function fmtMs(ms) {
    if (ms < 1) return short(ms * 1000) + ' µs';
    if (ms < 1000) return short(ms) + ' ms';
    return short(ms / 1000) + ' s';
  }

  function drawHandshake(hs, wait) {
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
    if (!hsChart) {
      const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 40] }) : undefined;
      hsChart = new uPlot({
        width: chartWidth(el.hsChart),
        height: 220,
        scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
        axes: [
          { stroke: '#8a96a3', grid: { show: false }, values: (u, vals) => vals.map((v) => (Number.isInteger(v) ? fmtMs(boundOf(v)) : '')) },
          { stroke: '#8a96a3', grid: { stroke: '#2b333d' }, size: 56, values: (u, vals) => vals.map(compact) },
        ],
        series: [
          { label: 'upper bound', value: (u, v) => (v == null ? '' : '≤ ' + fmtMs(boundOf(v))) },
          { label: 'connect (active)', stroke: '#58a6ff', fill: 'rgba(88,166,255,0.5)', paths: bars, points: { show: false } },
          { label: 'accept (passive)', stroke: '#a371f7', fill: 'rgba(163,113,247,0.5)', paths: bars, points: { show: false } },
        ],
      }, data, el.hsChart);
    } else {
      hsChart.setData(data);
    }
    el.hsChart.dataset.updates = String(Number(el.hsChart.dataset.updates) + 1);
    el.hsChart.dataset.count = String(count);
    const parts = [];
    if (hs.active && hs.active.count) parts.push('connect: ' + hs.active.count + ', p50 ' + fmtMs(hs.active.p50) + ', p99 ' + fmtMs(hs.active.p99));
    if (hs.passive && hs.passive.count) parts.push('accept: ' + hs.passive.count + ', p50 ' + fmtMs(hs.passive.p50) + ', p99 ' + fmtMs(hs.passive.p99));
    if (wait && wait.count) parts.push('accept-queue wait: ' + wait.count + ', p50 ' + fmtMs(wait.p50) + ', p99 ' + fmtMs(wait.p99) + ', max ' + fmtMs(wait.max));
    el.hsSummary.textContent = parts.join(' · ');
  }

  window.addEventListener('resize', () => {
    if (rateChart) rateChart.setSize({ width: chartWidth(el.rateChart), height: 220 });
    if (hsChart) hsChart.setSize({ width: chartWidth(el.hsChart), height: 220 });
  });

  // ---- controls ------------------------------------------------------------------------------
  el.pause.addEventListener('click', () => {
    paused = !paused;
    el.pause.textContent = paused ? 'Resume' : 'Pause';
    el.pause.setAttribute('aria-pressed', String(paused));
    if (!paused) rebuild = true;
    requestFrame();
  });
  el.filter.addEventListener('input', () => {
    filterText = el.filter.value.trim().toLowerCase();
    rebuild = true;
    requestFrame();
  });
  el.cap.addEventListener('change', () => {
    cap = Number(el.cap.value) || 500;
    rebuild = true;
    requestFrame();
  });

  function list(text) {
    return text.split(',').map((x) => x.trim()).filter(Boolean);
  }

  el.subscribe.addEventListener('click', () => {
    const f = {};
    const ports = list(el.subPorts.value).map(Number);
    if (ports.length) f.ports = ports;
    const states = list(el.subStates.value);
    if (states.length) f.states = states;
    if (el.subComm.value.trim()) f.comm = el.subComm.value.trim();
    if (el.subPid.value.trim()) f.pid = Number(el.subPid.value.trim());
    if (el.subFamily.value) f.family = Number(el.subFamily.value);
    subscription = f;
    el.subStatus.textContent = 'applying';
    send({ type: 'subscribe', filter: f });
  });

  el.subPorts.value = pageQuery.get('ports') || '';
  el.subStates.value = pageQuery.get('states') || '';
  el.subComm.value = pageQuery.get('comm') || '';
  el.subPid.value = pageQuery.get('pid') || '';
  if (pageQuery.get('family') === '4' || pageQuery.get('family') === '6') el.subFamily.value = pageQuery.get('family');

  connect();
})();
