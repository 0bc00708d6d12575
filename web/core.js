// The dashboard's shared parts: the view registry, the frame loop, the state picked in the
// state machine, and the text rules every view writes with. Plain scripts, no build step; every
// value that comes from the server is written with textContent (never innerHTML).
//
// A view is one file under web/views/ (a <script> line in index.html, in the marked block) that
// calls tcptrace.view({ message(m), frame(now), picked(p) }), each hook optional:
//   message(m)  every message from the server (docs/STREAM.md), as parsed JSON;
//   frame(now)  once per animation frame after messages arrived or requestFrame() was called:
//               draw here, at most what changed;
//   picked(p)   the state ({state}) or arrow ({from, to}) picked in the state machine, or null.
'use strict';

(function () {
  const STATES = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE',
    'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING'];
  const COLORS = ['#3fb950', '#58a6ff', '#a371f7', '#d29922', '#e3b341', '#8b949e', '#f85149',
    '#db61a2', '#ff7b72', '#39c5cf', '#bc8cff'];

  const views = [];
  let framePending = false;
  let pick = null;

  // Work done per frame, for tests and for anyone curious (read-only numbers).
  const perf = { frames: 0, totalMs: 0, maxMs: 0 };
  window.tcptracePerf = perf;

  function requestFrame() {
    if (!framePending) {
      framePending = true;
      requestAnimationFrame(draw);
    }
  }

  function draw(now) {
    const t0 = performance.now();
    framePending = false;
    for (const v of views) if (v.frame) v.frame(now);
    const ms = performance.now() - t0;
    perf.frames++;
    perf.totalMs += ms;
    if (ms > perf.maxMs) perf.maxMs = ms;
  }

  // ---- text ----------------------------------------------------------------------------------
  // The escaping rule of tcptrace's text outputs (src/format/display.ts, README): a process name is
  // chosen by any local user; controls, invisible characters (the class below is display.ts's
  // INVISIBLE, checked by test/unit/display.test.ts) and bytes that are not UTF-8 (lone
  // U+DC80..U+DCFF in the JSON) are shown as escapes, a backslash as \\.
  const ESCAPED = /[\\\x00-\x1f\u{7f}-\u{9f}\u{ad}\u{61c}\u{180e}\u{200b}-\u{200f}\u{2028}-\u{202e}\u{2060}-\u{2064}\u{2066}-\u{206f}\u{feff}\u{fff9}-\u{fffb}\u{13430}-\u{1343f}\u{1bca0}-\u{1bca3}\u{1d173}-\u{1d17a}\u{e0001}\u{e0020}-\u{e007f}\ud800-\udfff]/gu;
  function escapedUnit(n) {
    if (n === 0x5c) return '\\\\';
    if (n === 0x0a) return '\\n';
    if (n === 0x0d) return '\\r';
    if (n === 0x09) return '\\t';
    if (n < 0x20 || n === 0x7f) return '\\x' + n.toString(16).padStart(2, '0');
    if (n >= 0xdc80 && n <= 0xdcff) return '\\x' + (n - 0xdc00).toString(16);
    return '\\u' + n.toString(16).padStart(4, '0');
  }
  function shownName(s) {
    // with the u flag a match is one code point: an astral one is escaped as its two surrogates
    return s.replace(ESCAPED, (c) => (c.length === 1 ? escapedUnit(c.charCodeAt(0)) : '\\u' + c.charCodeAt(0).toString(16) + '\\u' + c.charCodeAt(1).toString(16)));
  }

  function endpoint(addr, port, family) {
    return family === 6 ? '[' + addr + ']:' + port : addr + ':' + port;
  }

  function short(v) {
    return v >= 10 ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, '');
  }

  function compact(v) {
    if (v == null) return '';
    const a = Math.abs(v);
    if (a >= 1e6) return short(v / 1e6) + 'M';
    if (a >= 1e3) return short(v / 1e3) + 'k';
    return short(v);
  }

  function fmtMs(ms) {
    if (ms < 1) return short(ms * 1000) + ' µs';
    if (ms < 1000) return short(ms) + ' ms';
    return short(ms / 1000) + ' s';
  }

  /** Rows of [name, value] (with a bar scaled to the largest value) into a table body. */
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

  function chartWidth(node) {
    return Math.max(240, node.clientWidth - 4);
  }

  window.tcptrace = {
    STATES, COLORS,
    $: (id) => document.getElementById(id),
    /** Registers a view (see the top of this file). */
    view(v) {
      views.push(v);
      return v;
    },
    /** Hands a server message to every view and draws on the next frame. */
    dispatch(m) {
      for (const v of views) if (v.message) v.message(m);
      requestFrame();
    },
    requestFrame,
    /** Picks a state or an arrow (picking the same one again clears it) and tells every view. */
    select(p) {
      const same = pick && p && pick.state === p.state && pick.from === p.from && pick.to === p.to;
      pick = same ? null : p;
      for (const v of views) if (v.picked) v.picked(pick);
      requestFrame();
    },
    /** Sends a message to the server when connected (set by connection.js). */
    send() {},
    text: { shownName, endpoint, short, compact, fmtMs },
    kvRows, chartWidth,
  };
})();
