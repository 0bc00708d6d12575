// Options known before load → struct tcptrace_config bytes for the kernel's .rodata.
import { COMM_LEN, CONFIG_SIZE, ConfigOffset as O, MAX_PORTS } from '../decode/record.generated';
import { commBytes } from '../decode/comm';
import { State } from '../decode/states';

export interface KernelFilter {
  /** 4 or 6 */
  family?: 4 | 6;
  localPorts?: number[];
  remotePorts?: number[];
  /** owner process id */
  pid?: number;
  /** owner command name (first 15 bytes, like /proc/PID/comm) */
  comm?: string;
  /** keep only transitions into these states (numbers) */
  states?: number[];
  /** network namespace inode */
  netns?: number;
  /** cgroup v2 id (the cgroup directory's inode number) */
  cgroupId?: number;
}

export function encodeConfig(filter: KernelFilter, delivery: { perfBuffer: boolean; wakeupBytes: number; acceptRecords?: boolean; connTotals?: boolean }): Buffer {
  const buf = Buffer.alloc(CONFIG_SIZE);
  buf.writeBigUInt64LE(BigInt(filter.cgroupId ?? 0), O.cgroup_id);
  buf.writeUInt32LE(filter.pid ?? 0, O.owner_pid);
  buf.writeUInt32LE(filter.netns ?? 0, O.netns);
  let mask = 0;
  // TIME_WAIT is reached through CLOSE (time_wait set): src/filter/filter.ts keeps those.
  for (const s of filter.states ?? []) mask |= 1 << (s === State.TIME_WAIT ? State.CLOSE : s);
  buf.writeUInt32LE(mask >>> 0, O.state_mask);
  buf.writeUInt32LE(delivery.wakeupBytes, O.wakeup_bytes);
  buf.writeUInt16LE(filter.family === 4 ? 2 : filter.family === 6 ? 10 : 0, O.family);
  writePorts(buf, filter.localPorts ?? [], O.lports, O.n_lports);
  writePorts(buf, filter.remotePorts ?? [], O.rports, O.n_rports);
  buf.writeUInt8(delivery.perfBuffer ? 1 : 0, O.use_perfbuf);
  buf.writeUInt8(delivery.acceptRecords === false ? 0 : 1, O.accept_records);
  buf.writeUInt8(delivery.connTotals === false ? 0 : 1, O.conn_totals);
  if (filter.comm) commBytes(filter.comm).subarray(0, COMM_LEN - 1).copy(buf, O.comm);
  return buf;
}

function writePorts(buf: Buffer, ports: number[], at: number, countAt: number): void {
  if (ports.length > MAX_PORTS) throw new RangeError(`at most ${MAX_PORTS} ports per filter`);
  ports.forEach((p, i) => buf.writeUInt16LE(p, at + i * 2));
  buf.writeUInt8(ports.length, countAt);
}
