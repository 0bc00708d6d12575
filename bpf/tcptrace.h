/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one definition of what crosses from the kernel to user space.
 * The TypeScript side is generated from the compiled object's BTF (scripts/gen-record.js, run by
 * npm run build:bpf); test/unit/record.test.ts proves it current. docs/ARCHITECTURE.md: adding a field.
 * Fields are ordered so that no implicit padding exists anywhere.
 */
#ifndef TCPTRACE_H
#define TCPTRACE_H

#define TCPTRACE_COMM_LEN 16
#define TCPTRACE_MAX_PORTS 16

/* Why a socket reached CLOSE (event.cause; 0 on every other transition). */
enum tcptrace_cause {
	TCPTRACE_CAUSE_NONE = 0,
	TCPTRACE_CAUSE_NORMAL = 1,     /* orderly close: FIN exchange or close before connect */
	TCPTRACE_CAUSE_RESET_RECV = 2, /* peer sent RST */
	TCPTRACE_CAUSE_RESET_SENT = 3, /* we sent RST (abort, unread data, linger 0) */
	TCPTRACE_CAUSE_REFUSED = 4,    /* connect answered by RST (ECONNREFUSED) */
	TCPTRACE_CAUSE_TIMEOUT = 5,    /* SYN or data retransmits exhausted (ETIMEDOUT) */
	TCPTRACE_CAUSE_ERROR = 6,      /* another socket error: see event.error */
};

/* event.diagnosis: why a handshake was retransmitted, from kernel evidence (docs/HANDSHAKE.md). */
enum tcptrace_handshake_diag {
	TCPTRACE_HS_NONE = 0,              /* no retransmit seen, nothing to explain */
	TCPTRACE_HS_ACCEPT_QUEUE_FULL = 1, /* the listener's accept queue was full */
	TCPTRACE_HS_SYN_DROPPED = 2,       /* the listener dropped the SYN, cookies off: which queue was
	                                      full the kernel counts but does not record per packet */
	TCPTRACE_HS_SYN_COOKIE = 3,        /* completed from a SYN cookie */
	TCPTRACE_HS_LOST = 4,              /* retransmitted while neither queue was full */
	TCPTRACE_HS_UNKNOWN = 5,           /* retransmitted; the listener is not visible here */
};

/* event.diag_evidence: what the diagnosis rests on (docs/HANDSHAKE.md says which are proof). */
enum tcptrace_handshake_evidence {
	TCPTRACE_HSE_NONE = 0,
	TCPTRACE_HSE_REQUEST_ACKED = 1,    /* proof: the kernel marked the request when it dropped its
	                                      final ACK on a full accept queue */
	TCPTRACE_HSE_REQUEST_UNACKED = 2,  /* proof: a SYN-ACK retransmit of a request no ACK reached */
	TCPTRACE_HSE_SYN_ANSWERED = 3,     /* proof: the retransmitted SYN found its request (the
	                                      listener answered it): the SYN-ACK was lost */
	TCPTRACE_HSE_LISTENER_DROP = 4,    /* inference: the listener counted a drop (sk_drops) between
	                                      the SYN and its retransmit; shared by its clients */
	TCPTRACE_HSE_NO_LISTENER_DROP = 5, /* inference: the listener counted none */
	TCPTRACE_HSE_COOKIE_CHILD = 6,     /* a child with no SYN-ACK RTT on a listener that sent cookies */
	TCPTRACE_HSE_NO_LISTENER = 7,      /* the listener is not on this host in this namespace */
};

/* event.flags */
enum tcptrace_flags {
	TCPTRACE_F_OWNER_KNOWN = 1 << 0,     /* owner_* fields are valid */
	TCPTRACE_F_OWNER_INHERITED = 1 << 1, /* owner taken from the listening socket */
	TCPTRACE_F_TIME_WAIT = 1 << 2,       /* this CLOSE hands the connection to TIME_WAIT */
	TCPTRACE_F_PREV_SEEN = 1 << 3,       /* delta_ns is measured (else 0: old state entry unseen) */
	TCPTRACE_F_PASSIVE = 1 << 4,         /* socket was accepted from a listener */
	TCPTRACE_F_ACTIVE = 1 << 5,          /* socket called connect() */
	TCPTRACE_F_ACCEPT = 1 << 6,          /* not a transition: accept() returned this socket */
	TCPTRACE_F_LISTENER_SHARED = 1 << 7, /* with OWNER_INHERITED: a process other than the listen()
	                                        caller has accepted from this listener (several hold it) */
};

/* event.owner_how: which mechanism named the owner (docs/ATTRIBUTION.md). */
enum tcptrace_owner_how {
	TCPTRACE_OWNER_NONE = 0,
	TCPTRACE_OWNER_SYSCALL = 1,  /* a transition only the owner's system call makes */
	TCPTRACE_OWNER_LISTENER = 2, /* before accept: the listening socket's owner */
	TCPTRACE_OWNER_ACCEPT = 3,   /* the task whose accept() returned the socket */
	TCPTRACE_OWNER_USE = 4,      /* the last process that sent or received on it */
};

