import { expect, it } from 'vitest';
import { pid1HidingNote, summaryLine } from '../../src/cli';
import { sampleCounters } from '../helpers/sample';

it('the exit line says why changes were not seen: busy, hidden while PID 1 ran, or both', () => {
  expect(summaryLine(sampleCounters({ seen: 10, delivered: 10, missed: 2 }))).toBe(
    'tcptrace: 10 events seen, 10 delivered, 0 lost (+2 not seen: the kernel skipped them, BPF program busy on that CPU)');
  expect(summaryLine(sampleCounters({ seen: 10, delivered: 10, missed: 3, hidden: 3 }))).toBe(
    'tcptrace: 10 events seen, 10 delivered, 0 lost (+3 not seen: the kernel skipped them: 3 while PID 1 was running, which this kernel hides from BPF)');
  expect(summaryLine(sampleCounters({ seen: 10, delivered: 10, missed: 5, hidden: 3 }))).toBe(
    'tcptrace: 10 events seen, 10 delivered, 0 lost (+5 not seen: the kernel skipped them: 2 with the BPF program busy on that CPU, 3 while PID 1 was running, which this kernel hides from BPF)');
});

it('the start note names the kernel that hides PID 1, and says whether its changes are counted', () => {
  expect(pid1HidingNote(null)).toBe('');
  expect(pid1HidingNote({ uncounted: '' })).toBe('this kernel runs no BPF program while PID 1 is the current task: state changes made then are counted as not seen');
  expect(pid1HidingNote({ uncounted: 'why' })).toMatch(/are NOT counted \(why\)$/);
});
