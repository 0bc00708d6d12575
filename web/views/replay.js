// A replay's clock and the flight recorder's button, in the header. A replay's `stats` carry
// the trace's own time (trace_time, docs/STREAM.md): shown as the clock of the events on screen,
// with the replay's speed from `hello`. When the server runs the flight recorder (--capture),
// GET /capture answers and a button saves the last minutes as one file (POST /capture/save).
'use strict';

(function () {
  const t = window.tcptrace;
  const header = document.querySelector('header');
  const clock = document.createElement('span');
  clock.id = 'trace-clock';
  clock.className = 'status';
  clock.hidden = true;
  header.appendChild(clock);
  const save = document.createElement('button');
  save.id = 'capture-save';
  save.hidden = true;
  header.appendChild(save);
  const saved = document.createElement('span');
  saved.id = 'capture-saved';
  saved.className = 'source';
  header.appendChild(saved);

  const token = new URLSearchParams(location.search).get('token');
  const withToken = (path) => (token ? path + '?token=' + encodeURIComponent(token) : path);
  let replay = null;
  let traceTime = null;

  fetch(withToken('/capture'), { cache: 'no-store', credentials: 'same-origin' }).then((res) => (res.status === 200 ? res.json() : null)).then((c) => {
    if (!c) return;
    save.textContent = 'save last ' + c.last_minutes + ' min';
    save.title = 'the flight recorder (' + c.files + ' files in ' + c.dir + ') saves what it holds of the last ' + c.last_minutes + ' minutes as one capture';
    save.hidden = false;
  }).catch(() => {});

  save.addEventListener('click', () => {
    save.disabled = true;
    saved.textContent = 'saving…';
    fetch(withToken('/capture/save'), { method: 'POST', credentials: 'same-origin' }).then((res) => res.json()).then((r) => {
      saved.textContent = r.path ? 'saved ' + r.path : 'save failed: ' + String(r.error);
    }).catch((err) => { saved.textContent = 'save failed: ' + err.message; }).finally(() => { save.disabled = false; });
  });

  t.view({
    message(m) {
      if (m.type === 'hello') replay = m.options && m.options.replay ? m.options.replay : null;
      if (m.type === 'stats' && typeof m.trace_time === 'string') traceTime = m.trace_time;
    },
    frame() {
      if (!traceTime) return;
      const speed = replay && replay.speed ? '×' + replay.speed : 'max speed';
      clock.hidden = false;
      clock.dataset.state = 'open';
      clock.textContent = 'replay ' + speed + ' · trace clock ' + traceTime.replace('T', ' ').replace('Z', ' UTC');
      clock.title = replay ? 'replaying ' + String(replay.file) : 'replaying a capture';
    },
  });
})();
