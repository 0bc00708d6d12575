// --replay, --speed and the flight recorder's options: what they accept, and one-line refusals.
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../src/command/options';

describe('replay and capture options', () => {
  it('--replay with its speed and the user-space filters', () => {
    const p = parseArgs(['-r', 'cap.ndjson.gz', '--speed', '10', '-L', '80', '--summary']);
    expect(p).toMatchObject({ replay: 'cap.ndjson.gz', speed: 10, summary: true, filter: { localPorts: [80] } });
    expect(parseArgs(['--replay', '-', '--speed', 'max']).speed).toBeUndefined();
  });

  it('--capture with its size and window', () => {
    expect(parseArgs(['--capture', '/var/lib/tcptrace', '-q']).capture).toEqual({ dir: '/var/lib/tcptrace', sizeBytes: 256 << 20, lastMinutes: 10 });
    expect(parseArgs(['--capture', 'd', '--capture-size', '1G', '--capture-last', '30']).capture).toEqual({ dir: 'd', sizeBytes: 1 << 30, lastMinutes: 30 });
  });

  it.each([
    [['--speed', '2'], /--speed needs --replay/],
    [['-r', 'f', '--speed', '0'], /bad value '0' for --speed/],
    [['-r', 'f', '--speed', 'fast'], /bad value 'fast' for --speed/],
    [['-r', 'f', '--ring-size', '8M'], /--ring-size is for live tracing, not --replay/],
    [['-r', 'f', '--attach', 'tracepoint'], /--attach is for live tracing/],
    [['-r', 'f', '--capture', 'd'], /--capture is for live tracing/],
    [['--capture-size', '1G'], /need --capture/],
    [['--capture', 'd', '--capture-size', '10K'], /use at least 1M/],
    [['--capture', 'd', '--capture-last', '-1'], /--capture-last/],
  ])('%j is refused', (argv, message) => {
    expect(() => parseArgs(argv as string[])).toThrow(UsageError);
    expect(() => parseArgs(argv as string[])).toThrow(message as RegExp);
  });
});
