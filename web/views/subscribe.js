// The server-side filter form: what the server sends this page (ports, states, comm, pid,
// family), prefilled from the page's query; the server answers `subscribed` or `error`.
'use strict';

(function () {
  const t = window.tcptrace;
  const el = {
    ports: t.$('sub-ports'), states: t.$('sub-states'), comm: t.$('sub-comm'), pid: t.$('sub-pid'),
    family: t.$('sub-family'), apply: t.$('subscribe'), status: t.$('sub-status'),
  };

  function list(text) {
    return text.split(',').map((x) => x.trim()).filter(Boolean);
  }

  el.apply.addEventListener('click', () => {
    const f = {};
    const ports = list(el.ports.value).map(Number);
    if (ports.length) f.ports = ports;
    const states = list(el.states.value);
    if (states.length) f.states = states;
    if (el.comm.value.trim()) f.comm = el.comm.value.trim();
    if (el.pid.value.trim()) f.pid = Number(el.pid.value.trim());
    if (el.family.value) f.family = Number(el.family.value);
    el.status.textContent = 'applying';
    t.subscribe(f);
  });

  const q = t.pageQuery;
  el.ports.value = q.get('ports') || '';
  el.states.value = q.get('states') || '';
  el.comm.value = q.get('comm') || '';
  el.pid.value = q.get('pid') || '';
  if (q.get('family') === '4' || q.get('family') === '6') el.family.value = q.get('family');

  t.view({
    message(m) {
      if (m.type === 'subscribed') el.status.textContent = 'applied';
      else if (m.type === 'error') el.status.textContent = 'server: ' + String(m.message);
    },
  });
})();
