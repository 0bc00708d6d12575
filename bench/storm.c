/*
 * storm.c - loopback TCP connection storm generator for tcptrace benchmarks.
 *
 * Usage:
 *   storm --connections N --threads T --close fin|rst
 *         [--port-base P] [--ports K] [--rate R] [--duration S]
 *         [--addr 127.0.0.1|::1]
 *
 * The program is its own server and its own client.  It opens K listening
 * sockets on ports P..P+K-1 of the loopback address (P defaults to a random
 * base in 20000..60000 at which all K ports could be bound) and starts T
 * worker threads.  Each worker is both an accept loop and a client:
 *
 *   - it owns a share of the listeners (listener j belongs to worker
 *     j % T; when K < T, worker i shares listener i % K with the other
 *     workers and watches it with EPOLLEXCLUSIVE), accepts everything
 *     queued on them and closes each accepted socket immediately;
 *   - it keeps up to INFLIGHT non-blocking client connections open towards
 *     its own ports (round-robin), all in one epoll set with the listeners.
 *
 * Keeping both ends of a connection on one thread means the whole exchange
 * (handshake, accept, teardown) runs without cross-CPU wake-ups or context
 * switches, which on a small VM roughly doubles the attainable rate
 * compared with separate client and accept threads; what is left is the
 * kernel's own per-connection TCP work, i.e. what a tracer adds to.
 *
 * Connection attempts are claimed from one shared counter, which enforces
 * the --connections total and the --rate limit (a global schedule: attempt
 * number i may start i/R seconds after the start), so the workers balance
 * among themselves and the rate holds for all threads together.
 *
 * Close modes:
 *
 *   fin  The server side closes first (right after accept), so its FIN
 *        reaches the client; the client sees EOF (EPOLLRDHUP) and only then
 *        closes, answering with its own FIN.  Both ends perform a full
 *        three-way handshake and an orderly FIN/ACK teardown:
 *            server ESTABLISHED > FIN_WAIT1 > FIN_WAIT2 > TIME_WAIT
 *            client ESTABLISHED > CLOSE_WAIT > LAST_ACK > CLOSE
 *        As the server is the active closer, TIME_WAIT lands on the server
 *        side.  Those entries sit on the listening ports and never hold
 *        client ephemeral ports, so back-to-back runs of hundreds of
 *        thousands of connections cannot run into EADDRNOTAVAIL, without
 *        relying on net.ipv4.tcp_tw_reuse or on rotating 127.0.0.x source
 *        addresses.  A client SYN that reuses the 4-tuple of a server
 *        TIME_WAIT entry is accepted by the kernel (newer timestamp and
 *        sequence number).  When the kernel runs out of TIME_WAIT buckets
 *        (net.ipv4.tcp_max_tw_buckets) it just skips TIME_WAIT.  Waiting
 *        for the server's FIN also means a client can never get ahead of
 *        the accepts.
 *
 *   rst  The client sets SO_LINGER {1, 0} and closes as soon as its
 *        connect() has completed, so the connection is torn down by a RST
 *        and nobody enters TIME_WAIT.  The handshake, including the
 *        server's creation of the child socket, has already happened at
 *        that point; the server then accepts the (reset) socket and closes
 *        it.  Workers interleave accepting with connecting in small
 *        batches, so the accept queues stay short.
 *
 * --split (the shape of an ordinary threaded server and its clients, as
 * issue 12's independent storm): T client threads each connect() blocking
 * to ONE listener (backlog 4096), then close at once (RST via SO_LINGER 0
 * with --close rst; FIN otherwise), and T separate accept threads accept
 * and close.  2T busy threads on a small VM, with a cross-thread wakeup
 * for every accept: the tracer's reader competes with more runnable
 * threads than CPUs, which is what keeps it off the CPU.
 *
 * --spin S: no connections; burn one CPU for S seconds (a competing "CPU
 * hog" at normal priority; the harness starts one per CPU).
 *
 * Output: exactly one JSON line on stdout,
 *   {"connections":N_done,"failed":F,"seconds":elapsed,"rate":conn_per_s,
 *    "threads":T,"close":"fin|rst","port_base":P,"ports":K}
 * "connections" counts completed connections, "failed" counts attempts
 * that failed (socket or connect errors, refused or reset before being
 * established, or still unfinished 30 s after the last attempt started);
 * the first error is reported on stderr.  "seconds" runs from the start of
 * the first attempt until every worker has finished.
 *
 * With --duration S the workers start connections for S seconds (stopping
 * earlier only if --connections N is given too and N attempts were made)
 * and then wait for the connections still in flight.
 *
 * Exit status: 0 on success, 1 on runtime errors (e.g. the requested ports
 * cannot be bound, or not a single connection succeeded), 2 on argument
 * errors (with one line on stderr).  Set STORM_VERBOSE=1 to get the number
 * of server-side accepts on stderr.
 *
 * Build: gcc -O2 -Wall -Wextra -pthread -o bench/out/storm bench/storm.c
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORTS 16
#define MAX_PORTS 4096
#define MAX_THREADS 256
#define PORT_LOW 20000
#define PORT_HIGH 60000
#ifndef INFLIGHT
#define INFLIGHT 64 /* concurrent client connections per worker */
#endif
#ifndef START_BATCH
#define START_BATCH 32 /* attempts started between two epoll_wait calls */
#endif
#define EVENT_BATCH 128
#define LISTEN_BACKLOG 65535 /* clamped by net.core.somaxconn */
#define SPLIT_BACKLOG 4096
#define DRAIN_TIMEOUT_NS (30ull * 1000000000ull)
#define LISTENER_TAG (1ull << 32) /* epoll data: listener vs client slot */

