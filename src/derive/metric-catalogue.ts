// The metric catalogue: every metric tcptrace exports, declared once. Prometheus
// (src/sinks/metrics.ts) and OTLP (src/sinks/otlp.ts) both build their instruments from it,
// each naming them in its own convention (promName, otelName); test/unit/metric-catalogue
// checks that both register exactly this list. Dashboards query these names: keep them.

import { WHYS } from './handshake-diagnosis';

export const METRIC_PREFIX = 'tcptrace_';

/** Handshake buckets in seconds: loopback handshakes take tens of µs, SYN retries seconds. */
export const HANDSHAKE_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Lifetime buckets in seconds: from a refused connect to a day-long session. */
export const LIFETIME_BUCKETS = [0.0001, 0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400];

export type MetricKind = 'counter' | 'histogram' | 'gauge';

export interface MetricSpec {
  /** Name parts: Prometheus joins them with `_`, OTLP with `.` (a part may hold `_` itself). */
  readonly parts: readonly string[];
  readonly kind: MetricKind;
  /** UCUM as OTLP writes it: `s`, `By`, `1` (a ratio), `{thing}` (a count), '' (none). */
  readonly unit: string;
  readonly help: string;
  readonly labels: readonly string[];
  readonly buckets?: readonly number[];
  /** Exported only with: `ports` (--metrics-ports), `census` (the socket census), `delivery` (ring stats). */
  readonly when?: 'ports' | 'census' | 'delivery';
}

const metric = (parts: string[], kind: MetricKind, unit: string, help: string, more: Partial<MetricSpec> = {}): MetricSpec =>
  ({ parts, kind, unit, help, labels: [], ...more });

