// What a sink may know of the running tracer: its counters, how it attached and how it
// delivers. Sinks get this, never the Tracer itself (the Tracer is one): as a snapshot on each
// tick and at the end (StatusReport), or live where a reader asks when it likes (a scrape).
import type { NativeDelivery } from './native/addon';
import type { AttachMode, Delivery } from './probe/probe';
import { VERSION } from './util/version';

export interface Counters {
  /** Events that passed the kernel filters. */
  seen: number;
  /** Events handed to listeners. */
  delivered: number;
  /** Events the kernel passed because their owner was unknown there, then dropped here by
   *  the owner filter (pid/comm/cgroup) once user space attributed them. */
  filtered: number;
  /** Events the kernel buffer had no room for (seen = delivered + filtered + lost once closed). */
  lost: number;
  /** Records of accept() returning a socket, delivered as 'accepts' (not transitions, not in seen). */
  accepts: number;
  /** Accept records the kernel buffer had no room for. */
  acceptsLost: number;
  /** State changes the kernel did not run the program for (BPF recursion on one CPU, or hidden
   *  below); not in seen. */
  missed: number;
  /** State changes the kernel skipped the handler for that the nested handler took (in seen). */
  nested: number;
  /** Of missed: state changes made while PID 1 was the current task, on a kernel that runs no BPF
   *  program then (bpf/hidden.bpf.h); 0 elsewhere. */
  hidden: number;
}

export interface TracerStatus {
  readonly attach: AttachMode;
  readonly delivery: Delivery;
  counters(): Counters;
  /** How close delivery came to loss (ring high-water mark, drain thread). */
  deliveryStats(): NativeDelivery;
  /** A replay: the trace's wall-clock time now (ms); absent live, where it is the clock's. */
  traceTime?(): number;
}

/** The tracer's counters and facts at one moment: what the pipeline gives a sink's tick() and end(). */
export interface StatusReport {
  readonly version: string;
  readonly attach: AttachMode;
  readonly delivery: Delivery;
  readonly counters: Counters;
  readonly deliveryStats: NativeDelivery;
  /** A replay: the trace's wall-clock time (ms) at this report. */
  readonly traceTime?: number;
}

/** Only the status of a tracer: what the sinks are given in its place (they cannot reach the Tracer through it). */
export function statusOnly(tracer: TracerStatus): TracerStatus {
  const status: TracerStatus = { attach: tracer.attach, delivery: tracer.delivery, counters: () => tracer.counters(), deliveryStats: () => tracer.deliveryStats() };
  if (tracer.traceTime) status.traceTime = () => tracer.traceTime!();
  return status;
}

export function statusReport(tracer: TracerStatus): StatusReport {
  const report = { version: VERSION, attach: tracer.attach, delivery: tracer.delivery, counters: tracer.counters(), deliveryStats: tracer.deliveryStats() };
  return tracer.traceTime ? { ...report, traceTime: tracer.traceTime() } : report;
}