enum close_mode { CLOSE_FIN, CLOSE_RST };

struct options {
	uint64_t connections; /* 0 = unlimited (only with --duration) */
	int threads;
	enum close_mode close_mode;
	int port_base; /* 0 = pick one */
	int ports;
	double rate; /* connections/s, 0 = unlimited */
	double duration; /* seconds, 0 = run for N connections */
	int split; /* separate blocking connect and accept threads */
	double spin; /* seconds of busy loop, no connections */
	int family;
	struct sockaddr_storage addr; /* the port is set per connection */
	socklen_t addr_len;
};

static struct options opt;
static int *listen_fds;

static atomic_ullong claimed; /* connection attempts handed out so far */
static uint64_t t0_ns; /* start of the measured interval */
static uint64_t deadline_ns; /* t0 + duration, 0 = none */
static pthread_barrier_t start_barrier;

struct worker {
	int index;
	pthread_t tid;
	int ep;
	int *ports; /* indices into listen_fds this worker connects to */
	int nports;
	int shared; /* listeners shared with other workers */
	unsigned int next_port;
	struct sockaddr_storage dst;
	int fds[INFLIGHT];
	int free_slots[INFLIGHT];
	int nfree;
	int inflight;
	uint64_t done;
	uint64_t failed;
	uint64_t accepted;
	int first_errno;
};

/* ------------------------------------------------------------ utilities */

static void arg_error(const char *fmt, ...)
{
	va_list ap;

	fputs("storm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (usage: storm --connections N --threads T --close fin|rst"
	      " [--port-base P] [--ports K] [--rate R] [--duration S]"
	      " [--addr 127.0.0.1|::1])\n",
	      stderr);
	exit(2);
}

static void fatal(const char *what, int err)
{
	fprintf(stderr, "storm: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (*s == '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end != '\0' || !(v >= 0.0) || v > 1e12)
		return -1;
	*out = v;
	return 0;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* ------------------------------------------------------------ arguments */

static void parse_addr(const char *s)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&opt.addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&opt.addr;

	memset(&opt.addr, 0, sizeof(opt.addr));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			arg_error("--addr must be a loopback address, got '%s'", s);
		sin->sin_family = AF_INET;
		opt.family = AF_INET;
		opt.addr_len = sizeof(*sin);
		return;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			arg_error("--addr must be a loopback address, got '%s'", s);
		sin6->sin6_family = AF_INET6;
		opt.family = AF_INET6;
		opt.addr_len = sizeof(*sin6);
		return;
	}
	arg_error("invalid --addr '%s'", s);
}

