// The user-space halves of owner attribution: the listener's holders before accept, and the
// owner filter that holds pre-accept events until accept() decides.
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ListenerHolders, type HolderSource, type Owner } from '../../src/enrich/listener-holders';
import { OwnerGate, ownerMatcher } from '../../src/filter/filter';
import { beforeAccept } from '../../src/enrich/listener-holders';
import { State } from '../../src/decode/states';
import { sampleEvent } from '../helpers/sample';
import type { TcpEvent } from '../../src/decode/event';

const deadPid = spawnSync('true').pid!; // exited and reaped
const live = (pid: number, comm = 'srv'): Owner => ({ pid, comm, cgroupId: 0 });

function source(holders: Owner[], inode = 7): HolderSource & { scans: number } {
  return {
    scans: 0,
    holdersOf(i: number) { this.scans++; return i === inode ? holders : []; },
    listenerInode: () => undefined,
  };
}

const listen = (pid: number) => sampleEvent({ oldState: State.CLOSE, newState: State.LISTEN, pid, sport: 80, dport: 0, netns: 1, sockIno: 7, ownerSource: 'kernel' });
const synRecv = (skaddr = 'a') => sampleEvent({ skaddr, oldState: State.LISTEN, newState: State.SYN_RECV, sport: 80, dport: 5000, netns: 1, side: 'passive', ownerSource: 'listener' });
const accept = (pid: number, skaddr = 'a') => sampleEvent({ skaddr, isAccept: true, pid, sport: 80, dport: 5000, netns: 1, side: 'passive', ownerSource: 'accept', oldState: 1, newState: 1 });

describe('listener holders', () => {
  it('never names the dead listen() caller: a scan finds the live holder', () => {
    const src = source([live(process.pid, 'daemon')]);
    const h = new ListenerHolders(src);
    h.noteListen(listen(deadPid));
    expect(h.resolve(synRecv())).toEqual({ owner: live(process.pid, 'daemon'), holders: null });
    expect(src.scans).toBe(1);
  });

  it('several holders: the live listen() caller is the master, the acceptors are listed, no scan', () => {
    const me = process.pid;
    const src = source([]);
    const h = new ListenerHolders(src);
    h.noteListen(listen(me));
    h.noteAccept(accept(process.ppid));
    const a = h.resolve(synRecv())!;
    expect(a.owner.pid).toBe(me);
    expect(a.holders).toEqual([me, process.ppid]);
    expect(src.scans).toBe(0);
  });

  it('a listener older than tcptrace: the holders a scan finds, the parent of the others first', () => {
    const h = new ListenerHolders({ holdersOf: () => [live(process.pid), live(process.ppid)], listenerInode: () => 7 });
    const a = h.resolve(synRecv())!;
    expect(a.owner.pid).toBe(process.ppid);
    expect(a.holders).toEqual([process.ppid, process.pid]);
  });

  it('unknown when every holder is gone', () => {
    const h = new ListenerHolders(source([]));
    h.noteListen(listen(deadPid));
    expect(h.resolve(synRecv())).toBeUndefined();
  });

  /** A master (our parent) and a worker (a child we kill) that has accepted, resolved once; then
   *  the worker dies. A scan takes `scanMs` and finds the master with this process (its successor). */
  async function workerDies(scanMs = 0) {
    const worker = spawn('sleep', ['30']);
    const src = {
      scans: 0,
      holdersOf() {
        this.scans++;
        for (const end = performance.now() + scanMs; performance.now() < end;);
        return [live(process.ppid), live(process.pid)];
      },
      listenerInode: () => undefined,
    };
    const h = new ListenerHolders(src);
    h.noteListen(listen(process.ppid));
    h.noteAccept(accept(worker.pid!));
    const t0 = performance.now();
    expect(h.resolve(synRecv(), t0)!.holders).toEqual([process.ppid, worker.pid]);
    worker.kill('SIGKILL');
    await new Promise((r) => worker.on('exit', r));
    return { h, t0, src };
  }

  it('a worker that died is replaced: a rescan lists the new one, never the master alone', async () => {
    const { h, t0, src } = await workerDies();
    const a = h.resolve(synRecv(), t0 + 5000)!;
    expect([a.owner.pid, a.holders]).toEqual([process.ppid, [process.ppid, process.pid]]);
    expect(src.scans).toBe(1);
  });

  it('a reused answer never lists a holder that has exited: the rescan lists its successor at once', async () => {
    const { h, t0, src } = await workerDies();
    // well within the 200 ms an answer is reused, and within a second of the listener's last scan
    h.resolve(synRecv(), t0 + 1);
    const a = h.resolve(synRecv(), t0 + 50)!;
    expect([a.owner.pid, a.holders]).toEqual([process.ppid, [process.ppid, process.pid]]);
    expect(src.scans).toBe(1);
  });

  it('a worker died while scans are paused: the survivor is listed as one of several, not alone', async () => {
    const { h, t0, src } = await workerDies(60);
    // another listener's dead listen() caller takes a 60 ms scan: the next may run 20 times that later
    h.noteListen({ ...listen(deadPid), sport: 81 });
    h.resolve({ ...synRecv('b'), sport: 81 }, t0 + 300);
    expect(h.resolve(synRecv(), t0 + 400)!.holders).toEqual([process.ppid]);
    expect(src.scans).toBe(1);
  });

  it('the kernel marks the listener shared (no accept records): one scan lists the workers, never the master alone', () => {
    const me = process.pid;
    const src = source([live(me), live(process.ppid, 'worker')]);
    const h = new ListenerHolders(src);
    h.noteListen(listen(me));
    expect(h.resolve(synRecv(), 0)).toMatchObject({ owner: { pid: me }, holders: null }); // not marked yet: no scan
    expect(src.scans).toBe(0);
    expect(h.resolve({ ...synRecv('b'), listenerShared: true }, 1000)!.holders).toEqual([me, process.ppid]);
    for (let t = 1300; t < 5000; t += 300) h.resolve({ ...synRecv('c'), listenerShared: true }, t);
    expect(src.scans).toBe(1);
  });

  it('the kernel mark without scan budget: the caller is listed as one of several, not alone', () => {
    const me = process.pid;
    const h = new ListenerHolders(source([live(me)]));
    h.noteListen(listen(me));
    (h as unknown as { nextScanAt: number }).nextScanAt = Infinity;
    expect(h.resolve({ ...synRecv(), listenerShared: true }, 0)!.holders).toEqual([me]);
  });

  it('a daemon\'s listener marked shared: the scan finds one holder, alone, and is not repeated', () => {
    const src = source([live(process.pid, 'daemon')]);
    const h = new ListenerHolders(src);
    h.noteListen(listen(deadPid)); // listened, forked and exited: its child's accept marked it
    expect(h.resolve({ ...synRecv(), listenerShared: true }, 0)).toEqual({ owner: live(process.pid, 'daemon'), holders: null });
    for (let t = 300; t < 5000; t += 300) expect(h.resolve({ ...synRecv(), listenerShared: true }, t)!.holders).toBeNull();
    expect(src.scans).toBe(1);
  });

  it('learns holders from accept records', () => {
    const h = new ListenerHolders(source([]));
    h.noteListen(listen(deadPid));
    h.noteAccept(accept(process.pid));
    expect(h.resolve(synRecv())?.owner.pid).toBe(process.pid);
  });
});

