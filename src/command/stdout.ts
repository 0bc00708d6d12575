// Standard output for the CLI's text sinks. A pipe's reader can be slower than we write: what
// it has not taken yet stays queued (up to a cap, past which lines are dropped and counted), and
// at exit we wait for the queue to empty before the process ends, within the shutdown budget.
// What is still queued then is counted too, so a cut-off output is never silent.
import type { Output } from '../sinks/sink';

function countLines(chunk: string | Uint8Array): number {
  let n = 0;
  if (typeof chunk === 'string') {
    for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) n++;
  } else {
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) n++;
  }
  return n;
}

export class StdoutOutput {
  /** Lines dropped because the queue was over the cap (exact). */
  linesNotWritten = 0;
  /**
   * Lines still queued when the wait at exit ran out: an upper bound, since the reader may
   * have taken the start of the oldest queued chunk (the stream does not say how much).
   */
  linesQueuedAtExit = 0;
  open = true;
  /** Chunks the stream has queued but not yet written, oldest first, with their write number. */
  private readonly queued: { seq: number; chunk: string | Uint8Array }[] = [];
  private writes = 0;
  private flushed = 0;
  // Write callbacks run in write order: one shared callback counts them.
  private readonly onFlushed = (): void => {
    this.flushed++;
    while (this.queued.length && this.queued[0].seq <= this.flushed) this.queued.shift();
  };

  constructor(private readonly stream: NodeJS.WriteStream, private readonly capBytes: number) {}

  readonly write: Output = (chunk) => {
    if (!this.open) return;
    if (this.stream.writableLength > this.capBytes) {
      this.linesNotWritten += countLines(chunk);
      return;
    }
    this.stream.write(chunk, this.onFlushed);
    const seq = ++this.writes;
    if (this.stream.writableLength === 0) return false;
    // Bytes the stream could not write at once (a full pipe) stay queued: they are kept.
    this.queued.push({ seq, chunk });
    return typeof chunk !== 'string';
  };

  /**
   * Waits until the reader has taken everything queued, or `ms` passed; then closes the
   * output and counts the lines still queued (a line the reader got only part of included).
   */
  async close(ms: number): Promise<void> {
    // Polled: 'drain' comes only after a write returned false, and before the write callbacks.
    for (const end = Date.now() + ms; this.open && this.stream.writableLength > 0 && Date.now() < end;) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.open = false;
    for (const q of this.queued) this.linesQueuedAtExit += countLines(q.chunk);
    this.queued.length = 0;
  }
}