static void parse_args(int argc, char **argv)
{
	int have_conn = 0, have_threads = 0, have_close = 0, have_addr = 0;
	uint64_t v;
	int i;

	memset(&opt, 0, sizeof(opt));
	opt.ports = DEFAULT_PORTS;

	for (i = 1; i < argc; i++) {
		const char *name = argv[i];
		const char *val;
		const char *eq;
		char buf[32];

		if (strncmp(name, "--", 2) != 0)
			arg_error("unexpected argument '%s'", name);
		/* both "--opt value" and "--opt=value" */
		eq = strchr(name, '=');
		if (eq) {
			size_t n = (size_t)(eq - name);

			if (n >= sizeof(buf))
				arg_error("unknown option '%s'", name);
			memcpy(buf, name, n);
			buf[n] = '\0';
			name = buf;
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				arg_error("option '%s' needs a value", name);
			val = argv[++i];
		}

		if (strcmp(name, "--connections") == 0) {
			if (parse_u64(val, &v) || v == 0)
				arg_error("--connections must be a positive integer, got '%s'", val);
			opt.connections = v;
			have_conn = 1;
		} else if (strcmp(name, "--threads") == 0) {
			if (parse_u64(val, &v) || v == 0 || v > MAX_THREADS)
				arg_error("--threads must be 1..%d, got '%s'", MAX_THREADS, val);
			opt.threads = (int)v;
			have_threads = 1;
		} else if (strcmp(name, "--close") == 0) {
			if (strcmp(val, "fin") == 0)
				opt.close_mode = CLOSE_FIN;
			else if (strcmp(val, "rst") == 0)
				opt.close_mode = CLOSE_RST;
			else
				arg_error("--close must be fin or rst, got '%s'", val);
			have_close = 1;
		} else if (strcmp(name, "--port-base") == 0) {
			if (parse_u64(val, &v) || v == 0 || v > 65535)
				arg_error("--port-base must be 1..65535, got '%s'", val);
			opt.port_base = (int)v;
		} else if (strcmp(name, "--ports") == 0) {
			if (parse_u64(val, &v) || v == 0 || v > MAX_PORTS)
				arg_error("--ports must be 1..%d, got '%s'", MAX_PORTS, val);
			opt.ports = (int)v;
		} else if (strcmp(name, "--rate") == 0) {
			if (parse_double(val, &opt.rate))
				arg_error("--rate must be a number >= 0, got '%s'", val);
		} else if (strcmp(name, "--duration") == 0) {
			if (parse_double(val, &opt.duration) || opt.duration > 1e7)
				arg_error("--duration must be a number of seconds >= 0, got '%s'", val);
		} else if (strcmp(name, "--split") == 0) {
			opt.split = strcmp(val, "0") != 0;
		} else if (strcmp(name, "--spin") == 0) {
			if (parse_double(val, &opt.spin) || opt.spin <= 0.0)
				arg_error("--spin must be a number of seconds > 0, got '%s'", val);
			return;
		} else if (strcmp(name, "--addr") == 0) {
			parse_addr(val);
			have_addr = 1;
		} else {
			arg_error("unknown option '%s'", name);
		}
	}

	if (!have_conn && opt.duration <= 0.0)
		arg_error("--connections N (or --duration S) is required");
	if (!have_threads)
		arg_error("--threads T is required");
	if (!have_close)
		arg_error("--close fin|rst is required");
	if (opt.port_base && opt.port_base + opt.ports - 1 > 65535)
		arg_error("--port-base %d + --ports %d goes past port 65535",
			  opt.port_base, opt.ports);
	if (!opt.port_base && opt.ports > PORT_HIGH - PORT_LOW)
		arg_error("--ports %d needs an explicit --port-base", opt.ports);
	if (!have_addr)
		parse_addr("127.0.0.1");
}

/* ------------------------------------------------------------ listeners */

