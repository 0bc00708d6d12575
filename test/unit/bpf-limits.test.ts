// Older kernels, checked statically: nothing older than 6.1 boots here, so the shipped object is
// held to what Linux 5.4 (Ubuntu 20.04) and 4.18 (RHEL 8) accept wherever the object alone shows
// it. The programs meant for them are the classic tracepoint ones (names ending in _tp) with the
// perf buffer; tp_btf needs 5.5 anyway. Versions are upstream's; README's kernel table says the same.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { hasLoop, readBpfObject, type BpfProgram } from '../helpers/bpf-object';

type Version = [number, number];
const v = (s: string): Version => s.split('.').map(Number) as Version;
const newer = (a: Version, b: Version) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

/** Helper ids (enum bpf_func_id) with the upstream kernel that introduced each. */
const HELPERS: Record<number, [string, string]> = {
  1: ['map_lookup_elem', '3.19'], 2: ['map_update_elem', '3.19'], 3: ['map_delete_elem', '3.19'],
  4: ['probe_read', '4.1'], 5: ['ktime_get_ns', '4.1'], 14: ['get_current_pid_tgid', '4.2'],
  16: ['get_current_comm', '4.2'], 25: ['perf_event_output', '4.4'], 35: ['get_current_task', '4.8'],
  80: ['get_current_cgroup_id', '4.18'],
  113: ['probe_read_kernel', '5.5'], 118: ['jiffies64', '5.5'], 130: ['ringbuf_output', '5.8'], 131: ['ringbuf_reserve', '5.8'],
  132: ['ringbuf_submit', '5.8'], 133: ['ringbuf_discard', '5.8'], 134: ['ringbuf_query', '5.8'],
  137: ['skc_to_tcp_sock', '5.9'], 158: ['get_current_task_btf', '5.11'],
};
/** Map types (enum bpf_map_type) and global data sections, with the kernel that introduced each. */
const MAP_TYPES: Record<number, [string, string]> = {
  4: ['PERF_EVENT_ARRAY', '4.3'], 6: ['PERCPU_ARRAY', '4.6'], 9: ['LRU_HASH', '4.10'], 27: ['RINGBUF', '5.8'],
};
const GLOBAL_DATA = '5.2';

/** What a classic tracepoint program may use beyond a kernel, and what makes that safe. */
const GUARDED: Record<string, string> = {
  probe_read_kernel: 'libbpf rewrites it to probe_read on kernels without it',
  get_current_task_btf: 'HAVE_HELPER, a CO-RE enum check: the branch is dead where the helper is missing',
  jiffies64: 'HAVE_HELPER as get_current_task_btf (without it a CLOSE record leaves out the chrono state in progress)',
  ringbuf_reserve: 'perf-buffer mode: cfg.use_perfbuf is read-only, the verifier prunes the branch (5.5, in 5.4.y stable)',
  ringbuf_submit: 'as ringbuf_reserve',
  ringbuf_query: 'as ringbuf_reserve',
  RINGBUF: 'the loader makes it a one-entry ARRAY where the kernel has no ring buffer',
};

/** Kernel fields the classic programs read, all present in upstream 4.18 and 5.4. */
const FIELDS_IN_4_18 = new Set([
  'trace_event_raw_inet_sock_set_state.skaddr', 'trace_event_raw_inet_sock_set_state.oldstate',
  'trace_event_raw_inet_sock_set_state.newstate', 'trace_event_raw_tcp_event_sk.skaddr',
  'trace_event_raw_tcp_event_sk_skb.skaddr', 'trace_event_raw_tcp_retransmit_synack.skaddr',
  'trace_event_raw_tcp_retransmit_synack.req',
  'sock.__sk_common', 'sock.__sk_common.skc_family', 'sock.__sk_common.skc_dport', 'sock.__sk_common.skc_state',
  'sock.sk_protocol', /* a bitfield before 5.6: read with BPF_CORE_READ_BITFIELD_PROBED */
  'sock.sk_err', 'sock.sk_socket', 'sock_common.skc_daddr', 'sock_common.skc_rcv_saddr', 'sock_common.skc_dport',
  'sock_common.skc_num', 'sock_common.skc_family', 'sock_common.skc_net.net', 'sock_common.skc_v6_daddr',
  'sock_common.skc_v6_rcv_saddr', 'net.ns.inum', 'inet_sock.inet_sport', 'tcp_sock.srtt_us',
  'socket_alloc.vfs_inode.i_ino', 'request_sock.__req_common', 'tcp_request_sock.snt_synack',
  // a connection's totals at CLOSE (bpf/conn-stats.bpf.h): 4.1 and 4.10
  'tcp_sock.bytes_acked', 'tcp_sock.bytes_received', 'tcp_sock.segs_in', 'tcp_sock.segs_out',
  'tcp_sock.total_retrans', 'tcp_sock.rtt_min.s.v', 'tcp_sock.chrono_type', 'tcp_sock.chrono_start',
  'tcp_sock.chrono_stat',
  // the accept hooks: the returned fd through the task's file table to its socket
  'task_struct.files', 'task_struct.comm', 'files_struct.fdt', 'fdtable.fd', 'fdtable.max_fds',
  'file.private_data', 'socket.sk',
  // handshake evidence (bpf/handshake.bpf.h): the listener's accept queue, the request's acked bit, the
  // cookie sysctl (an int before 5.x: read sized) and its overflow stamps (the reuseport one,
  // 5.0+, only behind a field-exists check)
  'sock.sk_drops.counter', 'sock.sk_ack_backlog', 'sock.sk_max_ack_backlog', 'sock.sk_reuseport_cb', 'sock_reuseport.synq_overflow_ts',
  'inet_connection_sock.icsk_accept_queue.rskq_defer_accept',
  'inet_request_sock.acked', 'net.ipv4.sysctl_tcp_syncookies', 'sock_common.skc_net.net', 'tcp_sock.rx_opt.ts_recent_stamp',
]);