export const METRICS = {
  sockets: metric(['sockets'], 'gauge', '{socket}',
    'TCP sockets in each state now, as `ss -tan` counts them (TIME_WAIT and SYN_RECV sampled each second).', { labels: ['state'], when: 'census' }),
  socketsExact: metric(['sockets', 'exact'], 'gauge', '',
    '1 when tcptrace_sockets is exact; 0 when it may be off (lost events, unreadable namespaces, owner or state filters).', { when: 'census' }),
  transitions: metric(['transitions'], 'counter', '{transition}', 'TCP state transitions, by old and new state.', { labels: ['old_state', 'new_state'] }),
  handshake: metric(['handshake', 'duration'], 'histogram', 's',
    'TCP handshake time: SYN sent to ESTABLISHED (active) or SYN received to ESTABLISHED (passive).', { labels: ['direction'], buckets: HANDSHAKE_BUCKETS }),
  portHandshake: metric(['listen_port', 'handshake', 'duration'], 'histogram', 's',
    'Passive handshake time per listening port (opt-in with --metrics-ports).', { labels: ['port'], buckets: HANDSHAKE_BUCKETS, when: 'ports' }),
  portAcceptWait: metric(['listen_port', 'accept', 'wait'], 'histogram', 's',
    'Accept-queue wait per listening port (opt-in with --metrics-ports).', { labels: ['port'], buckets: HANDSHAKE_BUCKETS, when: 'ports' }),
  acceptWait: metric(['accept', 'wait'], 'histogram', 's',
    'Time accepted connections waited in the accept queue: ESTABLISHED to accept() returning them.', { buckets: HANDSHAKE_BUCKETS }),
  connectFailures: metric(['connect', 'failures'], 'counter', '{connection}',
    'Active opens that closed without reaching ESTABLISHED, by cause (refused, timeout, reset, aborted, ...).', { labels: ['cause'] }),
  closes: metric(['connections', 'closed'], 'counter', '{connection}', 'Sockets that reached CLOSE, by cause.', { labels: ['cause'] }),
  lifetime: metric(['connection', 'lifetime'], 'histogram', 's',
    'Time from a connection\'s open (SYN_SENT or SYN_RECV) to CLOSE, for connections whose open was seen.', { labels: ['side'], buckets: LIFETIME_BUCKETS }),
  transferred: metric(['transferred'], 'counter', 'By',
    'Bytes of finished connections, from their totals at CLOSE: direction="sent" acknowledged by the peer (tcp_info bytes_acked), "received" (bytes_received); the kernel counts a SYN and a FIN as one byte each.', { labels: ['direction', 'side'] }),
  retransmittedSegments: metric(['retransmitted', 'segments'], 'counter', '{segment}',
    'Segments retransmitted by finished connections (tcp_info total_retrans at CLOSE).', { labels: ['side'] }),
  retransmittedBytes: metric(['retransmitted'], 'counter', 'By', 'Bytes retransmitted by finished connections (tcp_info bytes_retrans at CLOSE).', { labels: ['side'] }),
  portTransferred: metric(['listen_port', 'transferred'], 'counter', 'By',
    'Bytes of finished accepted connections per listening port and direction (opt-in with --metrics-ports).', { labels: ['port', 'direction'], when: 'ports' }),
  portRetransmitted: metric(['listen_port', 'retransmitted', 'segments'], 'counter', '{segment}',
    'Segments retransmitted by finished accepted connections per listening port (opt-in with --metrics-ports).', { labels: ['port'], when: 'ports' }),
  eventsSeen: metric(['events', 'seen'], 'counter', '{event}', 'Transitions that passed the kernel filters.'),
  eventsDelivered: metric(['events', 'delivered'], 'counter', '{event}', 'Transitions delivered to user space.'),
  eventsLost: metric(['events', 'lost'], 'counter', '{event}', 'Transitions lost because the kernel buffer was full.'),
  eventsMissed: metric(['events', 'missed'], 'counter', '{event}', 'State changes the kernel ran no BPF program for: it was already running on that CPU, or (a kernel that hides PID 1 from BPF) PID 1 was current.'),
  ringHighWater: metric(['ring', 'high_water'], 'gauge', '1',
    'Highest fill of the kernel ring buffer since start, as a fraction of its size (at 1, events are lost).', { when: 'delivery' }),
  backlogHighWater: metric(['backlog', 'high_water'], 'gauge', 'By',
    'Most bytes the drain thread held read from the ring but not yet processed (lost past its limit).', { when: 'delivery' }),
  handshakeDiagnoses: metric(['handshake', 'diagnoses'], 'counter', '{connection}',
    `Connections whose handshake was slow or failed, by diagnosis (docs/HANDSHAKE.md: ${WHYS.join(', ')}) and listening port (\`all\` unless --metrics-ports selects it).`,
    { labels: ['why', 'port'] }),
  portAcceptQueuePeak: metric(['listen_port', 'accept_queue', 'peak'], 'gauge', '{connection}',
    'Fullest accept queue of a listening port while it was sampled under pressure (opt-in with --metrics-ports).', { labels: ['port'], when: 'ports' }),
  portAcceptQueueFull: metric(['listen_port', 'accept_queue', 'full'], 'counter', 's',
    'Time the accept queue of a listening port was seen over its limit while sampled under pressure (opt-in with --metrics-ports).', { labels: ['port'], when: 'ports' }),
  portDrops: metric(['listen_port', 'drops'], 'counter', '{packet}',
    'SYNs and final ACKs a listening port dropped (its sk_drops) while sampled under pressure (opt-in with --metrics-ports).', { labels: ['port'], when: 'ports' }),
  tracerInfo: metric(['tracer', 'info'], 'gauge', '',
    'The running tracer: tcptrace version, kernel release, attach mode and delivery.', { labels: ['version', 'kernel', 'attach', 'delivery'] }),
} as const satisfies Record<string, MetricSpec>;

export type MetricId = keyof typeof METRICS;

/** Prometheus suffixes per unit (base units, as its naming conventions ask). */
const PROM_UNIT_SUFFIX: Record<string, string> = { s: '_seconds', By: '_bytes', 1: '_ratio' };

/** `tcptrace_` + parts + unit suffix + `_total` for counters: tcptrace_handshake_duration_seconds. */
export function promName(m: MetricSpec): string {
  return `${METRIC_PREFIX}${m.parts.join('_')}${PROM_UNIT_SUFFIX[m.unit] ?? ''}${m.kind === 'counter' ? '_total' : ''}`;
}

/** `tcptrace.` + parts, unit in metadata: tcptrace.handshake.duration. */
export function otelName(m: MetricSpec): string {
  return `tcptrace.${m.parts.join('.')}`;
}