static int open_listener(int port)
{
	struct sockaddr_storage ss = opt.addr;
	int one = 1;
	int fd, err;

	fd = socket(opt.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("socket", errno);
	/* bind even over TIME_WAIT entries left on the port by earlier runs */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		fatal("setsockopt(SO_REUSEADDR)", errno);
	set_port(&ss, port);
	if (bind(fd, (struct sockaddr *)&ss, opt.addr_len) == 0 &&
	    listen(fd, opt.split ? SPLIT_BACKLOG : LISTEN_BACKLOG) == 0)
		return fd;
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static int open_listeners(int base)
{
	int j;

	for (j = 0; j < opt.ports; j++) {
		listen_fds[j] = open_listener(base + j);
		if (listen_fds[j] < 0) {
			int err = errno;

			while (j-- > 0)
				close(listen_fds[j]);
			errno = err;
			return -1;
		}
	}
	return 0;
}

static void setup_listeners(void)
{
	unsigned int seed;
	int span, attempt;

	listen_fds = calloc((size_t)opt.ports, sizeof(int));
	if (!listen_fds)
		fatal("calloc", ENOMEM);

	if (opt.port_base) {
		if (open_listeners(opt.port_base) < 0) {
			char what[64];

			snprintf(what, sizeof(what), "cannot listen on ports %d..%d",
				 opt.port_base, opt.port_base + opt.ports - 1);
			fatal(what, errno);
		}
		return;
	}

	/* random base in PORT_LOW..PORT_HIGH where all K ports can be bound */
	span = PORT_HIGH - PORT_LOW + 2 - opt.ports;
	seed = (unsigned int)(now_ns() ^ ((uint64_t)getpid() << 16));
	for (attempt = 0; attempt < 1000; attempt++) {
		int base = PORT_LOW + (int)((unsigned int)rand_r(&seed) % (unsigned int)span);

		if (open_listeners(base) == 0) {
			opt.port_base = base;
			return;
		}
	}
	fatal("cannot find a free range of ports", errno);
}

/* ------------------------------------------------------------ worker */

enum claim_result { CLAIM_OK, CLAIM_WAIT, CLAIM_DONE };

/*
 * Hand out the next connection attempt, honouring --connections,
 * --duration and --rate.  On CLAIM_WAIT, *wait_ns says how long until the
 * rate schedule allows the next attempt.
 */
static enum claim_result claim(uint64_t now, uint64_t *wait_ns)
{
	unsigned long long cur = atomic_load_explicit(&claimed, memory_order_relaxed);

	for (;;) {
		if (opt.connections && cur >= opt.connections)
			return CLAIM_DONE;
		if (deadline_ns && now >= deadline_ns)
			return CLAIM_DONE;
		if (opt.rate > 0.0) {
			/* attempt number cur may start at t0 + cur / rate */
			double start = (double)t0_ns + (double)cur * 1e9 / opt.rate;

			if ((double)now < start) {
				*wait_ns = (uint64_t)(start - (double)now) + 1;
				return CLAIM_WAIT;
			}
		}
		if (atomic_compare_exchange_weak_explicit(&claimed, &cur, cur + 1,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return CLAIM_OK;
	}
}

static void note_failure(struct worker *w, int err)
{
	w->failed++;
	if (!w->first_errno)
		w->first_errno = err ? err : EIO;
}

static void finish(struct worker *w, int slot)
{
	close(w->fds[slot]);
	w->fds[slot] = -1;
	w->free_slots[w->nfree++] = slot;
	w->inflight--;
}

/* Start one client connection; it either completes here or goes to epoll. */
static void start_connection(struct worker *w)
{
	static const struct linger rst_linger = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev;
	int fd, slot, r;

	fd = socket(opt.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		note_failure(w, errno);
		return;
	}
	if (opt.close_mode == CLOSE_RST &&
	    setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst_linger, sizeof(rst_linger)) < 0) {
		note_failure(w, errno);
		close(fd);
		return;
	}

	set_port(&w->dst, opt.port_base + w->ports[w->next_port]);
	if (++w->next_port == (unsigned int)w->nports)
		w->next_port = 0;

	r = connect(fd, (struct sockaddr *)&w->dst, opt.addr_len);
	if (r < 0 && errno != EINPROGRESS) {
		note_failure(w, errno);
		close(fd);
		return;
	}

	if (opt.close_mode == CLOSE_RST) {
		/*
		 * On loopback the handshake normally completes while connect()
		 * releases the socket lock, so a second connect() usually
		 * reports EISCONN already and epoll is not needed.
		 */
		if (r < 0) {
			r = connect(fd, (struct sockaddr *)&w->dst, opt.addr_len);
			if (r < 0 && errno == EISCONN) {
				r = 0;
			} else if (r < 0 && errno != EALREADY && errno != EINPROGRESS) {
				note_failure(w, errno);
				close(fd);
				return;
			}
		}
		if (r == 0) {
			close(fd); /* SO_LINGER {1,0}: sends RST */
			w->done++;
			return;
		}
		ev.events = EPOLLOUT;
	} else {
		/* wait for the server's FIN (or an error) */
		ev.events = EPOLLIN | EPOLLRDHUP;
	}

	slot = w->free_slots[--w->nfree];
	w->fds[slot] = fd;
	w->inflight++;
	ev.data.u64 = (uint64_t)slot;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		note_failure(w, errno);
		finish(w, slot);
	}
}

static void client_event(struct worker *w, int slot, uint32_t events)
{
	if (w->fds[slot] < 0)
		return;
	if (events & EPOLLERR) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(w->fds[slot], SOL_SOCKET, SO_ERROR, &err, &len);
		note_failure(w, err ? err : ECONNRESET);
	} else if (opt.close_mode == CLOSE_FIN) {
		if (!(events & (EPOLLRDHUP | EPOLLIN | EPOLLHUP)))
			return;
		w->done++; /* server FIN received; our close answers with FIN */
	} else {
		if (events & EPOLLHUP)
			note_failure(w, ECONNRESET);
		else if (events & EPOLLOUT)
			w->done++; /* established; our close sends RST */
		else
			return;
	}
	finish(w, slot);
}

/* Accept everything queued on a listener and close it right away. */
static void accept_all(struct worker *w, int lfd)
{
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0) {
			close(c); /* fin mode: the server's FIN goes out here */
			w->accepted++;
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			return; /* transient; the listener stays readable */
		fatal("accept4", errno);
	}
}

