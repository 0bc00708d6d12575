// The rule for an access token, apart from src/http/access.ts so that parsing options does not
// load node:crypto before the attach (~8 ms of start-up).

/** The one rule for a token, from --token or TCPTRACE_TOKEN: 8 to 256 printable ASCII characters, no spaces. */
export function tokenProblem(token: string): string | undefined {
  return /^[\x21-\x7e]{8,256}$/.test(token) ? undefined : 'needs 8 to 256 printable characters without spaces';
}
