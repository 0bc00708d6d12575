// The probe as TypeScript sees it: options → kernel config, attach with fallbacks,
// batches of raw records out, exact counters at close.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadBinding } from '../native/binding';
import type { LeftOutProgram, NativeError, Probe } from '../native/addon';
import { encodeConfig, type KernelFilter } from './config';
import { ensureTracefs } from './tracefs';
import { permissionMessage } from './permission';

export type AttachMode = 'tp_btf' | 'tracepoint';
export type Delivery = 'ringbuf' | 'perfbuf';

export interface ProbeOptions {
  filter?: KernelFilter;
  /** 'auto' tries tp_btf, then the classic tracepoint. */
  attach?: AttachMode | 'auto';
  /** 'auto' uses the ring buffer where the kernel has one. */
  delivery?: Delivery | 'auto';
  /** Ring buffer size in bytes (power of two, ≥ page size). */
  ringBytes?: number;
  /** Perf buffer pages per CPU (power of two). */
  perfPages?: number;
  /** Wake user space once this many bytes are queued (0 = every record). */
  wakeupBytes?: number;
  /** Drain at least this often, so a lone event shows promptly. */
  flushMs?: number;
  /** Upper bound of one batch handed to JS. */
  batchBytes?: number;
  /**
   * Bytes read from the ring but not yet handed to JS that the drain thread may hold while the
   * event loop is busy; past it, records stay in the ring (and the kernel counts what it drops).
   */
  backlogBytes?: number;
  /** Read the ring from a native thread with a scheduling boost (default), or on the event loop. */
  drain?: 'thread' | 'loop';
  /** Sockets remembered in the kernel (LRU). */
  maxSockets?: number;
  /**
   * A record per accept() (default true): the accept-queue wait as it happens, the listener's
   * holders before accept, owner filters. Without them (one ring record less per connection)
   * the wait still rides on the socket's later transitions (docs/ATTRIBUTION.md).
   */
  acceptRecords?: boolean;
  /**
   * Read each connection's totals at its CLOSE (default true): bytes, segments, retransmits, RTT
   * (TcpEvent.totals). Off, CLOSE records carry none and cost nothing more than any other.
   */
  connTotals?: boolean;
  /** Print libbpf's debug output on stderr. */
  verbose?: boolean;
  /**
   * A BTF file describing the running kernel, for kernels without /sys/kernel/btf/vmlinux (CO-RE
   * relocates against it; the classic tracepoint attaches). README: Kernels without BTF.
   */
  btf?: string;
  /**
   * Test and debug knob: helpers (e.g. 'sk_storage_get') to treat as missing from this kernel, so
   * the programs that need them are left out as on a kernel that lacks them.
   */
  pretendMissing?: readonly string[];
  /** Path of the compiled BPF object. */
  objectPath?: string;
}

export const PROBE_DEFAULTS = {
  // The drain thread keeps it near empty (13% at most in BENCHMARKS.md's storms); the ring
  // alone must only cover a stall of the whole process (~27 000 records).
  ringBytes: 4 << 20,
  perfPages: 256,
  // 1 MiB rather than 64 KiB: once that much is queued, every further event forces a wakeup
  // (an IRQ-work self-interrupt in the traced task) until the reader catches up; at storm rates
  // 64 KiB meant ~1 interrupt per 10 events and ~15% fewer connections/s (BENCHMARKS.md).
  // Capped at 1/8 of the ring below, so small rings still wake the reader early.
  wakeupBytes: 1 << 20,
  flushMs: 50,
  batchBytes: 256 << 10,
  // Costs nothing until the event loop falls behind; 64 MiB is ~440 000 events.
  backlogBytes: 64 << 20,
  maxSockets: 131072,
};

export const DEFAULT_OBJECT = path.join(__dirname, '..', '..', 'bpf', 'tcptrace.bpf.o');

