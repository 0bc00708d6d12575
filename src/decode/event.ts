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
}
