'use strict';
// Normalizers for scripts/compare-outputs: each turns one output of one build into text in
// which only what must not change between builds is left. Kept: field names and their order,
// states and their sequence, causes, comm, flags, addresses, fixed ports, counts of events,
// metric names, labels, types and HELP text, line layout and column widths. Replaced: times,
// durations, kernel addresses, pids, ephemeral ports, inodes, cgroup ids, figures that depend on
// timing (rates, ring fill, histogram buckets, the machine-wide "not seen" count). Ids are
// numbered in order of first appearance, so the same socket keeps one name within an output.

const FIXED_PORTS = new Set([0, 7001, 7009, 7010, 7999, 8080]);

class Ids {
  constructor() { this.maps = new Map(); }
  id(kind, value) {
    let map = this.maps.get(kind);
    if (!map) this.maps.set(kind, (map = new Map()));
    if (!map.has(value)) map.set(value, `${kind}${map.size + 1}`);
    return map.get(value);
  }
}

// A placeholder as wide as what it replaces (padded with '_'), so column widths stay checked.
function fit(label, width) {
  return label.length >= width ? label : label + '_'.repeat(width - label.length);
}

// Census notes that come and go with the machine's load, not with the build: a recount after
// the kernel skipped nested runs (machine-wide, other namespaces' events included) that is
// still running when the exit report is made.
const LOAD_NOTE = /^(counting the sockets from the kernel \(sock_diag\), not done yet|transitions were lost or skipped by the kernel: .*)$/;

function isEphemeral(port) {
  return Number.isInteger(port) && port >= 1024 && port <= 65535 && !FIXED_PORTS.has(port);
}

// ---- text (table, CSV, --lifetimes, --summary, stderr, journal MESSAGE) ----

// Text inside a value (a journal MESSAGE, a JSON string): no columns, so no pid columns.
function normalizeString(text, ids) {
  return text
    .replace(/ \(\+\d+ not seen: [^)]*\)/, '') // the machine-wide BPF recursion count
    .replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b/g, '<iso-time>')
    .replace(/\b\d\d:\d\d:\d\d\b/g, 'hh:mm:ss')
    .replace(/\bffff[0-9a-f]{12}\b/g, (m) => fit(ids.id('S', m), m.length))
    .replace(/(?<![\d.:])\d+\.\d+(?![\d.])/g, (m) => m.replace(/\d/g, '9'))
    .replace(/(?<![\d.])\d{4,5}(?![\d.])/g, (m) => (isEphemeral(+m) ? fit(ids.id('E', m), m.length) : m));
}

// The table, CSV and --lifetimes: the columns the header names PID or C-PID hold pids.
function normalizePidColumns(text, ids) {
  const lines = text.split('\n');
  const h = lines.findIndex((l) => /(^|[\s,])PID([\s,]|$)/.test(l));
  if (h < 0) return text;
  const sep = lines[h].includes(',') ? /[^,]+/g : /\S+/g;
  const header = lines[h].match(sep);
  const cols = header.flatMap((name, i) => (name === 'PID' || name === 'C-PID' ? [i] : []));
  return lines
    .map((line, n) => {
      if (n <= h || line.startsWith('tcptrace:')) return line;
      let col = -1;
      return line.replace(sep, (tok) => {
        col++;
        return cols.includes(col) && /^\d+$/.test(tok) ? fit(ids.id('P', tok), tok.length) : tok;
      });
    })
    .join('\n');
}

function normalizeText(text, ids = new Ids()) {
  return normalizePidColumns(text, ids)
    .split('\n')
    .flatMap((l) => {
      const m = /^(\s*may be off: )(.*)$/.exec(l);
      if (!m) return [l];
      const notes = m[2].split('; ').filter((n) => !LOAD_NOTE.test(n));
      return notes.length ? [m[1] + notes.join('; ')] : [];
    })
    .map((l) => normalizeString(l, ids))
    .join('\n');
}

// --summary: the four latency columns (p50 p90 p99 max) change format with magnitude, and which
// half-octave bucket a latency falls in depends on timing; widths and counts are kept.
function normalizeSummaryText(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (/^\s+≤ .* \|#*\s*\| \d+$/.test(line)) {
      if (out[out.length - 1] !== '    <histogram rows>') out.push('    <histogram rows>');
      continue;
    }
    const m = /^(.*?\s\d+)((?:\s+(?:[\d.]+|-)){4})$/.exec(line);
    out.push(m ? m[1] + m[2].replace(/\s+\S+/g, (c) => ' '.repeat(c.length - 1) + 'd') : line);
  }
  return normalizeText(out.join('\n'));
}

// ---- JSON (NDJSON events, lifetimes, summary, stream messages, OTLP) ----

const ID_KEYS = { skaddr: 'S', pid: 'P', cpu_pid: 'P', cpu_tid: 'P', sock_ino: 'I', cgroup_id: 'C', netns: 'N' };
const PORT_KEYS = /^(sport|dport|port|lport|rport|localPort|remotePort)$/;
// Figures that depend on when things ran rather than on what ran.
const TIMING_KEY =
  /(^|_)(ms|us|ns|seconds|time|ts|at|rate|peak|ratio|sum|min|max|p\d+|mean|avg|lag|rss|bytes|interval|elapsed|duration|uptime|start|end|since)$|[a-z](Ms|Us|Ns|Time|At|Rate|Peak|Sum|Min|Max|Bytes|Duration|TimeUnixNano)$|^(asDouble|timeUnixNano)$/;
