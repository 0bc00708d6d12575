// The live side of a capture: what -j and --capture write besides the events (the tracer's facts
// and the census at start, src/source/capture-records.ts), made from the running Tracer.
import type { KernelFilter } from '../probe/config';
import type { TracerStatus } from '../status';
import { CaptureCensus } from './capture-census';
import type { OpenConnections } from '../derive/open-connections';
import type { ListenerPressure } from '../derive/listener-pressure';
import { captureHeader, type CaptureFeed } from '../format/capture-records';

export interface LiveFacts extends TracerStatus {
  readonly programs: string[];
  readonly clockOffsetMs: number;
}

export function liveCaptureFeed(tracer: LiveFacts, status: TracerStatus, filter: KernelFilter, open?: OpenConnections, pressure?: ListenerPressure): CaptureFeed & { close(): void; ready: Promise<void> } {
  const census = new CaptureCensus(filter);
  // Counted now, as the live census does right after attach: the writers get it when they start.
  const ready = census.full();
  return {
    status,
    census,
    open,
    pressure,
    ready,
    header: () => captureHeader({ status, programs: tracer.programs, filter, clockOffsetMs: tracer.clockOffsetMs, netns: census.netns }),
    close: () => census.close(),
  };
}
