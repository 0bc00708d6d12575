// The TCP state machine panel (drawn by web/states.js) fed from `stats`; a click on a state or
// an arrow picks it for every view (tcptrace.select), the event table filters on it.
'use strict';

(function () {
  const t = window.tcptrace;
  const note = t.$('fsm-note');
  const fsm = window.tcptraceStateMachine ? window.tcptraceStateMachine.create(t.$('fsm'), t.select) : null;
  let stats = null;

  t.view({
    message(m) {
      if (m.type === 'stats') stats = m;
    },
    frame() {
      if (!stats) return;
      const s = stats;
      stats = null;
      if (fsm) fsm.update(s);
      note.textContent = s.census && !s.census.exact ? 'counts may be off: ' + (s.census.notes || []).join('; ') : '';
    },
    picked(p) {
      if (fsm) fsm.select(p);
    },
  });
})();