struct tcptrace_event {
	__u64 ts_ns;        /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 skaddr;       /* struct sock * (identity only) */
	__u64 delta_ns;     /* time spent in oldstate */
	__u64 cgroup_id;    /* owner's cgroup v2 id */
	__u32 cpu_pid;      /* task on the CPU when the transition ran (tgid) */
	__u32 cpu_tid;
	__u32 owner_pid;    /* process that owns the socket (tgid) */
	__u32 netns;        /* network namespace inode of the socket */
	__u32 sock_ino;     /* socket inode (0 before accept) for late owner lookup */
	__u32 rtt_us;       /* smoothed RTT at the transition, 0 if none */
	__u32 handshake_us; /* on ->ESTABLISHED: SYN_SENT/first SYN-ACK to now, 0 if unknown */
	__u16 family;       /* AF_INET 2 or AF_INET6 10 */
	__u16 sport;        /* local port, host order */
	__u16 dport;        /* remote port, host order */
	__u16 error;        /* last socket error (errno), 0 if none */
	__u8 oldstate;
	__u8 newstate;
	__u8 cause;         /* enum tcptrace_cause */
	__u8 flags;         /* enum tcptrace_flags */
	__u8 syn_retrans;   /* SYN retransmits of an active open */
	__u8 synack_retrans;/* SYN-ACK retransmits of a passive open */
	__u8 owner_how;     /* enum tcptrace_owner_how */
	__u8 totals_read;   /* enum tcptrace_totals: which of the totals below were read */
	__u8 saddr[16];     /* local address: first 4 bytes for IPv4 */
	__u8 daddr[16];     /* remote address */
	char cpu_comm[TCPTRACE_COMM_LEN];
	char owner_comm[TCPTRACE_COMM_LEN];
	__u32 accept_wait_us; /* passive: ESTABLISHED to accept() returning it, 0 if unmeasured */
	/* A connection's totals from struct tcp_sock, on its ->CLOSE only (bpf/conn-stats.bpf.h;
	 * docs/SCHEMA.md gives each one's kernel source); 0 on every other record. */
	__u64 bytes_acked;    /* bytes sent and acknowledged by the peer */
	__u64 bytes_received; /* bytes received in order */
	__u64 bytes_retrans;  /* bytes retransmitted */
	__u32 segs_out;       /* segments sent, retransmits included */
	__u32 segs_in;        /* segments received */
	__u32 retrans_segs;   /* segments retransmitted (total_retrans) */
	__u32 retrans_rto;    /* retransmission timeouts (6.7+: TCPTRACE_TOTALS_RTO) */
	__u32 rtt_min_us;     /* minimum RTT seen */
	__u32 busy_jiffies;   /* time with data in flight or queued (tcp_info busy_time), jiffies */
	__u32 rwnd_limited_jiffies;   /* of which limited by the peer's receive window */
	__u32 sndbuf_limited_jiffies; /* of which limited by the send buffer */
	/* Why the handshake was retransmitted (bpf/handshake.bpf.h, docs/HANDSHAKE.md), from the
	 * retransmit on; 0 (none) on every record before one. */
	__u8 diagnosis;         /* enum tcptrace_handshake_diag */
	__u8 diag_evidence;     /* enum tcptrace_handshake_evidence */
	__u16 listener_backlog; /* with diagnosis: the listener's accept queue (sk_ack_backlog) at the retransmit */
	__u16 listener_max;     /* and its limit (sk_max_ack_backlog); each saturates at 65535 */
	__u16 reserved_hs2;
	__u32 reserved_hs3;
};

/* event.totals_read */
enum tcptrace_totals {
	TCPTRACE_TOTALS_READ = 1 << 0, /* the totals were read (a connection's CLOSE) */
	TCPTRACE_TOTALS_RTO = 1 << 1,  /* the kernel counts RTO timeouts (6.7+): retrans_rto is valid */
};

/* Kernel-side counters, one per CPU: seen = delivered + dropped. */
struct tcptrace_counters {
	__u64 seen;    /* events that passed the kernel filters */
	__u64 dropped; /* of those, events the buffer had no room for */
	__u64 accepts_seen;    /* accept records (TCPTRACE_F_ACCEPT), apart from the transitions */
	__u64 accepts_dropped;
};

/*
 * Filters and delivery settings, written into .rodata before load so the verifier
 * prunes what is not asked for. Zero means "no filter".
 */
struct tcptrace_config {
	__u64 cgroup_id;    /* only sockets owned by this cgroup v2 id */
	__u32 owner_pid;    /* only sockets owned by this process */
	__u32 netns;        /* only sockets in this network namespace */
	__u32 state_mask;   /* bit n set: keep transitions into state n */
	__u32 wakeup_bytes; /* wake user space once this much is queued; 0 = every record */
	__u16 family;       /* AF_INET or AF_INET6 */
	__u8 n_lports;
	__u8 n_rports;
	__u8 use_perfbuf;   /* deliver through the perf buffer instead of the ring buffer */
	__u8 accept_records; /* send a TCPTRACE_F_ACCEPT record per accept() */
	__u8 conn_totals;   /* read a connection's totals at its CLOSE (bpf/conn-stats.bpf.h) */
	__u8 reserved[1];
	__u16 lports[TCPTRACE_MAX_PORTS];
	__u16 rports[TCPTRACE_MAX_PORTS];
	char comm[TCPTRACE_COMM_LEN]; /* only sockets whose owner has this comm */
};

#endif
