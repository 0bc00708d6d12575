// Records written by C through bpf/tcptrace.h, decoded by src/decode/decode.ts.
import { describe, expect, it } from 'vitest';
import { Clock, decodeBatch } from '../../src/decode/decode';
import { formatIPv6 } from '../../src/decode/address';
import { runC } from '../helpers/cc';

const records = runC(`
  struct tcptrace_event e[3];
  memset(e, 0, sizeof(e));
  e[0].ts_ns = 12345678901234ULL;
  e[0].skaddr = 0xffff888102e8ca00ULL;
  e[0].delta_ns = 1500000;
  e[0].cgroup_id = 4242;
  e[0].cpu_pid = 7; e[0].cpu_tid = 8; e[0].owner_pid = 4321; e[0].netns = 4026531840u;
  e[0].sock_ino = 99; e[0].rtt_us = 55; e[0].handshake_us = 1234;
  e[0].family = 2; e[0].sport = 40000; e[0].dport = 443; e[0].error = 111;
  e[0].oldstate = 2; e[0].newstate = 7; e[0].cause = TCPTRACE_CAUSE_REFUSED;
  e[0].flags = TCPTRACE_F_OWNER_KNOWN | TCPTRACE_F_PREV_SEEN | TCPTRACE_F_ACTIVE;
  e[0].syn_retrans = 2; e[0].synack_retrans = 0;
  e[0].owner_how = TCPTRACE_OWNER_SYSCALL; e[0].accept_wait_us = 300123;
  e[0].diagnosis = TCPTRACE_HS_ACCEPT_QUEUE_FULL; e[0].listener_backlog = 129; e[0].listener_max = 128;
  inet_pton(AF_INET, "127.0.0.1", e[0].saddr);
  inet_pton(AF_INET, "10.1.2.3", e[0].daddr);
  strcpy(e[0].cpu_comm, "swapper/1");
  strcpy(e[0].owner_comm, "curl");
  e[1].family = 10; e[1].oldstate = 5; e[1].newstate = 7; e[1].cause = TCPTRACE_CAUSE_NORMAL;
  e[1].flags = TCPTRACE_F_TIME_WAIT | TCPTRACE_F_PASSIVE | TCPTRACE_F_ACCEPT | TCPTRACE_F_OWNER_KNOWN;
  e[1].owner_how = TCPTRACE_OWNER_USE;
  e[2].family = 2; e[2].oldstate = 10; e[2].newstate = 3; e[2].owner_how = TCPTRACE_OWNER_LISTENER;
  e[2].flags = TCPTRACE_F_OWNER_KNOWN | TCPTRACE_F_OWNER_INHERITED | TCPTRACE_F_LISTENER_SHARED | TCPTRACE_F_PASSIVE;
  inet_pton(AF_INET6, "2001:db8::1", e[1].saddr);
  inet_pton(AF_INET6, "::ffff:192.0.2.7", e[1].daddr);
  strcpy(e[1].cpu_comm, "0123456789abcdef"); /* 16 bytes: no terminator */
  fwrite(e, sizeof(e), 1, stdout);
`);

describe('decodeBatch', () => {
  const clock = new Clock();
  const [a, b, c] = decodeBatch(records, clock);

  it('decodes every field of a C-written record', () => {
    expect(a).toMatchObject({
      tsNs: 12345678901234,
      skaddr: 'ffff888102e8ca00',
      durationNs: 1500000,
      cgroupId: 4242,
      cpuPid: 7,
      cpuTid: 8,
      pid: 4321,
      comm: 'curl',
      ownerSource: 'kernel',
      cpuComm: 'swapper/1',
      netns: 4026531840,
      sockIno: 99,
      rttUs: 55,
      handshakeUs: 1234,
      family: 4,
      saddr: '127.0.0.1',
      sport: 40000,
      daddr: '10.1.2.3',
      dport: 443,
      error: 111,
      oldState: 2,
      newState: 7,
      cause: 'refused',
      side: 'active',
      synRetrans: 2,
      timeWait: false,
      acceptWaitUs: 300123,
      diagnosis: 1,
      listenerBacklog: 129,
      listenerMax: 128,
      isAccept: false,
      listenerShared: false,
    });
    expect(a.time).toBeCloseTo(clock.offsetMs + 12345678.901234, 3);
  });

  it('handles IPv6, v4-mapped, unknown owners and full-length comm', () => {
    expect(b).toMatchObject({
      family: 6,
      saddr: '2001:db8::1',
      daddr: '::ffff:192.0.2.7',
      ownerSource: 'use',
      isAccept: true,
      acceptWaitUs: 0,
      diagnosis: 0,
      durationNs: null,
      cpuComm: '0123456789abcdef',
      timeWait: true,
      side: 'passive',
      cause: 'normal',
    });
  });

  it('a child of a listener the kernel found shared', () => {
    expect(c).toMatchObject({ ownerSource: 'listener', side: 'passive', listenerShared: true });
  });

  it('ignores a trailing partial record', () => {
    expect(decodeBatch(records.subarray(0, records.length - 1), clock)).toHaveLength(2);
  });
});

describe('formatIPv6', () => {
  const cases: [string, string][] = [
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010db8000100000000000000000000', '2001:db8:1::'],
    ['fe800000000000000000000000000000', 'fe80::'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['00000000000000000000ffffc0000207', '::ffff:192.0.2.7'],
  ];
  it.each(cases)('%s → %s', (hex, text) => {
    expect(formatIPv6(Buffer.from(hex, 'hex'), 0)).toBe(text);
  });
});
