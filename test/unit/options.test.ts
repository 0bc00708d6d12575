import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../src/command/options';

describe('option parsing', () => {
  it('defaults', () => {
    expect(parseArgs([])).toMatchObject({ format: 'table', time: 'none', wide: false, filter: {}, attach: 'auto', perfBuffer: false });
  });

  it('bcc flags map onto kernel filters', () => {
    const p = parseArgs(['-T', '-w', '-L', '80,443', '-D', '5432', '-6', '-p', '123', '--comm', 'nginx', '--state', 'established,SYN-SENT,CLOSE']);
    expect(p).toMatchObject({ time: 'clock', wide: true });
    expect(p.filter).toEqual({ localPorts: [80, 443], remotePorts: [5432], family: 6, pid: 123, comm: 'nginx', states: [1, 2, 7] });
  });

  it('a list option given twice adds to the list (not only the last one)', () => {
    const p = parseArgs(['-L', '80', '-L', '443,8443', '-D', '53', '-D', '5353', '--state', 'CLOSE', '--state', 'LISTEN']);
    expect(p.filter).toMatchObject({ localPorts: [80, 443, 8443], remotePorts: [53, 5353], states: [7, 10] });
    expect(parseArgs(['--listen', '8080', '--allow-host', 'a.example', '--allow-host', 'b.example']).allowHosts).toEqual(['a.example', 'b.example']);
    expect(() => parseArgs(['-L', '80', '-L', ''])).toThrow(/--localport needs a comma-separated list without empty items/);
  });

  it('formats, duration and delivery', () => {
    expect(parseArgs(['-s', '-t'])).toMatchObject({ format: 'csv', time: 'relative' });
    expect(parseArgs(['--json', '-d', '2.5'])).toMatchObject({ format: 'json', durationSec: 2.5 });
    expect(parseArgs(['-d', '2147483']).durationSec).toBe(2147483);
    expect(parseArgs(['-d', '.5']).durationSec).toBe(0.5);
    expect(parseArgs(['-d', '1e3']).durationSec).toBe(1000);
    expect(parseArgs(['--otlp', 'http://127.0.0.1:4318', '--otlp-interval', '0.001']).otlp?.intervalMs).toBe(1);
    expect(parseArgs(['--wakeup-bytes', '4294967295']).wakeupBytes).toBe(4294967295);
    expect(parseArgs(['--perf-buffer', '--ring-size', '8M', '--attach', 'tracepoint'])).toMatchObject({
      perfBuffer: true, ringBytes: 8 << 20, attach: 'tracepoint',
    });
  });

  it('ring size: 4 MiB for every output, the JSON sinks included (the drain thread absorbs their pace)', () => {
    for (const args of [[], ['-s'], ['-q'], ['--json'], ['-q', '--listen', '127.0.0.1:9999'], ['-Y'], ['--summary', '--json']]) {
      expect(parseArgs(args).ringBytes).toBe(4 << 20);
    }
    expect(parseArgs(['--json', '--ring-size', '2M']).ringBytes).toBe(2 << 20);
  });

  const bad: [string[], RegExp][] = [
    [['-L', '80,http'], /bad port 'http' in --localport/],
    [['-D', '70000'], /bad port '70000'/],
    [['--state', 'OPEN'], /unknown state 'OPEN'.*ESTABLISHED/],
    [['--bogus'], /unknown option '--bogus'/],
    [['-s', '-j'], /choose one of --csv and --json/],
    [['-4', '-6'], /choose one of -4 and -6/],
    [['-p', 'abc'], /bad value 'abc' for --pid/],
    [['--ring-size', '3000'], /power of two/],
    [['--attach', 'kprobe'], /Allowed choices/],
    [['-d', '-1'], /--duration|unknown option/],
    // fail closed: an empty list never means "everything"
    [['--state', ''], /--state needs a comma-separated list without empty items/],
    [['--state', 'CLOSE,'], /--state needs a comma-separated list/],
    [['-L', '80,,81'], /--localport needs a comma-separated list without empty items/],
    [['-L', '80,'], /--localport needs/],
    [['-L', ''], /--localport needs/],
    [['-D', ',443'], /--remoteport needs/],
    [['--metrics', '9100', '--metrics-ports', '80,'], /--metrics-ports needs/],
    [['--listen', '8080', '--allow-host', 'a.example,'], /--allow-host needs/],
    [['--allow-host', 'a.example'], /--allow-host needs --listen or --metrics/],
    [['--journal-socket', '/tmp/j'], /--journal-socket needs -Y\/--journal/],
    [['--listen', '8080', '--token', 'short'], /--token needs 8 to 256 printable characters/],
    [['--listen', '8080', '--token', 'has a space'], /--token needs 8 to 256/],
    [['--metrics-without-token'], /need --listen/],
    // timers: Node fires one longer than 2^31 - 1 ms at once, which would stop a long -d at the start
    [['-d', '3000000'], /bad value '3000000' for --duration: .*up to 2147483/],
    [['--summary', '--interval', '2147484'], /bad value '2147484' for --interval/],
    [['-d', '0x10'], /bad value '0x10' for --duration/],
    [['-d', ''], /bad value '' for --duration/],
    [['--otlp', 'http://127.0.0.1:4318', '--otlp-interval', '0.0001'], /bad value '0.0001' for --otlp-interval: .*from 0.001/],
    [['--otlp', 'http://127.0.0.1:4318', '--otlp-interval', '1e12'], /bad value '1e12' for --otlp-interval/],
    [['--wakeup-bytes', '5G'], /bad value '5G' for --wakeup-bytes: use at most 4G - 1 bytes/],
  ];
  it.each(bad)('%j is a usage error', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  it('TCPTRACE_TOKEN follows the same rule as --token; --token wins', () => {
    for (const bad of ['x', '', '1234567', 'with space 1']) {
      expect(() => parseArgs(['--listen', '8080'], undefined, { TCPTRACE_TOKEN: bad })).toThrow(/^TCPTRACE_TOKEN needs 8 to 256 printable characters/);
    }
    expect(parseArgs(['--listen', '8080'], undefined, { TCPTRACE_TOKEN: 'good-token' }).token).toBe('good-token');
    expect(parseArgs(['--listen', '8080', '--token', 'flag-token'], undefined, { TCPTRACE_TOKEN: 'x' }).token).toBe('flag-token');
    expect(parseArgs(['-q'], undefined, { TCPTRACE_TOKEN: 'x' }).token).toBeUndefined(); // no server, nothing to protect
  });

  it('journal output only with -Y; --journal-socket says where', () => {
    expect(parseArgs(['-Y', '--journal-socket', '/tmp/j']).journal).toEqual({ socket: '/tmp/j' });
    expect(parseArgs([]).journal).toBeUndefined();
  });
});