/** A failure the user can act on; the CLI prints `message` alone. */
export class ProbeError extends Error {
  constructor(message: string, readonly detail = '') {
    super(message);
    this.name = 'ProbeError';
  }
}

export interface OpenedProbe {
  probe: Probe;
  attach: AttachMode;
  delivery: Delivery;
  programs: string[];
  /** Programs this kernel could not load, each with the piece it lacks. */
  leftOut: LeftOutProgram[];
  /** performance.now() when the programs were attached (events are captured from then on) */
  attachedAt: number;
}

/** A probe whose load and attach run on a native thread until finish() takes it over. */
export interface StartedProbe {
  /** Waits for the load (falling back to the next attach mode if it failed) and starts draining. */
  finish(onBatch: (records: Buffer) => void): OpenedProbe;
}

/**
 * Starts loading the BPF programs on a native thread and returns at once: the caller loads its
 * modules meanwhile (the verifier and CO-RE relocation take tens of ms). Checks that need no
 * kernel work throw here, a failed load in finish().
 */
export function startProbe(options: ProbeOptions): StartedProbe {
  const { binding, native, modes, tracefsMissing } = planProbe(options);
  const begin = (attach: AttachMode) => new binding.Probe({ ...native, attach });
  const first = modes[0] === 'tracepoint' && tracefsMissing ? undefined : begin(modes[0]);

  const finish = (onBatch: (records: Buffer) => void): OpenedProbe => {
    let lastError: unknown;
    for (const attach of modes) {
      if (attach === 'tracepoint' && tracefsMissing) { lastError = new ProbeError(tracefsMissing); continue; }
      try {
        const probe = attach === modes[0] && first ? first : begin(attach);
        probe.start(onBatch);
        const times = probe.loadTimes();
        const hrNowMs = Number(process.hrtime.bigint()) / 1e6;
        return { probe, attach, delivery: native.delivery, programs: probe.programs(), leftOut: probe.leftOut(), attachedAt: performance.now() - (hrNowMs - times.attachedMs) };
      } catch (err) {
        lastError = err;
        // No privilege is no privilege in every mode: do not mask it with a fallback's error.
        if (isPermissionError(err)) break;
      }
    }
    throw explain(lastError);
  };
  return { finish };
}

/** What startProbe gives the kernel, worked out from the options (and the machine). */
function planProbe(options: ProbeOptions) {
  const binding = loadBinding();
  const objectPath = options.objectPath ?? DEFAULT_OBJECT;
  if (!existsSync(objectPath)) throw new ProbeError(`BPF object missing: ${objectPath} (reinstall tcptrace)`);
  const delivery: Delivery =
    options.delivery && options.delivery !== 'auto' ? options.delivery : binding.ringbufSupported() ? 'ringbuf' : 'perfbuf';
  const wanted = options.attach ?? 'auto';
  if (options.btf !== undefined && !existsSync(options.btf)) throw new ProbeError(`--btf ${options.btf}: no such file`);
  // tp_btf attaches by the kernel's own BTF; a BTF file (--btf) serves CO-RE for the classic tracepoint
  const ownBtf = existsSync('/sys/kernel/btf/vmlinux');
  const modes: AttachMode[] = wanted === 'auto' ? (ownBtf && options.btf === undefined ? ['tp_btf', 'tracepoint'] : ['tracepoint']) : [wanted];
  const wakeupBytes =
    options.wakeupBytes ?? Math.min(PROBE_DEFAULTS.wakeupBytes, Math.floor((options.ringBytes ?? PROBE_DEFAULTS.ringBytes) / 8));
  const f = options.filter ?? {};
  // an owner filter (--pid/--comm/--cgroup) decides held connections by their accept records
  const ownerFiltered = f.pid !== undefined || f.comm !== undefined || f.cgroupId !== undefined;
  const acceptRecords = ownerFiltered ? true : options.acceptRecords;
  const config = encodeConfig(f, { perfBuffer: delivery === 'perfbuf', wakeupBytes, acceptRecords, connTotals: options.connTotals });

  // Classic tracepoints need tracefs in every mode: the accept hooks (syscalls:sys_exit_accept*)
  // are classic ones even under tp_btf, and are skipped where tracefs cannot be mounted.
  const tracefsMissing = ensureTracefs();
  const native = {
    objectPath,
    delivery,
    config,
    ringBytes: options.ringBytes ?? PROBE_DEFAULTS.ringBytes,
    perfPages: options.perfPages ?? PROBE_DEFAULTS.perfPages,
    maxSockets: options.maxSockets ?? PROBE_DEFAULTS.maxSockets,
    flushMs: options.flushMs ?? PROBE_DEFAULTS.flushMs,
    batchBytes: options.batchBytes ?? PROBE_DEFAULTS.batchBytes,
    backlogBytes: options.backlogBytes ?? PROBE_DEFAULTS.backlogBytes,
    drainThread: (options.drain ?? 'thread') === 'thread',
    drainBoost: true,
    verbose: options.verbose ?? false,
    btfPath: options.btf,
    pretendMissing: options.pretendMissing,
  };
  return { binding, native, modes, tracefsMissing };
}

