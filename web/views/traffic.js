// Traffic: the connections and listeners that moved the most bytes, and the connections that
// retransmitted the most, from the `stats` message's `traffic` (each finished connection's totals
// at CLOSE: bytes acknowledged by the peer and received, retransmitted segments).
'use strict';

(function () {
  const t = window.tcptrace;
  const tables = {
    listeners: document.querySelector('#traffic-listeners tbody'),
    connections: document.querySelector('#traffic-connections tbody'),
    retrans: document.querySelector('#traffic-retrans tbody'),
  };
  const total = t.$('traffic-total');
  let traffic = null;

  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + ' B' : n.toFixed(1) + ' ' + units[i];
  }

  function cells(tr, values) {
    for (const v of values) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.appendChild(td);
    }
  }

  function fill(body, rows, values) {
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const tr = document.createElement('tr');
      cells(tr, values(r));
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
  }

  // names come from any local user: shown through the text outputs' escaping rule
  function who(c) {
    return c.pid ? t.text.shownName(c.comm || '?') + ' ' + c.pid : '-';
  }

  function connection(c) {
    return [c.sport + ' → ' + t.text.endpoint(c.daddr, c.dport, c.family), who(c), bytes(c.bytes_acked), bytes(c.bytes_received), String(c.retrans_segs)];
  }

  function draw(tr) {
    const a = tr.all;
    total.textContent = a.connections
      ? a.connections + ' finished connections: ' + bytes(a.bytes_acked) + ' sent, ' + bytes(a.bytes_received) + ' received, ' + a.retrans_segs + ' segments retransmitted'
      : 'no finished connection yet';
    const places = [...tr.by_listen_port.map((r) => ['listening ' + r.key, r]), ...tr.by_remote.map((r) => ['to ' + r.key, r])]
      .sort((x, y) => y[1].bytes_acked + y[1].bytes_received - x[1].bytes_acked - x[1].bytes_received);
    fill(tables.listeners, places, ([name, r]) => [name, String(r.connections), bytes(r.bytes_acked), bytes(r.bytes_received), String(r.retrans_segs)]);
    fill(tables.connections, tr.top_connections, connection);
    fill(tables.retrans, tr.top_retransmitting, connection);
  }

  t.view({
    message(m) {
      if (m.type === 'stats' && m.traffic) traffic = m.traffic;
    },
    frame() {
      if (!traffic) return;
      const tr = traffic;
      traffic = null;
      draw(tr);
    },
  });
})();
