// The event table: the last events received (`events` messages), newest first, filtered by
// free text and by the state or arrow picked in the state machine; pause, row cap. The table
// is virtual: `view` holds the rows (at most `cap`), and the DOM holds only the rows in sight
// plus a few, between two spacer rows. New events cost an array splice; the DOM work per frame
// stays the same at 10 or 10 000 events per second.
'use strict';

(function () {
  const t = window.tcptrace;
  const KNOWN_STATE = new Set(t.STATES);
  const STORE_MAX = 5000; // events kept for the table (the largest row cap)
  const TABLE_MS = 100; // redraw the table at most this often (nobody reads faster)
  const ROW_H = 20;
  const OVERSCAN = 10;
  const CELL_CLASSES = ['', '', 'comm', '', '', '', 'old', 'new', '', '', 'cause'];
  const el = {
    pause: t.$('pause'), filter: t.$('filter'), cap: t.$('cap'), shown: t.$('shown'), pick: t.$('pick'),
    rows: document.querySelector('#events tbody'),
  };
  const wrap = el.rows.closest('.table-wrap');
  const table = el.rows.closest('table');

  const store = []; // newest last
  let incoming = []; // arrived since the last frame
  let fresh = []; // events stored but not yet in the view
  let received = 0;
  let paused = false;
  let filterText = '';
  let pick = null; // {state} or {from, to}
  let cap = Number(el.cap.value);
  let rebuild = true; // recompute the table's rows from `store`
  let view = [];
  let lastTable = 0;
  let viewDirty = true;
  let lastFirst = -1;
  let lastScroll = -1;

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

  function rowText(e) {
    return [
      typeof e.time === 'string' ? e.time.slice(11, 23) : '',
      e.pid == null ? '' : String(e.pid),
      e.comm == null ? '' : t.text.shownName(String(e.comm)),
      String(e.family),
      t.text.endpoint(e.saddr, e.sport, e.family),
      t.text.endpoint(e.daddr, e.dport, e.family),
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

  function redo() {
    rebuild = true;
    t.requestFrame();
  }

  wrap.addEventListener('scroll', t.requestFrame, { passive: true });
  el.pick.addEventListener('click', () => t.select(null));
  el.pause.addEventListener('click', () => {
    paused = !paused;
    el.pause.textContent = paused ? 'Resume' : 'Pause';
    el.pause.setAttribute('aria-pressed', String(paused));
    if (!paused) rebuild = true;
    t.requestFrame();
  });
  el.filter.addEventListener('input', () => {
    filterText = el.filter.value.trim().toLowerCase();
    redo();
  });
  el.cap.addEventListener('change', () => {
    cap = Number(el.cap.value) || 500;
    redo();
  });

  t.view({
    message(m) {
      if (m.type !== 'events' || !Array.isArray(m.events)) return;
      for (const e of m.events) incoming.push(e);
      received += m.events.length;
    },
    frame(now) {
      takeIncoming();
      if (!paused && (rebuild || fresh.length)) {
        if (now - lastTable >= TABLE_MS) {
          lastTable = now;
          updateView();
        } else {
          t.requestFrame(); // come back for the rows on a later frame
        }
      }
      if (viewDirty || wrap.scrollTop !== lastScroll) drawWindow();
      el.shown.textContent = view.length + ' rows · ' + received + ' received' + (paused ? ' · paused' : '');
    },
    picked(p) {
      pick = p;
      el.pick.hidden = !pick;
      el.pick.textContent = pick ? 'only ' + (pick.state || pick.from + ' → ' + pick.to) + ' ✕' : '';
      rebuild = true;
    },
  });
})();
