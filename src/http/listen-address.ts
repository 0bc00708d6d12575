// A listen address as the options give it; apart from src/http/server.ts so that parsing options
// does not load node:http (~7 ms of start-up).

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses "[HOST:]PORT" ("9090", "0.0.0.0:9090", "[::1]:9090"); default host 127.0.0.1. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]:|([^:[\]]+):)?(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}
