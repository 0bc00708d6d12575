// Command line → a validated plan. Pure (no I/O) so tests can run every error path.
import { Command, CommanderError, Option } from 'commander';
import type { KernelFilter } from '../probe/config';
import type { TimeColumn } from '../format/columns';
import { cgroupIdOf } from '../enrich/containers';
import { parseListenAddress, type ListenAddress } from '../http/listen-address';
import { tokenProblem } from '../http/access-token';
import { VERSION } from '../util/version';
import { resolveUser, type User } from './privileges';
import { rejectRepeats } from './repeats';
import { commFilter, parsePid, stateFilter } from './fail-closed';
import { listItems, parseInteger, parseNumber, parsePorts, parseRingSize, parseStates, parseWakeupBytes, UsageError } from './option-values';

export { UsageError } from './option-values';

export type OutputFormat = 'table' | 'csv' | 'json';

export interface Plan {
  format: OutputFormat;
  time: TimeColumn;
  wide: boolean;
  onCpu: boolean;
  filter: KernelFilter;
  durationSec?: number;
  attach: 'auto' | 'tp_btf' | 'tracepoint';
  /** --btf: the kernel's BTF as a file, for kernels without /sys/kernel/btf/vmlinux */
  btf?: string;
  perfBuffer: boolean;
  ringBytes?: number;
  wakeupBytes?: number;
  flushMs?: number;
  verbose: boolean;
  /** no terminal event output (another sink, such as --summary alone, is the point) */
  quiet: boolean;
  /** --summary: the analytics report at exit (and every intervalSec) */
  summary: boolean;
  intervalSec?: number;
  /** --lifetimes: one line per finished connection */
  lifetimes: boolean;
  /** rows in top-N tables */
  top: number;
  /** --metrics: serve Prometheus /metrics here (also served on --listen) */
  metrics?: ListenAddress;
  /** --metrics-ports: per-listening-port series (opt-in, cardinality) */
  metricsPorts?: 'all' | number[];
  /** -Y/--journal: one structured journal entry per transition, to this socket */
  journal?: { socket: string };
  /** --otlp: push the metrics over OTLP/HTTP (JSON) */
  otlp?: { url: string; intervalMs: number };
  /** --listen: dashboard and WebSocket stream (docs/STREAM.md) */
  listen?: ListenAddress;
  /** from --token or TCPTRACE_TOKEN, validated alike; a non-loopback --listen makes one up when absent */
  token?: string;
  maxClients?: number;
  /** --metrics-without-token: /metrics on the --listen port is served without the token */
  metricsWithoutToken: boolean;
  /** --allow-host: Host names accepted on a loopback bind besides loopback ones */
  allowHosts: string[];
  /** -Z: run as this user after start-up (command/privileges.ts) */
  user?: User;
  /** --keep-privileges: keep every privilege after start-up */
  keepPrivileges: boolean;
}

const EXAMPLES = `
EXAMPLES:
  tcptrace -T                 # every transition, with HH:MM:SS
  tcptrace -L 80,443          # only local ports 80 and 443
  tcptrace -D 5432 -t         # connections to PostgreSQL, seconds since start
  tcptrace --state SYN_SENT,CLOSE   # only transitions into these states
  tcptrace -p 1234            # sockets owned by PID 1234
  tcptrace --comm nginx -w    # owned by nginx, wide IPv6 columns
  tcptrace -6 -s              # IPv6 only, CSV
  tcptrace -j -d 60 > t.ndjson      # one JSON object per line, for 60 seconds
  tcptrace --on-cpu           # also show the task that was on the CPU (bcc's C-PID)
  tcptrace --listen 8080 -q   # live dashboard and WebSocket stream on http://127.0.0.1:8080/
  tcptrace --summary --interval 10  # handshake/failure/lifetime report every 10 s and at exit
  tcptrace --lifetimes -D 443 # one line per finished connection to port 443`;

/** A list option given twice adds to the list (commander would keep only the last one). */
const addToList = (value: string, previous: string | undefined) => (previous === undefined ? value : `${previous},${value}`);

