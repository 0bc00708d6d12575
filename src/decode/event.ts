import type { CauseName, KernelDiagnosis } from './layout';

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

/** Where the owner of a socket came from (docs/ATTRIBUTION.md). */
export type OwnerSource = 'kernel' | 'listener' | 'accept' | 'use' | 'proc' | 'unknown';

/** The one in-memory shape of a transition; every sink formats this. */
export interface TcpEvent {
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
  /** The task that was on the CPU (what bcc prints as C-PID / C-COMM). */
  cpuPid: number;
  cpuTid: number;
  cpuComm: string;
  family: 4 | 6;
  saddr: string;
  sport: number;
  daddr: string;
  dport: number;
  oldState: number;
  newState: number;
  /** Time spent in oldState in ns; null when the entry into it was not seen. */
  durationNs: number | null;
  netns: number;
  sockIno: number;
  rttUs: number;
  /** On ->ESTABLISHED, the handshake time in µs; 0 when unknown. */
  handshakeUs: number;
  /** errno of the last socket error (111 refused, 110 timed out), 0 if none. */
  error: number;
  /** Why the socket closed; '' unless newState is CLOSE. */
  cause: CauseName;
  /** This CLOSE hands the connection to a TIME_WAIT socket. */
  timeWait: boolean;
  side: 'active' | 'passive' | '';
  synRetrans: number;
  synackRetrans: number;
  /** Passive sockets after accept(): µs from ESTABLISHED to accept() returning it; 0 if unmeasured. */
  acceptWaitUs: number;
  /** Why the handshake was retransmitted, as the kernel showed it ('' when it was not):
   *  src/derive/handshake-diagnosis.ts turns it into the event's diagnosis. */
  kernelDiagnosis: KernelDiagnosis;
  /** With kernelDiagnosis: the listener's accept queue then (sk_ack_backlog, sk_max_ack_backlog);
   *  0/0 when not read. */
  listenerBacklog: number;
  listenerMax: number;
  /** Before accept, when several live processes hold the listener: their pids (pid is the first). */
  holders: number[] | null;
  /** Before accept: the kernel saw a process other than the listen() caller accept from this
   *  socket's listener (it is shared even if no accept record or scan has said so yet). */
  listenerShared?: boolean;
  /** The owner's cgroup path and container, set by the enrich stage (src/enrich/cgroup.ts) when an
   *  output carries them; null when unknown; absent when no stage resolved it. */
  cgroup?: CgroupInfo | null;
  /** Not a transition: the record of accept() returning this socket (Tracer emits these as 'accepts'). */
  isAccept: boolean;
}
