// Library entry point.
export { Tracer, type TracerOptions, type Counters } from './tracer';
export { ProbeError, type ProbeOptions } from './probe';
export type { KernelFilter } from './config';
export type { TcpEvent, OwnerSource } from './event';
export { toJsonEvent, SCHEMA_VERSION, type JsonEvent } from './schema';
export { stateName, parseState, State, STATE_NAMES } from './states';
export { SocketCensus, CENSUS_STATES, type CensusReport } from './census';
export { Histogram, type HistogramSummary } from './histogram';
export { Pipeline, type EventSource, type Derived } from './pipeline';
export { CgroupEnricher } from './enrich/cgroup';
export type { Sink } from './sinks/sink';
export { statusReport, type TracerStatus, type StatusReport } from './status';
export type { FinishedConnection } from './connections';