export function buildCommand(): Command {
  return new Command('tcptrace')
    .description('Trace TCP state transitions system-wide, with the process that owns each socket.')
    .version(VERSION, '-V, --version')
    .option('-T, --time', 'include an HH:MM:SS time column')
    .option('-t, --timestamp', 'include a column of seconds since the first event')
    .option('-w, --wide', 'wide address columns for IPv6, plus an IP version column')
    .option('-s, --csv', 'comma-separated values')
    .option('-j, --json', 'one JSON object per line (NDJSON, schema in docs/SCHEMA.md)')
    .option('-L, --localport <ports>', 'only these local ports (comma-separated)', addToList)
    .option('-D, --remoteport <ports>', 'only these remote ports (comma-separated)', addToList)
    .option('-4, --ipv4', 'only IPv4')
    .option('-6, --ipv6', 'only IPv6')
    .option('-p, --pid <pid>', 'only sockets owned by this process')
    .option('--comm <name>', 'only sockets owned by processes with this command name')
    .option('--state <states>', 'only transitions into these states (comma-separated, e.g. ESTABLISHED,CLOSE)', addToList)
    .option('-d, --duration <seconds>', 'stop after this many seconds')
    .option('--on-cpu', "also show the task on the CPU at the transition (bcc's C-PID/C-COMM)")
    .addOption(new Option('--attach <mode>', 'how to attach').choices(['auto', 'tp_btf', 'tracepoint']).default('auto'))
    .option('--btf <file>', 'BTF of the running kernel, for kernels without /sys/kernel/btf/vmlinux (README: Kernels without BTF)')
    .option('--perf-buffer', 'deliver through the perf buffer even where a ring buffer exists')
    .option('--ring-size <bytes>', 'ring buffer size, a power of two (default 4M)')
    .option('--wakeup-bytes <bytes>', 'wake the reader once this much is queued (0: every event)')
    .option('--flush-ms <ms>', 'drain at least this often')
    .option('-q, --quiet', 'no per-event output (use with --summary, --listen, --metrics, ...)')
    .option('--summary', 'print handshake, failure, lifetime and per-state statistics at exit (no per-event lines)')
    .option('--interval <seconds>', 'with --summary, also print the report every N seconds')
    .option('--lifetimes', 'one line per finished connection: owner, endpoints, bytes each way (TX_KB RX_KB), handshake, lifetime, cause; -w retransmits, RTT, limited times; -s CSV; -j JSON')
    .option('--top <n>', 'rows in top-N tables of reports', '10')
    .option('--listen <[host:]port>', 'serve the live dashboard and WebSocket stream (default host 127.0.0.1)')
    .option('--token <token>', 'access token for --listen, 8-256 printable characters (default $TCPTRACE_TOKEN; generated on a non-loopback address)')
    .option('--max-clients <n>', 'most WebSocket clients at once for --listen (default 16)')
    .option('--metrics-without-token', 'serve /metrics on the --listen port without the token (the page and /ws still need it)')
    .option('--allow-host <names>', 'also accept these Host names on a loopback --listen/--metrics (e.g. a reverse proxy\'s), comma-separated', addToList)
    .option('--netns <inode>', 'only sockets in this network namespace (inode, as in `stat -L -c %i /proc/PID/ns/net`)')
    .option('--cgroup <path>', 'only sockets owned by tasks in this cgroup v2 directory')
    .option('--metrics <[host:]port>', 'serve Prometheus metrics on http://HOST:PORT/metrics (default host 127.0.0.1)')
    .option('--metrics-ports [ports]', 'also label handshake metrics by listening port (all, or only these ports)')
    .option('-Y, --journal', 'send each transition to the systemd journal as a structured entry')
    .option('--journal-socket <path>', 'journal socket (default $TCPTRACE_JOURNAL_SOCKET or /run/systemd/journal/socket)')
    .option('--otlp <url>', 'push metrics over OTLP/HTTP JSON to this URL (e.g. http://collector:4318)')
    .option('--otlp-interval <seconds>', 'OTLP export interval (default 10)')
    .option('-Z, --user <user>', 'after start-up, run as this user (the BPF programs, maps and servers stay open)')
    .option('--keep-privileges', 'keep every privilege after start-up (by default all but what the running features need are dropped)')
    .option('-v, --verbose', "print libbpf's debug messages")
    .addHelpText('after', EXAMPLES)
    .showSuggestionAfterError(true);
}

