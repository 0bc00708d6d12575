// -j: one JSON object per line (docs/SCHEMA.md), written a batch at a time; from the live tracer
// a capture that `--replay` reads back (src/format/capture-writer.ts says what it holds).
import { CaptureWriter } from '../format/capture-writer';
import type { Sink } from './sink';

export class NdjsonSink extends CaptureWriter implements Sink {}
