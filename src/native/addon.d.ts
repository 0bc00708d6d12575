// Types of the addon built from src/native/probe.cc (build/Release/tcptrace.node).

export interface NativeProbeOptions {
  objectPath: string;
  attach: 'tp_btf' | 'tracepoint';
  delivery: 'ringbuf' | 'perfbuf';
  /** struct tcptrace_config, encoded by src/config.ts */
  config: Buffer;
  ringBytes: number;
  perfPages: number;
  maxSockets: number;
  flushMs: number;
  batchBytes: number;
  verbose: boolean;
}

export interface NativeCounters {
  seen: number;
  dropped: number;
  /** perf buffer mode: samples the kernel reported lost (equals dropped) */
  perfLost: number;
  /** state changes the kernel skipped because our program was already running on that CPU */
  missed: number;
}

export declare class Probe {
  constructor(options: NativeProbeOptions, onBatch: (records: Buffer) => void);
  counters(): NativeCounters;
  /** Detaches, delivers what is still queued (synchronously), frees; returns final counters. */
  close(): NativeCounters;
  /** Names of the BPF programs that were loaded. */
  programs(): string[];
}

export declare function ringbufSupported(): boolean;
/** Listening TCP sockets of this network namespace via sock_diag; null if unavailable. */
export declare function listeningSockets(): { port: number; inode: number }[] | null;
export declare const libbpfVersion: string;

/** Error thrown by the Probe constructor. */
export interface NativeError extends Error {
  libbpfLog: string;
  errno: number;
}