/** Parses argv (without node and script); throws UsageError, or CommanderError for help/version. */
export function parseArgs(argv: string[], command = buildCommand(), env: NodeJS.ProcessEnv = process.env): Plan {
  command.exitOverride().configureOutput({ writeErr: () => {} });
  try {
    command.parse(argv, { from: 'user' });
    rejectRepeats(command, argv, (o) => o.parseArg === addToList);
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) throw err;
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' '));
  }
  return toPlan(command.opts(), env);
}

function toPlan(o: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): Plan {
  if (o.csv && o.json) throw new UsageError('choose one of --csv and --json');
  if (o.ipv4 && o.ipv6) throw new UsageError('choose one of -4 and -6');
  if (o.time && o.timestamp) throw new UsageError('choose one of -T and -t');
  if (o.interval && !o.summary) throw new UsageError('--interval needs --summary');
  if (o.summary && o.lifetimes) throw new UsageError('choose one of --summary and --lifetimes');
  const filter: KernelFilter = {};
  if (o.ipv4) filter.family = 4;
  if (o.ipv6) filter.family = 6;
  if (typeof o.localport === 'string') filter.localPorts = parsePorts(o.localport, '--localport');
  if (typeof o.remoteport === 'string') filter.remotePorts = parsePorts(o.remoteport, '--remoteport');
  if (typeof o.pid === 'string') filter.pid = parsePid(o.pid);
  if (typeof o.comm === 'string') filter.comm = commFilter(o.comm);
  if (typeof o.state === 'string') filter.states = stateFilter(parseStates(o.state));
  if (typeof o.netns === 'string') filter.netns = parseInteger(o.netns, '--netns', 1, 2 ** 32 - 1);
  if (typeof o.cgroup === 'string') filter.cgroupId = cgroupFilter(o.cgroup);
  const plan: Plan = {
    format: o.csv ? 'csv' : o.json ? 'json' : 'table',
    time: o.time ? 'clock' : o.timestamp ? 'relative' : 'none',
    wide: Boolean(o.wide),
    onCpu: Boolean(o.onCpu),
    filter,
    durationSec: typeof o.duration === 'string' ? parseNumber(o.duration, '--duration') : undefined,
    attach: (o.attach as Plan['attach']) ?? 'auto',
    btf: typeof o.btf === 'string' ? o.btf : undefined,
    perfBuffer: Boolean(o.perfBuffer),
    ringBytes: typeof o.ringSize === 'string' ? parseRingSize(o.ringSize) : undefined,
    wakeupBytes: typeof o.wakeupBytes === 'string' ? parseWakeupBytes(o.wakeupBytes) : undefined,
    flushMs: typeof o.flushMs === 'string' ? parseInteger(o.flushMs, '--flush-ms', 1, 10000) : undefined,
    verbose: Boolean(o.verbose),
    quiet: Boolean(o.quiet) || Boolean(o.summary) || Boolean(o.lifetimes),
    summary: Boolean(o.summary),
    intervalSec: typeof o.interval === 'string' ? parseNumber(o.interval, '--interval') : undefined,
    lifetimes: Boolean(o.lifetimes),
    top: parseInteger(String(o.top ?? '10'), '--top', 1, 1000),
    ...fleetOptions(o),
    ...parseListenOptions(o, env),
    allowHosts: typeof o.allowHost === 'string' ? listItems(o.allowHost, '--allow-host', 'tcptrace.example.com') : [],
    user: typeof o.user === 'string' ? resolveUser(o.user) : undefined,
    keepPrivileges: Boolean(o.keepPrivileges),
  };
  if (plan.user && plan.keepPrivileges) throw new UsageError('choose one of -Z and --keep-privileges');
  if (plan.allowHosts.length && !plan.listen && !plan.metrics) throw new UsageError('--allow-host needs --listen or --metrics');
  plan.ringBytes ??= DEFAULT_RING_BYTES;
  return plan;
}

/**
 * The kernel ring only has to cover the moments the drain thread is off the CPU (it empties
 * the ring into user memory whatever the sinks are doing); in the storms of BENCHMARKS.md it
 * never got past 13% of 4 MiB with the drain thread's priority boost. Sinks slower than the
 * storm (JSON) lean on the drain thread's backlog, which is only resident while used; the ring
 * is resident twice over (the kernel maps it twice), so it stays small for every output.
 */
