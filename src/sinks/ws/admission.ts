// Which browser pages may open the WebSocket stream (the token and Host were checked by the
// HTTP server already, src/http/access.ts).
import type { AccessGate } from '../../http/access';

/**
 * Browsers always send Origin; other clients usually do not (and are not a cross-site
 * threat). A browser page may connect only from the dashboard's own origin, and on a
 * loopback address that origin must name a host the server accepts (loopback, or one added
 * with --allow-host): a DNS-rebinding page would carry its own host name. allowOrigins adds
 * whole origins.
 */
export function originAllowed(origin: string, host: string | undefined, access: AccessGate, allowOrigins: Set<string>): boolean {
  if (allowOrigins.has(origin.toLowerCase())) return true;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  if (!host || u.host !== host.toLowerCase()) return false;
  if (access.loopback && !access.hostAllowed(u.hostname)) return false;
  return true;
}