static void worker_setup(struct worker *w)
{
	struct epoll_event ev;
	int j, k;

	w->shared = opt.ports < opt.threads;
	w->ports = calloc((size_t)opt.ports, sizeof(int));
	if (!w->ports)
		fatal("calloc", ENOMEM);
	if (w->shared) {
		w->ports[w->nports++] = w->index % opt.ports;
	} else {
		for (j = w->index; j < opt.ports; j += opt.threads)
			w->ports[w->nports++] = j;
	}
	/* start each worker at a different spot for a little more mixing */
	w->next_port = (unsigned int)w->index % (unsigned int)w->nports;
	w->dst = opt.addr;

	w->nfree = INFLIGHT;
	for (k = 0; k < INFLIGHT; k++) {
		w->fds[k] = -1;
		w->free_slots[k] = INFLIGHT - 1 - k;
	}

	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0)
		fatal("epoll_create1", errno);
	for (k = 0; k < w->nports; k++) {
		j = w->ports[k];
		ev.events = EPOLLIN | (w->shared ? EPOLLEXCLUSIVE : 0);
		ev.data.u64 = LISTENER_TAG | (uint64_t)j;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, listen_fds[j], &ev) < 0)
			fatal("epoll_ctl(listener)", errno);
	}
}

/* epoll_wait with a nanosecond timeout where the kernel has epoll_pwait2 */
static int wait_events(struct worker *w, struct epoll_event *evs, int64_t timeout_ns)
{
#ifdef SYS_epoll_pwait2
	static atomic_int no_pwait2;

	if (timeout_ns > 0 && !atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		struct timespec ts = {
			.tv_sec = (time_t)(timeout_ns / 1000000000),
			.tv_nsec = (long)(timeout_ns % 1000000000),
		};
		long r = syscall(SYS_epoll_pwait2, w->ep, evs, EVENT_BATCH, &ts, NULL, 0);

		if (r >= 0 || errno != ENOSYS)
			return (int)r;
		atomic_store(&no_pwait2, 1);
	}
#endif
	if (timeout_ns < 0)
		return epoll_wait(w->ep, evs, EVENT_BATCH, -1);
	/* round up so that a short wait does not turn into a busy loop */
	return epoll_wait(w->ep, evs, EVENT_BATCH, (int)((timeout_ns + 999999) / 1000000));
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct epoll_event evs[EVENT_BATCH];
	uint64_t drain_deadline = 0;
	int starting = 1;
	int k;

	pthread_barrier_wait(&start_barrier);

	for (;;) {
		uint64_t now = now_ns();
		uint64_t wait_ns = 0;
		int64_t timeout_ns;
		int more = 0;
		int n;

		if (starting) {
			int started = 0;

			while (w->inflight < INFLIGHT) {
				enum claim_result c;

				if (started == START_BATCH) {
					more = 1; /* let the accepts catch up first */
					break;
				}
				c = claim(now, &wait_ns);
				if (c == CLAIM_DONE) {
					starting = 0;
					break;
				}
				if (c == CLAIM_WAIT)
					break;
				start_connection(w);
				started++;
				if (opt.rate > 0.0 || deadline_ns)
					now = now_ns();
			}
		}

		if (!starting) {
			if (w->inflight == 0)
				break;
			if (!drain_deadline)
				drain_deadline = now + DRAIN_TIMEOUT_NS;
			if (now >= drain_deadline)
				break;
			timeout_ns = (int64_t)(drain_deadline - now);
		} else if (more) {
			timeout_ns = 0;
		} else if (w->inflight >= INFLIGHT) {
			timeout_ns = -1; /* a completion will wake us */
			if (deadline_ns)
				timeout_ns = now >= deadline_ns ? 0 : (int64_t)(deadline_ns - now);
		} else {
			timeout_ns = (int64_t)wait_ns; /* rate limited */
		}

		/*
		 * After accepting, look again at once: the server FINs just sent
		 * have made our own clients readable, and closing them promptly
		 * lets their FIN carry the ACK of the server's FIN (otherwise the
		 * delayed-ACK timer fires first and adds a segment).
		 */
		do {
			int accepted = 0;

			n = wait_events(w, evs, timeout_ns);
			if (n < 0) {
				if (errno == EINTR)
					break;
				fatal("epoll_wait", errno);
			}
			for (k = 0; k < n; k++) {
				uint64_t d = evs[k].data.u64;

				if (d & LISTENER_TAG) {
					accept_all(w, listen_fds[(uint32_t)d]);
					accepted = 1;
				} else {
					client_event(w, (int)d, evs[k].events);
				}
			}
			timeout_ns = 0;
			n = accepted && opt.close_mode == CLOSE_FIN;
		} while (n);
	}

	/* whatever is still in flight after the drain timeout has failed */
	for (k = 0; k < INFLIGHT; k++) {
		if (w->fds[k] >= 0) {
			note_failure(w, ETIMEDOUT);
			finish(w, k);
		}
	}
	/* rst mode: pick up the last (already reset) connections */
	for (k = 0; k < w->nports; k++)
		accept_all(w, listen_fds[w->ports[k]]);
	close(w->ep);
	return NULL;
}

