// The handshake diagnosis vocabulary (src/derive/handshake-diagnosis.ts), its per-listener book
// and the pressure sampler with a scripted sock_diag reader (the kernel's side is
// test/kernel/handshake.test.ts).
import { statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { HandshakeDiag, HandshakeEvidence } from '../../src/decode/record.generated';
import { State } from '../../src/decode/states';
import { diagnose, diagnosisJson, SLOW_ACCEPT_MS } from '../../src/derive/handshake-diagnosis';
import { HandshakeBook, finalDiagnosis } from '../../src/derive/handshake-book';
import { ListenerPressure, QUIET_MS, SAMPLE_MS, type ListenQueue } from '../../src/derive/listener-pressure';
import { handshakeLines } from '../../src/sinks/summary/handshakes';
import { sampleEvent } from '../helpers/sample';

const established = (over = {}) => sampleEvent({ oldState: State.SYN_SENT, newState: State.ESTABLISHED, side: 'active', dport: 8080, ...over });
const closed = (over = {}) => sampleEvent({ oldState: State.ESTABLISHED, newState: State.CLOSE, cause: 'normal', ...over });

describe('diagnose', () => {
  it('says nothing of a handshake without retransmits, or of other transitions', () => {
    expect(diagnose(established())).toBeNull();
    expect(diagnose(closed())).toBeNull();
    expect(diagnose(sampleEvent({ oldState: State.ESTABLISHED, newState: State.FIN_WAIT1, diagnosis: HandshakeDiag.LOST }))).toBeNull();
  });

  it('gives the kernel verdict with its evidence, the listener port and the queue fill, saying when it was read', () => {
    const e = established({ diagnosis: HandshakeDiag.ACCEPT_QUEUE_FULL, diagEvidence: HandshakeEvidence.LISTENER_DROP, listenerBacklog: 129, listenerMax: 128, synRetrans: 2 });
    expect(diagnose(e)).toEqual({ why: 'accept-queue-full', listenerPort: 8080, acceptQueue: '129/128', acceptQueueRead: 'syn-retransmit', evidence: 'listener-drop-count', proven: false });
    expect(JSON.stringify(diagnosisJson(diagnose(e)))).toBe('{"why":"accept-queue-full","proven":false,"evidence":"listener-drop-count","listener_port":8080,"accept_queue":"129/128","accept_queue_read":"syn-retransmit"}');
    expect(String(diagnosisJson(diagnose(e)))).toBe('accept-queue-full?(129/128 :8080)');
    // the kernel's own mark on the request at the drop: proof
    const acked = sampleEvent({ oldState: State.SYN_RECV, newState: State.ESTABLISHED, side: 'passive', sport: 443, dport: 50000, diagnosis: HandshakeDiag.ACCEPT_QUEUE_FULL, diagEvidence: HandshakeEvidence.REQUEST_ACKED, listenerBacklog: 0, listenerMax: 1 });
    expect(String(diagnosisJson(diagnose(acked)))).toBe('accept-queue-full(0/1 :443)');
    expect(diagnose(acked)).toMatchObject({ proven: true, evidence: 'request-acked', acceptQueueRead: 'synack-retransmit' });
    const passive = sampleEvent({ oldState: State.SYN_RECV, newState: State.ESTABLISHED, side: 'passive', sport: 443, dport: 50000, diagnosis: HandshakeDiag.SYN_COOKIE, diagEvidence: HandshakeEvidence.COOKIE_CHILD });
    expect(diagnose(passive)).toEqual({ why: 'syn-cookie', listenerPort: 443, acceptQueue: null, acceptQueueRead: null, evidence: 'cookie-child', proven: true });
    expect(diagnose(established({ diagnosis: HandshakeDiag.SYN_DROPPED, diagEvidence: HandshakeEvidence.LISTENER_DROP, synRetrans: 1 }))).toMatchObject({ why: 'syn-dropped', proven: false });
    expect(diagnose(established({ diagnosis: HandshakeDiag.UNKNOWN, synRetrans: 1 }))!.why).toBe('unknown');
  });

  it('slow to accept only at CLOSE, over the threshold, and never over a kernel verdict', () => {
    const wait = (SLOW_ACCEPT_MS + 1) * 1000;
    expect(diagnose(closed({ side: 'passive', acceptWaitUs: wait, sport: 80 }))).toMatchObject({ why: 'slow-accept', listenerPort: 80 });
    expect(diagnose(closed({ side: 'passive', acceptWaitUs: SLOW_ACCEPT_MS * 1000 }))).toBeNull();
    expect(diagnose(closed({ side: 'passive', acceptWaitUs: wait, diagnosis: HandshakeDiag.LOST }))!.why).toBe('lost-in-network');
  });

  it('keeps the refused, timeout and reset causes of a handshake that never completed', () => {
    const failed = (cause: 'refused' | 'timeout' | 'reset-received') => diagnose(sampleEvent({ oldState: State.SYN_SENT, newState: State.CLOSE, side: 'active', cause }));
    expect([failed('refused')!.why, failed('timeout')!.why, failed('reset-received')!.why]).toEqual(['refused', 'timeout', 'reset']);
  });
});

describe('HandshakeBook', () => {
  it('counts each connection once, by listener and diagnosis', () => {
    const book = new HandshakeBook();
    const a = { skaddr: 'a', diagnosis: HandshakeDiag.ACCEPT_QUEUE_FULL, listenerBacklog: 2, listenerMax: 1, synRetrans: 3 };
    book.observe([established({ ...a, handshakeUs: 3_000_000 }), closed({ ...a, side: 'active', dport: 8080 })]);
    book.observe([sampleEvent({ skaddr: 'b', oldState: State.SYN_SENT, newState: State.CLOSE, side: 'active', dport: 8080, cause: 'timeout', synRetrans: 6, diagnosis: HandshakeDiag.UNKNOWN })]);
    const { rows } = book.snapshot();
    expect(rows.map((r) => [r.port, r.why, r.connections, r.retransmits, r.worstQueue, r.maxHandshakeMs])).toEqual([
      [8080, 'accept-queue-full', 1, 3, '2/1', 3000],
      [8080, 'unknown', 1, 6, null, null],
    ]);
    expect(finalDiagnosis(closed({ ...a, side: 'active' }))).toBeNull(); // counted at ESTABLISHED
    expect(handshakeLines(book.snapshot(), 4026531840)[2]).toMatch(/^ {2}:8080 +accept-queue-full +1 +3 +3000 +- +2\/1$/);
  });
});

describe('ListenerPressure', () => {
  let clock = 0;
  const own = statSync('/proc/self/ns/net').ino;
  const sampler = (queues: () => ListenQueue[] | string) => new ListenerPressure(() => queues(), () => clock);
  let p: ListenerPressure | undefined;
  afterEach(() => p?.stop());

  it('samples only listeners under pressure, keeps peak, time full and drops, and stops when quiet', () => {
    let backlog = 5;
    let drops = 100;
    let reads = 0;
    p = sampler(() => (reads++, [{ port: 8080, family: 4, backlog, limit: 4, drops }, { port: 9090, family: 4, backlog: 50, limit: 4, drops: 0 }]));
    expect(reads).toBe(0);
    p.observe([closed({ side: 'passive', sport: 8080, netns: own, acceptWaitUs: 500_000 })]); // slow-accept: pressure
    expect(reads).toBe(1);
    clock += SAMPLE_MS; backlog = 7; drops = 110; p.sample();
    clock += QUIET_MS + 1; backlog = 1; p.sample();
    const [row] = p.rows();
    expect(row).toMatchObject({ port: 8080, fill: 1, limit: 4, peak: 7, fullMs: 2 * SAMPLE_MS, drops: 10, sampling: false });
    expect(row.series.map((s) => s[1])).toEqual([5, 7, 1]);
    expect(p.rows().some((r) => r.port === 9090)).toBe(false);
    p.sample(); // nothing under pressure: no read
    expect(reads).toBe(3);
  });

  it('says why a listener could not be read', () => {
    p = sampler(() => 'setns: Operation not permitted');
    p.press(own, 80);
    expect(p.rows()[0]).toMatchObject({ error: 'setns: Operation not permitted', sampling: false });
  });
});