const TIMING_CONTAINERS = new Set(['by_state', 'arrows', 'failing', 'buckets', 'bucketCounts']);

function normalizeValue(key, value, ids, inTiming) {
  if (Array.isArray(value)) {
    if (key === 'buckets' || key === 'bucketCounts') return '<buckets>';
    if (key === 'explicitBounds') return value; // the fixed bucket boundaries
    return value.map((v) => normalizeValue(key, v, ids, inTiming));
  }
  if (value && typeof value === 'object') {
    const out = {};
    const timing = inTiming || TIMING_CONTAINERS.has(key);
    for (const [k, v] of Object.entries(value)) {
      if (k === 'holders' && Array.isArray(v)) out[k] = v.map((p) => ids.id('P', String(p)));
      else if (k === 'missed' && (key === 'counters' || key === 'kernel')) out[k] = '<n>'; // machine-wide
      else out[k] = normalizeValue(k, v, ids, timing);
    }
    if (typeof out.exact === 'boolean' && Array.isArray(out.notes)) {
      out.notes = out.notes.filter((n) => !LOAD_NOTE.test(n));
      if (!out.notes.length) out.exact = true;
    }
    return out;
  }
  if (typeof value === 'string') {
    if (/^\d{4}-\d\d-\d\dT/.test(value)) return '<iso-time>';
    if (/^ffff[0-9a-f]{12}$/.test(value)) return ids.id('S', value);
    if (/^\d+$/.test(value) && /imeUnixNano$/.test(key)) return '<ns>';
    return normalizeString(value, ids);
  }
  if (typeof value === 'number') {
    if (ID_KEYS[key]) return ids.id(ID_KEYS[key], String(value));
    if (PORT_KEYS.test(key)) return isEphemeral(value) ? ids.id('E', String(value)) : value;
    if (value === 0) return 0;
    if (inTiming || TIMING_KEY.test(key) || !Number.isInteger(value)) return '<n>';
  }
  return value;
}

function normalizeJsonText(text, ids = new Ids()) {
  return text
    .split('\n')
    .map((line) => {
      if (!line.trim()) return line;
      try {
        return JSON.stringify(normalizeValue('', JSON.parse(line), ids, false));
      } catch {
        return 'NOT JSON: ' + normalizeString(line, ids);
      }
    })
    .join('\n');
}

// ---- Prometheus exposition ----

function normalizeMetrics(response) {
  const ids = new Ids();
  const split = response.indexOf('\n\n'); // status and headers, kept as they are
  const out = split < 0 ? [] : [response.slice(0, split), ''];
  for (const line of response.slice(split + 1).split('\n')) {
    if (line.startsWith('#')) {
      out.push(line);
      continue;
    }
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})? (.*)$/.exec(line);
    if (!m) {
      if (line) out.push('UNPARSED ' + line);
      continue;
    }
    const [, name, labels = '', value] = m;
    // prom-client's own process/Node.js families: which series exist depends on GC and handles.
    if (/^tcptrace_(process_|nodejs_)/.test(name)) continue;
    const timing =
      /_(bucket|sum)$/.test(name) ||
      /ratio|high_water|missed|sockets_exact/.test(name);
    const labelText = labels.replace(/port="(\d+)"/g, (s, p) => (isEphemeral(+p) ? `port="${ids.id('E', p)}"` : s));
    out.push(`${name}${labelText} ${timing ? "<n>" : value}`);
  }
  return out.join('\n');
}

// ---- systemd journal native protocol ----

function parseJournalDatagram(buf) {
  const fields = [];
  let i = 0;
  while (i < buf.length) {
    const nl = buf.indexOf(10, i);
    const end = nl < 0 ? buf.length : nl;
    const eq = buf.indexOf(61, i);
    if (eq >= 0 && eq < end) {
      fields.push([buf.toString('utf8', i, eq), buf.toString('utf8', eq + 1, end)]);
      i = end + 1;
    } else {
      const name = buf.toString('utf8', i, end);
      const len = Number(buf.readBigUInt64LE(end + 1));
      fields.push([name, buf.toString('utf8', end + 9, end + 9 + len)]);
      i = end + 9 + len + 1;
    }
  }
  return fields;
}

const JOURNAL_IDS = {
  OBJECT_PID: 'P', TCPTRACE_OWNER: 'P', TCPTRACE_SKADDR: 'S', TCPTRACE_NETNS: 'N', TCPTRACE_CGROUP_ID: 'C',
};

function normalizeJournal(datagrams) {
  const ids = new Ids();
  return datagrams
    .map((buf) =>
      parseJournalDatagram(buf)
        .map(([name, value]) => {
          let v = value;
          if (JOURNAL_IDS[name] && /^\d+$|^ffff/.test(value)) v = ids.id(JOURNAL_IDS[name], value);
          else if (/PORT$/.test(name) && isEphemeral(+value)) v = ids.id('E', value);
          else if (/(TIMESTAMP|_US|SPAN_TIME)$/.test(name) && value !== '' && value !== '0') v = '<n>';
          else v = normalizeString(value, ids);
          return `${name}=${v}`;
        })
        .join('\n'))
    .join('\n\n');
}

module.exports = {
  Ids, normalizeText, normalizeSummaryText, normalizeJsonText, normalizeValue, normalizeMetrics, normalizeJournal,
};