/* ------------------------------------------------------------ --split */

static atomic_int split_clients_left;

struct split_stats {
	pthread_t tid;
	uint64_t done, failed, accepted;
	int first_errno;
};

static void *split_client(void *p)
{
	struct split_stats *st = p;
	struct sockaddr_storage dst = opt.addr;
	struct linger lg = { 1, 0 };
	uint64_t wait_ns;

	set_port(&dst, opt.port_base);
	pthread_barrier_wait(&start_barrier);
	for (;;) {
		enum claim_result c = claim(now_ns(), &wait_ns);
		int fd;

		if (c == CLAIM_DONE)
			break;
		if (c == CLAIM_WAIT) {
			struct timespec ts = { (time_t)(wait_ns / 1000000000ull), (long)(wait_ns % 1000000000ull) };

			nanosleep(&ts, NULL);
			continue;
		}
		fd = socket(opt.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			st->failed++;
			if (!st->first_errno)
				st->first_errno = errno;
			continue;
		}
		if (connect(fd, (struct sockaddr *)&dst, opt.addr_len) == 0) {
			st->done++;
			if (opt.close_mode == CLOSE_RST)
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		} else {
			st->failed++;
			if (!st->first_errno)
				st->first_errno = errno;
		}
		close(fd);
	}
	atomic_fetch_sub(&split_clients_left, 1);
	return NULL;
}

static void *split_acceptor(void *p)
{
	struct split_stats *st = p;
	int lfd = listen_fds[0];
	struct pollfd pfd = { lfd, POLLIN, 0 };

	pthread_barrier_wait(&start_barrier);
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0) {
			st->accepted++;
			close(c);
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED && errno != EINTR)
			break;
		/* queue empty: stop once every client is done, else block until the next one */
		if (atomic_load(&split_clients_left) == 0)
			break;
		poll(&pfd, 1, 20);
	}
	return NULL;
}

