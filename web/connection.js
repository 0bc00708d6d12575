// The dashboard's WebSocket: /ws with the page's own query, reconnecting with backoff, asking the
// server why when a handshake is refused. Every message goes to tcptrace.dispatch (core.js).
'use strict';

(function () {
  const t = window.tcptrace;
  const status = t.$('status');

  // The page's own query (token, and optionally a starting filter: ports, states, pid, comm,
  // family) goes on to /ws as it is; the server validates it.
  const pageQuery = new URLSearchParams(location.search);
  const wsQuery = new URLSearchParams();
  for (const key of ['token', 'ports', 'states', 'pid', 'comm', 'family']) {
    const v = pageQuery.get(key);
    if (v !== null) wsQuery.set(key, v);
  }
  const query = wsQuery.toString() ? '?' + wsQuery.toString() : '';
  const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' + query;
  let ws = null;
  let backoff = 500;
  let retryTimer = 0;
  /** sent again on every (re)connection: the server-side filter the page asked for */
  let subscription = null;

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
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
      if (m && typeof m === 'object') t.dispatch(m);
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
    const httpUrl = location.protocol + '//' + location.host + '/ws' + query;
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

  t.send = send;
  /** The server-side filter: kept, and sent again after a reconnection. */
  t.subscribe = (filter) => {
    subscription = filter;
    send({ type: 'subscribe', filter });
  };
  t.pageQuery = pageQuery;
  t.connect = connect;
})();
