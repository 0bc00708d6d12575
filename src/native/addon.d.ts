// Types of the addon built from src/native/probe.cc (build/Release/tcptrace.node).

export interface NativeProbeOptions {
  objectPath: string;
  attach: 'tp_btf' | 'tracepoint';
  delivery: 'ringbuf' | 'perfbuf';
  /** struct tcptrace_config, encoded by src/probe/config.ts */
  config: Buffer;
  ringBytes: number;
  perfPages: number;
  maxSockets: number;
  flushMs: number;
  batchBytes: number;
  /** Read the ring from a native thread (else on the event loop); perf buffers always use the loop. */
  drainThread: boolean;
  /** Ask for SCHED_FIFO 1 (else nice -20) for the drain thread where permitted. */
  drainBoost: boolean;
  /** Bytes the drain thread may hold for JS before it leaves records in the ring. */
  backlogBytes: number;
  verbose: boolean;
  /** kernel BTF file for CO-RE (libbpf's btf_custom_path) */
  btfPath?: string;
  /** helpers to treat as missing (a test knob) */
  pretendMissing?: readonly string[];
}

/** A program this kernel could not load, and the piece it lacks. */
export interface LeftOutProgram {
  program: string;
  /** what went with it ('' when another program stands in) */
  feature: string;
  /** the piece this kernel lacks */
  missing: string;
}

/** How close delivery came to loss. */
export interface NativeDelivery {
  /** Ring buffer data size and the most bytes ever queued in it (ring buffer mode). */
  ringBytes?: number;
  ringPeakBytes?: number;
  /** Longest interval between two reads of the kernel buffer. */
  maxGapMs: number;
  /** Whether a native thread reads the ring. */
  thread: boolean;
  /** Drain thread only: peak bytes read but not yet handed to JS, its limit, times it was reached. */
  backlogPeakBytes?: number;
  backlogLimitBytes?: number;
  backlogFull?: number;
  /** Drain thread only: "SCHED_FIFO 1", "nice -20" or "normal priority". */
  priority?: string;
}

export interface NativeCounters {
  seen: number;
  dropped: number;
  /** accept records the buffer had no room for (counted apart from transitions) */
  acceptsLost: number;
  /** state changes the kernel ran no program of ours for: busy on that CPU, or hidden (below) */
  missed: number;
  /** State changes the handler was busy for that the nested handler took (bpf/nested.bpf.h): in seen. */
  nested: number;
  /** Of missed: made while PID 1 was current, on a kernel that runs no BPF program then (bpf/hidden.bpf.h). */
  hidden: number;
}

export declare class Probe {
  /** With onBatch: loaded, attached and draining on return (or throws NativeError). */
  constructor(options: NativeProbeOptions, onBatch: (records: Buffer) => void);
  /** Without: the load and attach run on a native thread until start(). */
  constructor(options: NativeProbeOptions);
  /** Waits for the load, then drains into onBatch; throws NativeError if the load failed. */
  start(onBatch: (records: Buffer) => void): void;
  /** CLOCK_MONOTONIC milliseconds (process.hrtime's clock): load began, programs attached. */
  loadTimes(): { startedMs: number; attachedMs: number };
  /** null, or this kernel runs no BPF program while PID 1 is current; uncounted: why the changes
   *  it hides cannot be counted ('' when they are, in counters().hidden). */
  pid1Hiding(): { uncounted: string } | null;
  counters(): NativeCounters;
  /** Detaches, delivers what is still queued (synchronously), frees; returns final counters. */
  close(): NativeCounters;
  /** Delivery figures (still valid after close()). */
  delivery(): NativeDelivery;
  /** Names of the BPF programs that were loaded. */
  programs(): string[];
  /** Programs left out before the load, with what the kernel lacks for each. */
  leftOut(): LeftOutProgram[];
}

export declare function ringbufSupported(): boolean;
/** Listening TCP sockets of this network namespace via sock_diag; null if unavailable. */
export declare function listeningSockets(netnsPath?: string): { port: number; inode: number }[] | null;
/** One open connection and its figures so far (struct tcp_info, as `ss -ti`); null: the kernel's
 *  tcp_info is too old to carry that field. */
export interface NativeOpenConnection {
  state: number;
  family: 4 | 6;
  sport: number;
  dport: number;
  /** 16 bytes, IPv4 in the first 4 */
  saddr: Buffer;
  daddr: Buffer;
  inode: number;
  bytesAcked: number | null;
  bytesReceived: number | null;
  bytesRetrans: number | null;
  segsOut: number | null;
  segsIn: number | null;
  retransSegs: number | null;
  retransRto: number | null;
  rttUs: number | null;
  rttMinUs: number | null;
  busyUs: number | null;
  rwndLimitedUs: number | null;
  sndbufLimitedUs: number | null;
}
/** The open TCP connections of a network namespace ('' or absent: ours) with tcp_info (sock_diag). */
export declare function connectionTotals(request?: { netnsPath?: string; family?: 0 | 4 | 6 }):
  { connections: NativeOpenConnection[]; error: string | null };
/** A listening socket's accept queue (fill and limit) and its drop counter, via sock_diag. */
export interface ListenQueue { port: number; family: 4 | 6; backlog: number; limit: number; drops: number }
/** The listeners of the namespace at `netnsPath` ('' = ours), or why they could not be read. */
export declare function listenQueues(netnsPath: string): ListenQueue[] | string;
export interface CensusRequest {
  /** a path that opens the network namespace (/proc/PID/ns/net); '' or absent: our own */
  netnsPath?: string;
  /** bit per TCP state number */
  states: number;
  /** also list the sockets other than TIME_WAIT (40 bytes each, see src/native/sockdiag.h) */
  tuples?: boolean;
  family?: 0 | 4 | 6;
  localPorts?: number[];
  remotePorts?: number[];
}

export interface CensusResult {
  /** sockets by state number (0..15) */
  counts: number[];
  tuples: Buffer;
  /** CLOCK_MONOTONIC ns around the dump (the clock of event tsNs) */
  startNs: number;
  endNs: number;
  attempts: number;
  /** why the dump failed (then the counts are not to be used) */
  error: string | null;
}

/** TCP sockets by state through sock_diag, on the calling thread. */
export declare function socketCensus(request: CensusRequest): CensusResult;
/** The same on a worker thread. */
export declare function socketCensusAsync(request: CensusRequest): Promise<CensusResult>;
/** Where tracefs may be mounted, the usual mount point first. */
export declare const tracefsRoots: readonly string[];

/** Error thrown by the Probe constructor (with onBatch) or by start(). */
export interface NativeError extends Error {
  libbpfLog: string;
  errno: number;
}

export interface DropRequest {
  /** capability numbers every thread keeps (permitted and effective; the bounding set too) */
  keep: number[];
  /** -Z: become this user (all threads, through glibc) */
  uid?: number;
  gid?: number;
  groups?: number[];
  /** a uid held for a moment when a thread cannot be reached otherwise (privileges.cc) */
  parkUid: number;
  /** deny the syscalls a running tracer never makes, in every thread (TSYNC) */
  seccomp: boolean;
}

/** Drops privileges in every thread of the process (privileges.cc); throws with what failed. */
export declare function dropPrivileges(request: DropRequest): {
  /** threads that block the signal the drop is asked with */
  unreached: number[];
  /** they kept their capabilities: the uid could not change (no CAP_SETUID) */
  unreachedKeep: boolean;
};