export const DEFAULT_RING_BYTES = 4 << 20;

function parseListenOptions(o: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): Pick<Plan, 'listen' | 'token' | 'maxClients' | 'metricsWithoutToken'> {
  if (typeof o.listen !== 'string') {
    if (o.token !== undefined || o.maxClients !== undefined || o.metricsWithoutToken) {
      throw new UsageError('--token, --max-clients and --metrics-without-token need --listen');
    }
    return { metricsWithoutToken: false };
  }
  const listen = parseListenAddress(o.listen);
  if (!listen) throw new UsageError(`bad address '${o.listen}' for --listen: use PORT or HOST:PORT, e.g. 8080 or 127.0.0.1:8080`);
  // One rule for the token wherever it comes from: a weak one in the environment is no better.
  const token = typeof o.token === 'string' ? o.token : env.TCPTRACE_TOKEN;
  const source = typeof o.token === 'string' ? '--token' : 'TCPTRACE_TOKEN';
  const problem = token === undefined ? undefined : tokenProblem(token);
  if (problem) throw new UsageError(`${source} ${problem}`);
  return {
    listen,
    token,
    maxClients: typeof o.maxClients === 'string' ? parseInteger(o.maxClients, '--max-clients', 1, 1024) : undefined,
    metricsWithoutToken: Boolean(o.metricsWithoutToken),
  };
}

/** --cgroup PATH → the directory's cgroup v2 id (the one option here that reads the file system). */
function cgroupFilter(dir: string): number {
  try {
    return cgroupIdOf(dir);
  } catch (err) {
    throw new UsageError(`--cgroup: ${(err as Error).message}`);
  }
}

/** --metrics, --metrics-ports, --journal, --otlp (docs/FLEET.md). */
function fleetOptions(o: Record<string, string | boolean | undefined>): Pick<Plan, 'metrics' | 'metricsPorts' | 'journal' | 'otlp'> {
  const plan: Pick<Plan, 'metrics' | 'metricsPorts' | 'journal' | 'otlp'> = {};
  if (typeof o.metrics === 'string') {
    const address = parseListenAddress(o.metrics);
    if (!address) throw new UsageError(`bad address '${o.metrics}' for --metrics: use [HOST:]PORT, e.g. 9100 or 0.0.0.0:9100`);
    plan.metrics = address;
  }
  if (o.metricsPorts !== undefined) {
    plan.metricsPorts = o.metricsPorts === true || o.metricsPorts === 'all' ? 'all' : parsePorts(String(o.metricsPorts), '--metrics-ports');
  }
  // --journal-socket only says where: journal output is switched on by -Y alone.
  if (typeof o.journalSocket === 'string' && !o.journal) throw new UsageError('--journal-socket needs -Y/--journal');
  if (typeof o.journalSocket === 'string' && !o.journalSocket) throw new UsageError('--journal-socket needs a path');
  if (o.journal) {
    const socket = typeof o.journalSocket === 'string' ? o.journalSocket : process.env.TCPTRACE_JOURNAL_SOCKET || '/run/systemd/journal/socket';
    plan.journal = { socket };
  }
  if (typeof o.otlp === 'string') {
    let url: URL;
    try {
      url = new URL(o.otlp);
    } catch {
      throw new UsageError(`bad URL '${o.otlp}' for --otlp: use e.g. http://127.0.0.1:4318`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`bad URL '${o.otlp}' for --otlp: use http:// or https://`);
    // A bare collector address gets the standard metrics path.
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/metrics';
    plan.otlp = { url: url.toString(), intervalMs: Math.round(parseNumber(String(o.otlpInterval ?? '10'), '--otlp-interval', 0.001) * 1000) };
  } else if (o.otlpInterval !== undefined) {
    throw new UsageError('--otlp-interval needs --otlp');
  }
  if (o.metricsPorts !== undefined && !plan.metrics && !plan.otlp && !o.listen) {
    throw new UsageError('--metrics-ports needs --metrics, --listen or --otlp');
  }
  return plan;
}
