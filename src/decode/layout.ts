// Byte offsets of the records in bpf/tcptrace.h. test/unit/layout.test.ts compiles the
// header and proves every number here; change the header first, then this file.

export const EVENT_SIZE = 152;

export const EventOffset = {
  tsNs: 0,
  skaddr: 8,
  deltaNs: 16,
  cgroupId: 24,
  cpuPid: 32,
  cpuTid: 36,
  ownerPid: 40,
  netns: 44,
  sockIno: 48,
  rttUs: 52,
  handshakeUs: 56,
  family: 60,
  sport: 62,
  dport: 64,
  error: 66,
  oldstate: 68,
  newstate: 69,
  cause: 70,
  flags: 71,
  synRetrans: 72,
  synackRetrans: 73,
  ownerHow: 74,
  diagnosis: 75,
  saddr: 76,
  daddr: 92,
  cpuComm: 108,
  ownerComm: 124,
  acceptWaitUs: 140,
  listenerBacklog: 144,
  listenerMax: 146,
} as const;

/** C field name for each EventOffset key (the test maps one onto the other). */
export const EventCField: Record<keyof typeof EventOffset, string> = {
  tsNs: 'ts_ns', skaddr: 'skaddr', deltaNs: 'delta_ns', cgroupId: 'cgroup_id', cpuPid: 'cpu_pid',
  cpuTid: 'cpu_tid', ownerPid: 'owner_pid', netns: 'netns', sockIno: 'sock_ino', rttUs: 'rtt_us',
  handshakeUs: 'handshake_us', family: 'family', sport: 'sport', dport: 'dport', error: 'error',
  oldstate: 'oldstate', newstate: 'newstate', cause: 'cause', flags: 'flags', synRetrans: 'syn_retrans',
  synackRetrans: 'synack_retrans', ownerHow: 'owner_how', saddr: 'saddr', daddr: 'daddr', cpuComm: 'cpu_comm',
  ownerComm: 'owner_comm', acceptWaitUs: 'accept_wait_us', diagnosis: 'diagnosis', listenerBacklog: 'listener_backlog',
  listenerMax: 'listener_max',
};

export const COMM_LEN = 16;
export const MAX_PORTS = 16;

export const CONFIG_SIZE = 112;

export const ConfigOffset = {
  cgroup_id: 0,
  owner_pid: 8,
  netns: 12,
  state_mask: 16,
  wakeup_bytes: 20,
  family: 24,
  n_lports: 26,
  n_rports: 27,
  use_perfbuf: 28,
  accept_records: 29,
  lports: 32,
  rports: 64,
  comm: 96,
} as const;

/** enum tcptrace_flags */
export const Flag = {
  OWNER_KNOWN: 1 << 0,
  OWNER_INHERITED: 1 << 1,
  TIME_WAIT: 1 << 2,
  PREV_SEEN: 1 << 3,
  PASSIVE: 1 << 4,
  ACTIVE: 1 << 5,
  ACCEPT: 1 << 6,
  LISTENER_SHARED: 1 << 7,
} as const;

/** enum tcptrace_owner_how → the `owner` source it reports (indexed by value) */
export const OWNER_HOW = ['unknown', 'kernel', 'listener', 'accept', 'use'] as const;

/** enum tcptrace_cause, indexed by value */
export const CAUSE_NAMES = ['', 'normal', 'reset-received', 'reset-sent', 'refused', 'timeout', 'error'] as const;
export type CauseName = (typeof CAUSE_NAMES)[number];

/** enum tcptrace_handshake_diag, indexed by value: the kernel's part of a handshake diagnosis */
export const KERNEL_DIAGNOSES = ['', 'accept-queue-full', 'syn-queue-full', 'syn-cookie', 'lost-in-network', 'unknown'] as const;
export type KernelDiagnosis = (typeof KERNEL_DIAGNOSES)[number];