const CORE_TYPE_EXISTS = 8;
const CORE_FIELD_EXISTS = 2;
const INSN_LIMIT_BEFORE_5_2 = 4096;

const { programs, mapTypes } = readBpfObject(path.join(__dirname, '../../bpf/tcptrace.bpf.o'));
const classic = programs.filter((p) => p.name.endsWith('_tp'));

/** Everything a program uses that `kernel` lacks and no guard covers. */
function beyond(p: BpfProgram, kernel: Version): string[] {
  const out: string[] = [];
  for (const id of p.helpers) {
    const known = HELPERS[id];
    if (!known) out.push(`helper #${id} (unknown here: add it to HELPERS with its kernel version)`);
    else if (newer(v(known[1]), kernel) && !GUARDED[known[0]]) out.push(`helper ${known[0]} (${known[1]})`);
  }
  for (const m of p.maps) {
    if (m.startsWith('.')) {
      if (newer(v(GLOBAL_DATA), kernel)) out.push(`global data ${m} (${GLOBAL_DATA})`);
      continue;
    }
    const known = MAP_TYPES[mapTypes.get(m)!];
    if (!known) out.push(`map ${m} of type ${mapTypes.get(m)} (unknown here: add it to MAP_TYPES)`);
    else if (newer(v(known[1]), kernel) && !GUARDED[known[0]]) out.push(`map ${m}: ${known[0]} (${known[1]})`);
  }
  return out;
}

describe('older kernels (static checks of bpf/tcptrace.bpf.o)', () => {
  it('finds the classic tracepoint programs and what they call', () => {
    expect(classic.map((p) => p.name).sort()).toEqual(['accept4_exit_tp', 'accept_exit_tp', 'rcv_space_tp', 'retrans_tp', 'rst_recv_tp', 'rst_sent_tp', 'set_state_tp', 'synack_retrans_tp']);
    // emit_tp; the handshake evidence's rare steps (bpf/handshake.bpf.h) out of the common path
    expect(classic.find((p) => p.name === 'set_state_tp')!.subprograms).toEqual(['emit_tp', 'note_listener_socket', 'note_cookie_child_slow']);
  });

  it.each(classic.map((p) => [p.name, p] as const))('%s fits the 4096 instructions kernels before 5.2 allow', (_n, p) => {
    expect(p.insnCount).toBeLessThanOrEqual(INSN_LIMIT_BEFORE_5_2);
  });

  it('no loops (5.3), no atomic operation but add (5.12), no 32-bit jumps (5.1) in the classic programs', () => {
    for (const p of classic) {
      const insns = p.functions.flat();
      const atomics = insns.filter((i) => (i.code & 7) === 3 && (i.code & 0xe0) === 0xc0 && i.imm !== 0);
      const jmp32 = insns.filter((i) => (i.code & 7) === 6);
      expect({ program: p.name, loops: p.functions.some(hasLoop), atomics: atomics.length, jmp32: jmp32.length })
        .toEqual({ program: p.name, loops: false, atomics: 0, jmp32: 0 });
    }
  });

  it('the loop check finds a loop', () => {
    // r0 = 0; r0 += 1; if r0 < 4 goto -2; exit
    const loop = [{ code: 0xb7, imm: 0 }, { code: 0x07, imm: 1 }, { code: 0xa5, imm: 4, off: -2 }, { code: 0x95 }]
      .map((i) => ({ dst: 0, src: 0, off: 0, imm: 0, ...i }));
    expect(hasLoop(loop)).toBe(true);
    expect(hasLoop([loop[0], loop[1], loop[3]])).toBe(false);
  });

  it('5.4: every helper and map type the classic programs use exists, or a guard covers it', () => {
    for (const p of classic) expect({ program: p.name, beyond: beyond(p, v('5.4')) }).toEqual({ program: p.name, beyond: [] });
  });

  it('4.18 (RHEL 8): only global data is beyond upstream 4.18, which RHEL 8.2+ backports', () => {
    for (const p of classic) {
      const extra = beyond(p, v('4.18')).filter((x) => !x.startsWith('global data'));
      expect({ program: p.name, beyond: extra }).toEqual({ program: p.name, beyond: [] });
    }
  });

  it('every kernel field a classic program reads exists in 4.18, or its type is checked first', () => {
    for (const p of classic) {
      const checkedTypes = new Set(p.relos.filter((r) => r.kind === CORE_TYPE_EXISTS).map((r) => r.typeName));
      // a field read only behind bpf_core_field_exists (bytes_retrans 4.19, total_rto 6.7)
      const checkedFields = new Set(p.relos.filter((r) => r.kind === CORE_FIELD_EXISTS).map((r) => `${r.typeName}.${r.path}`));
      const unknown = p.relos
        .filter((r) => r.kind <= 5 && !checkedTypes.has(r.typeName) && !checkedFields.has(`${r.typeName}.${r.path}`))
        .map((r) => `${r.typeName.replace(/___.*$/, '')}.${r.path}`) // libbpf ignores ___suffixes
        .filter((f) => !FIELDS_IN_4_18.has(f));
      expect({ program: p.name, unknown }).toEqual({ program: p.name, unknown: [] });
    }
  });

  it('the guards named above are still needed (no stale entries)', () => {
    const used = new Set<string>();
    for (const p of classic) {
      for (const id of p.helpers) used.add(HELPERS[id]?.[0]);
      for (const m of p.maps) used.add(MAP_TYPES[mapTypes.get(m)!]?.[0]);
    }
    expect(Object.keys(GUARDED).filter((g) => !used.has(g))).toEqual([]);
  });
});