describe('owner gate (--pid/--comm before accept)', () => {
  const pre = (skaddr: string) => sampleEvent({ skaddr, side: 'passive', ownerSource: 'listener', pid: 1, oldState: State.SYN_RECV, newState: State.ESTABLISHED });
  const post = (skaddr: string, pid: number) => sampleEvent({ skaddr, side: 'passive', ownerSource: 'accept', pid, oldState: State.ESTABLISHED, newState: State.CLOSE_WAIT });
  const gate = () => new OwnerGate(ownerMatcher({ pid: 42 })!, beforeAccept);

  it('holds pre-accept events until the accept says whose they are', () => {
    const g = gate();
    const a = [synRecv('x'), pre('x')];
    expect(g.pass(a)).toEqual([]);
    const later: TcpEvent[] = [accept(42, 'x'), post('x', 42)];
    expect(g.pass(later)).toEqual([...a, later[1]]);
    expect(g.filtered).toBe(0);
  });

  it('drops them with the connection when another process accepts it', () => {
    const g = gate();
    expect(g.pass([synRecv('y'), pre('y'), accept(43, 'y'), post('y', 43)])).toEqual([]);
    expect(g.filtered).toBe(3);
  });

  it('a connection closed in the queue goes by its listener owner; close() flushes the rest', () => {
    const g = gate();
    const closed = sampleEvent({ skaddr: 'z', side: 'passive', ownerSource: 'listener', pid: 42, oldState: State.SYN_RECV, newState: State.CLOSE });
    const held = sampleEvent({ ...synRecv('z'), pid: 42 });
    expect(g.pass([held, closed])).toEqual([held, closed]);
    const w = sampleEvent({ ...synRecv('w'), pid: 42 });
    expect(g.pass([w])).toEqual([]);
    expect(g.flush()).toEqual([w]);
  });
});