/* Runs the --split storm; fills the totals main() prints. */
static void split_storm(uint64_t *done, uint64_t *failed, uint64_t *accepted, int *first_errno)
{
	int n = opt.threads, i, err;
	struct split_stats *st = calloc((size_t)n * 2, sizeof(*st));

	if (!st)
		fatal("calloc", ENOMEM);
	atomic_store(&split_clients_left, n);
	err = pthread_barrier_init(&start_barrier, NULL, (unsigned int)(2 * n) + 1);
	if (err)
		fatal("pthread_barrier_init", err);
	for (i = 0; i < 2 * n; i++) {
		err = pthread_create(&st[i].tid, NULL, i < n ? split_client : split_acceptor, &st[i]);
		if (err)
			fatal("pthread_create", err);
	}
	t0_ns = now_ns();
	pthread_barrier_wait(&start_barrier);
	for (i = 0; i < 2 * n; i++) {
		pthread_join(st[i].tid, NULL);
		*done += st[i].done;
		*failed += st[i].failed;
		*accepted += st[i].accepted;
		if (!*first_errno)
			*first_errno = st[i].first_errno;
	}
	free(st);
}

static void spin(double seconds)
{
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
	volatile uint64_t x = 0;

	while (now_ns() < end)
		for (int k = 0; k < 100000; k++)
			x += (uint64_t)k;
	printf("{\"spun\":%.1f}\n", seconds);
}

/* ------------------------------------------------------------ main */

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct worker *workers;
	uint64_t done = 0, failed = 0, accepted = 0, end_ns;
	int first_errno = 0;
	double seconds;
	int i, err;

	parse_args(argc, argv);
	if (opt.spin > 0.0) {
		spin(opt.spin);
		return 0;
	}
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	if (opt.split)
		opt.ports = 1;
	setup_listeners();
	if (opt.split) {
		/* the listener is polled, accepts never block past the end */
		split_storm(&done, &failed, &accepted, &first_errno);
		end_ns = now_ns();
		goto report;
	}

	workers = calloc((size_t)opt.threads, sizeof(*workers));
	if (!workers)
		fatal("calloc", ENOMEM);
	err = pthread_barrier_init(&start_barrier, NULL, (unsigned int)opt.threads + 1);
	if (err)
		fatal("pthread_barrier_init", err);
	for (i = 0; i < opt.threads; i++) {
		workers[i].index = i;
		worker_setup(&workers[i]);
		err = pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
		if (err)
			fatal("pthread_create", err);
	}

	t0_ns = now_ns();
	if (opt.duration > 0.0)
		deadline_ns = t0_ns + (uint64_t)(opt.duration * 1e9);
	pthread_barrier_wait(&start_barrier);

	for (i = 0; i < opt.threads; i++) {
		pthread_join(workers[i].tid, NULL);
		done += workers[i].done;
		failed += workers[i].failed;
		accepted += workers[i].accepted;
		if (!first_errno)
			first_errno = workers[i].first_errno;
	}
	end_ns = now_ns();

	for (i = 0; i < opt.threads; i++)
		free(workers[i].ports);
	free(workers);
report:
	for (i = 0; i < opt.ports; i++)
		close(listen_fds[i]);

	if (failed)
		fprintf(stderr, "storm: %llu connection(s) failed, first error: %s\n",
			(unsigned long long)failed, strerror(first_errno));
	if (getenv("STORM_VERBOSE"))
		fprintf(stderr, "storm: server accepted %llu connection(s)\n",
			(unsigned long long)accepted);

	seconds = (double)(end_ns - t0_ns) / 1e9;
	printf("{\"connections\":%llu,\"failed\":%llu,\"seconds\":%.6f,"
	       "\"rate\":%.1f,\"threads\":%d,\"close\":\"%s\","
	       "\"port_base\":%d,\"ports\":%d}\n",
	       (unsigned long long)done, (unsigned long long)failed, seconds,
	       seconds > 0.0 ? (double)done / seconds : 0.0, opt.threads,
	       opt.close_mode == CLOSE_FIN ? "fin" : "rst", opt.port_base,
	       opt.ports);
	fflush(stdout);

	free(listen_fds);
	return done == 0 && failed > 0 ? 1 : 0;
}
