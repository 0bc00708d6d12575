import type { CauseName, OwnerSource } from './names';
import type { RecordFields } from './record.generated';

export type { CauseName, OwnerSource };

/** A container runtime's id for a cgroup, read from its path (src/enrich/containers.ts). */
export interface ContainerRef {
  /** the runtime the path points to: docker, containerd, cri-o, podman */
  runtime: string;
  /** 64 hex digits */
  id: string;
  /** Kubernetes pod UID, when the path is under kubepods */
  podUid?: string;
}

/** The owner's cgroup v2 path and container: the enrich stage stores it on the event. */
export interface CgroupInfo {
  /** path below the cgroup v2 root, starting with '/' */
  path: string;
  container: ContainerRef | null;
}

/**
 * The one in-memory shape of a transition; every sink formats this. The record's plain numeric
 * members (RecordFields: cpuPid, sport, rttUs, synRetrans, … and every member added to
 * struct tcptrace_event since) come from the record itself; the members below are the ones the
 * decoder shows by hand (scripts/gen-record.js, SHOWN_BY_HAND) or later stages add.
 */
/** A connection's totals: at its CLOSE from struct tcp_sock (decode/totals.ts), or so far for one
 *  still open (tcp_info via sock_diag); docs/SCHEMA.md gives each one's kernel source and unit. */
export interface ConnTotals {
  /** bytes sent and acknowledged by the peer (tcplife's TX) */
  bytesAcked: number;
  /** bytes received in order (tcplife's RX) */
  bytesReceived: number;
  bytesRetrans: number;
  segsOut: number;
  segsIn: number;
  /** segments retransmitted (tcp_info total_retrans) */
  retransSegs: number;
  /** retransmission timeouts; null where the kernel does not count them (before 6.7) */
  retransRto: number | null;
  /** smoothed RTT, µs */
  rttUs: number;
  /** minimum RTT seen, µs */
  rttMinUs: number;
  /** tcp_info's busy, rwnd-limited and sndbuf-limited times, µs; null when HZ is unknown */
  busyUs: number | null;
  rwndLimitedUs: number | null;
  sndbufLimitedUs: number | null;
  /** not a CLOSE: read from a connection still open (sock_diag), figures so far */
  open?: boolean;
}

export interface TcpEvent extends RecordFields {
  /** CLOCK_MONOTONIC nanoseconds (exact below ~104 days of uptime, then to a few ns). */
  tsNs: number;
  /** Wall-clock time, milliseconds since the epoch. */
  time: number;
  /** Kernel socket address, hex: identity of the socket across its transitions. */
  skaddr: string;
  /** Owning process (0 when unknown). */
  pid: number;
  comm: string;
  ownerSource: OwnerSource;
  cgroupId: number;
  /** The task that was on the CPU when the kernel made the change (bcc's C-COMM; cpuPid is its C-PID). */
  cpuComm: string;
  family: 4 | 6;
  saddr: string;
  daddr: string;
  oldState: number;
  newState: number;
  /** Time spent in oldState in ns; null when the entry into it was not seen. */
  durationNs: number | null;
  /** Why the socket closed; '' unless newState is CLOSE. */
  cause: CauseName;
  /** This CLOSE hands the connection to a TIME_WAIT socket. */
  timeWait: boolean;
  side: 'active' | 'passive' | '';
  /** Before accept, when several live processes hold the listener: their pids (pid is the first). */
  holders: number[] | null;
  /** The owner named had exited when the enrich stage processed this event (and the change did
   *  not run in it): its last pid and comm, marked (src/enrich/attribute.ts). */
  ownerExited?: boolean;
  /** Before accept: the kernel saw a process other than the listen() caller accept from this
   *  socket's listener (it is shared even if no accept record or scan has said so yet). */
  listenerShared?: boolean;
  /** The owner's cgroup path and container, set by the enrich stage (src/enrich/cgroup.ts) when an
   *  output carries them; null when unknown; absent when no stage resolved it. */
  cgroup?: CgroupInfo | null;
  /** Not a transition: the record of accept() returning this socket (Tracer emits these as 'accepts'). */
  isAccept: boolean;
  /** On a connection's ->CLOSE: its totals from the socket (decode/totals.ts); null on every other record. */
  totals: ConnTotals | null;
}
