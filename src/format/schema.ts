// The JSON form of a TcpEvent: NDJSON lines, WebSocket `events` messages and the dashboard
// all read these names. The fields are declared once, in the catalogue (src/format/schema-fields.ts),
// which docs/SCHEMA.md lists; toJsonEvent builds the object from it. src/format/schema-writer.ts
// prints the same object as bytes on the hot path (test/unit/bytes.test.ts proves them equal).
import type { TcpEvent } from '../decode/event';
import { EVENT_FIELDS } from './schema-fields';

export { errnoName, isoTime, SCHEMA_VERSION } from './schema-fields';

type Fields = typeof EVENT_FIELDS;

/** One event as JSON: every catalogue field, in catalogue order. */
export type JsonEvent = { [K in keyof Fields]: ReturnType<Fields[K]['value']> };

const FIELD_LIST = Object.entries(EVENT_FIELDS) as [keyof Fields, Fields[keyof Fields]][];

/** The JSON object of one event (reads the event only: the cgroup is the enrich stage's). */
export function toJsonEvent(e: TcpEvent): JsonEvent {
  const json: Record<string, unknown> = {};
  for (const [key, f] of FIELD_LIST) json[key] = f.value(e);
  return json as JsonEvent;
}