export function openProbe(options: ProbeOptions, onBatch: (records: Buffer) => void): OpenedProbe {
  return startProbe(options).finish(onBatch);
}

/** Which owner mechanisms this kernel gave us (docs/ATTRIBUTION.md), for the start-up line. */
export function ownerHooks(programs: string[]): string {
  const has = (name: string) => programs.includes(name);
  const accept = has('accept4_exit_tp') || has('accept_exit_tp') ? 'accept' : 'no accept hook';
  const use = has('recv_length_btf') && has('send_length_btf') ? 'send/recv' : has('rcv_space_btf') || has('rcv_space_tp') ? 'recv' : 'no send/recv hook';
  return `owners from ${accept}, ${use}`;
}

/** The start line's note of what this kernel could not give ('' when nothing is missing). */
export function leftOutText(leftOut: LeftOutProgram[]): string {
  const lost = leftOut.filter((l) => l.feature);
  const text = [...new Set(lost.map((l) => `${l.feature} (no ${l.missing})`))];
  return text.length ? `; without ${text.join(', ')}` : '';
}

function isPermissionError(err: unknown): boolean {
  const e = err as Partial<NativeError>;
  const verifierRejected = (e.libbpfLog ?? '').includes('BEGIN PROG LOAD LOG');
  return (e.errno === 1 || e.errno === 13) && !verifierRejected;
}

/** Turns a libbpf failure into one line a person can act on. */
function explain(err: unknown): Error {
  if (err instanceof ProbeError) return err;
  const e = err as Partial<NativeError>;
  const log = e.libbpfLog ?? '';
  if (isPermissionError(err)) {
    return new ProbeError(permissionMessage(), log);
  }
  if (log.includes('BEGIN PROG LOAD LOG')) {
    return new ProbeError('the kernel verifier rejected the BPF program (run with --verbose for its log, and report it)', log);
  }
  if (/^tp_btf needs/.test(e.message ?? '')) return new ProbeError(`--attach ${e.message}`, log);
  if (/no BTF|BTF is required|vmlinux BTF|failed to find valid kernel BTF/i.test(log + (e.message ?? ''))) {
    return new ProbeError('kernel BTF not found (/sys/kernel/btf/vmlinux): give tcptrace one with --btf FILE (README: Kernels without BTF)', log);
  }
  if (e.errno === 2 /* ENOENT */ && /attach/.test(e.message ?? '')) {
    return new ProbeError('tracepoint sock:inet_sock_set_state not found: tcptrace needs Linux 4.16 or newer', log);
  }
  return new ProbeError(e.message ?? String(err), log);
}

export type { LeftOutProgram, NativeCounters, NativeDelivery } from '../native/addon';
