// The TCP state machine, drawn live: the states laid out as in RFC 9293's diagram (opens at
// the top, the client's path on the right, the server's on the left, the close paths below),
// each with the sockets in it now (the stream's `current`), each arrow with its transitions
// per second (a number, and a thicker line when busier); failing arrows (refused, timeouts,
// resets) in red. Plain script, no build step; every server value is set with textContent.
'use strict';

(function () {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 120;
  const H = 42;
  // Node id → [x, y] of its centre, label. CLOSED appears twice, as in the RFC: where
  // connections start (top) and where they end (bottom right).
  const NODES = {
    CLOSED_OPEN: [380, 36, 'CLOSED'],
    LISTEN: [380, 126, 'LISTEN'],
    SYN_RECV: [150, 216, 'SYN_RECV'],
    SYN_SENT: [610, 216, 'SYN_SENT'],
    ESTABLISHED: [380, 306, 'ESTABLISHED'],
    FIN_WAIT1: [150, 396, 'FIN_WAIT1'],
    CLOSE_WAIT: [610, 396, 'CLOSE_WAIT'],
    CLOSING: [380, 456, 'CLOSING'],
    FIN_WAIT2: [150, 516, 'FIN_WAIT2'],
    LAST_ACK: [610, 516, 'LAST_ACK'],
    TIME_WAIT: [380, 596, 'TIME_WAIT'],
    CLOSED_END: [610, 596, 'CLOSED'],
  };
  // [from, to, bend] — bend curves the arrow sideways (px at its middle) to keep it clear.
  const ARROWS = [
    ['CLOSED_OPEN', 'LISTEN', 12], ['CLOSED_OPEN', 'SYN_SENT', 0], ['LISTEN', 'CLOSED_OPEN', 12],
    ['LISTEN', 'SYN_RECV', 0], ['SYN_SENT', 'SYN_RECV', 0], ['SYN_SENT', 'CLOSED_OPEN', -40],
    ['SYN_RECV', 'ESTABLISHED', 0], ['SYN_SENT', 'ESTABLISHED', 0], ['SYN_RECV', 'FIN_WAIT1', 0],
    ['SYN_RECV', 'CLOSED_END', 60], ['ESTABLISHED', 'FIN_WAIT1', 0], ['ESTABLISHED', 'CLOSE_WAIT', 0],
    ['ESTABLISHED', 'CLOSED_END', 0], ['FIN_WAIT1', 'FIN_WAIT2', 0], ['FIN_WAIT1', 'CLOSING', 0],
    ['FIN_WAIT1', 'TIME_WAIT', 0], ['FIN_WAIT1', 'CLOSED_END', -30], ['FIN_WAIT2', 'TIME_WAIT', 0],
    ['FIN_WAIT2', 'CLOSED_END', 50], ['CLOSING', 'TIME_WAIT', 0], ['CLOSING', 'CLOSED_END', 0],
    ['CLOSE_WAIT', 'LAST_ACK', 0], ['CLOSE_WAIT', 'CLOSED_END', 40], ['LAST_ACK', 'CLOSED_END', 0],
    ['TIME_WAIT', 'CLOSED_END', 0],
  ];
  // Arrows the tracepoint cannot show: a timewait socket's expiry.
  const UNSEEN = new Set(['TIME_WAIT->CLOSE']);

  /** The state name an arrow key uses for a node ("CLOSE" for either CLOSED). */
  const stateOf = (id) => (id.startsWith('CLOSED') ? 'CLOSE' : id);

  function svg(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  /** Where the line from the centre of `a` towards `b` leaves a's box. */
  function edge(a, b) {
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    const sx = dx === 0 ? Infinity : (W / 2 + 4) / Math.abs(dx);
    const sy = dy === 0 ? Infinity : (H / 2 + 4) / Math.abs(dy);
    const s = Math.min(sx, sy);
    return [a[0] + dx * s, a[1] + dy * s];
  }

  function geometry(from, to, bend) {
    const a = NODES[from];
    const b = NODES[to];
    const mx = (a[0] + b[0]) / 2;
    const my = (a[1] + b[1]) / 2;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
    // control point: the middle, pushed sideways by 2·bend (a quadratic curve reaches half of it)
    const cx = mx + (-(b[1] - a[1]) / len) * bend * 2;
    const cy = my + ((b[0] - a[0]) / len) * bend * 2;
    const p0 = edge(a, [cx, cy]);
    const p1 = edge(b, [cx, cy]);
    return { d: `M${p0[0]},${p0[1]} Q${cx},${cy} ${p1[0]},${p1[1]}`, label: [(p0[0] + 2 * cx + p1[0]) / 4, (p0[1] + 2 * cy + p1[1]) / 4] };
  }

  /**
   * Builds the diagram in `container`; `onPick({state})` or `onPick({from, to})` when a state or
   * an arrow is clicked (to = "TIME_WAIT" stands for the close that entered it).
   */
  function create(container, onPick) {
    const root = svg('svg', { viewBox: '0 0 760 630', class: 'fsm', role: 'img', 'aria-label': 'TCP state machine' }, container);
    const defs = svg('defs', {}, root);
    for (const [id, cls] of [['fsm-head', 'head'], ['fsm-head-bad', 'head bad']]) {
      // In user space units: arrowheads keep their size however thick the line gets.
      const m = svg('marker', { id, viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '11', markerHeight: '11', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' }, defs);
      svg('path', { d: 'M0,0 L10,5 L0,10 z', class: cls }, m);
    }
    const arrowLayer = svg('g', {}, root);
    const nodeLayer = svg('g', {}, root);
    const arrows = new Map();
    function addArrow(from, to, bend) {
      const key = stateOf(from) + '->' + (to === 'TIME_WAIT' || !to.startsWith('CLOSED') ? to : 'CLOSE');
      if (arrows.has(key)) return arrows.get(key);
      const g = svg('g', { class: 'arrow idle' + (UNSEEN.has(key) ? ' unseen' : ''), 'data-arrow': key, 'data-rate': '0', 'data-failing': '0' }, arrowLayer);
      const geo = geometry(from, to, bend);
      const line = svg('path', { d: geo.d, 'marker-end': 'url(#fsm-head)' }, g);
      svg('path', { d: geo.d, class: 'hit' }, g); // a wide invisible stroke to click on
      const label = svg('text', { x: geo.label[0], y: geo.label[1] - 3, 'text-anchor': 'middle' }, g);
      const title = svg('title', {}, g);
      title.textContent = key.replace('->', ' → ') + (UNSEEN.has(key) ? ' (expiry: not traced)' : '');
      g.addEventListener('click', () => onPick({ from: stateOf(from), to: key.split('->')[1] }));
      const a = { g, line, label, key };
      arrows.set(key, a);
      return a;
    }
    for (const [from, to, bend] of ARROWS) addArrow(from, to, bend);
    const counts = new Map();
    for (const id in NODES) {
      const [x, y, name] = NODES[id];
      const g = svg('g', { class: 'state' + (id.startsWith('CLOSED') ? ' closed' : ''), 'data-state': id.startsWith('CLOSED') ? id : name, transform: `translate(${x - W / 2},${y - H / 2})` }, nodeLayer);
      svg('rect', { width: W, height: H, rx: 8 }, g);
      const t = svg('text', { x: W / 2, y: 17, 'text-anchor': 'middle', class: 'name' }, g);
      t.textContent = name;
      const c = svg('text', { x: W / 2, y: 34, 'text-anchor': 'middle', class: 'count' }, g);
      c.textContent = id.startsWith('CLOSED') ? '' : '0';
      if (!id.startsWith('CLOSED')) {
        counts.set(name, c);
        g.addEventListener('click', () => onPick({ state: name }));
      }
    }

    /** From one `stats` message: counts now, arrow rates and failures per second. */
    function update(stats) {
      const current = stats.current || {};
      for (const [name, c] of counts) c.textContent = String(Number(current[name]) || 0);
      const rates = stats.arrows || {};
      const failing = stats.failing || {};
      for (const key of Object.keys(rates)) {
        if (!arrows.has(key)) {
          // An arrow the layout does not list (a rare path): drawn straight between its states.
          const [from, to] = key.split('->');
          // (the kernel sometimes reports a state entered again: no arrow to draw)
          if (from !== to && NODES[from] && (NODES[to] || to === 'CLOSE')) addArrow(from, to === 'CLOSE' ? 'CLOSED_END' : to, 20);
        }
      }
      for (const a of arrows.values()) {
        const r = Number(rates[a.key]) || 0;
        const f = Number(failing[a.key]) || 0;
        a.g.dataset.rate = String(r);
        a.g.dataset.failing = String(f);
        a.g.classList.toggle('idle', r === 0);
        a.g.classList.toggle('failing', f > 0);
        a.line.setAttribute('marker-end', f > 0 ? 'url(#fsm-head-bad)' : 'url(#fsm-head)');
        a.line.style.strokeWidth = r > 0 ? String(Math.min(9, 1.5 + Math.log10(1 + r) * 2)) : '';
        a.label.textContent = r > 0 ? fmt(r) + '/s' + (f > 0 ? (f >= r ? ' failed' : ', ' + fmt(f) + ' failed') : '') : '';
      }
    }

    function select(pick) {
      for (const g of root.querySelectorAll('.selected')) g.classList.remove('selected');
      if (!pick) return;
      const sel = pick.state ? `[data-state="${pick.state}"]` : `[data-arrow="${pick.from}->${pick.to}"]`;
      const g = root.querySelector(sel);
      if (g) g.classList.add('selected');
    }

    return { update, select };
  }

  function fmt(r) {
    return r >= 100 ? String(Math.round(r)) : r >= 10 ? r.toFixed(1).replace(/\.0$/, '') : r.toFixed(2).replace(/\.?0+$/, '');
  }

  window.tcptraceStateMachine = { create };
})();
