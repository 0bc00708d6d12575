// Library entry point.
export { Tracer, type TracerOptions, type Counters } from './tracer';
export { ProbeError, type ProbeOptions } from './probe/probe';
export type { KernelFilter } from './probe/config';
export type { TcpEvent, OwnerSource } from './decode/event';
export { toJsonEvent, SCHEMA_VERSION, type JsonEvent } from './format/schema';
export { stateName, parseState, State, STATE_NAMES } from './decode/states';
export { SocketCensus, CENSUS_STATES, type CensusReport } from './census/census';
export { Histogram, type HistogramSummary } from './derive/histogram';
export { StatsEngine, type StatsSnapshot } from './derive/stats';
export { Pipeline, type EventSource, type Derived } from './pipeline';
export { CgroupEnricher } from './enrich/cgroup';
export type { Sink } from './sinks/sink';
export { statusReport, type TracerStatus, type StatusReport } from './status';
export type { FinishedConnection } from './derive/connections';
