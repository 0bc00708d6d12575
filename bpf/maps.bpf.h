/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The configuration (.rodata) and every map the programs share: delivery (ring or perf
 * buffer), counters, what we know of each socket, listeners, SYN-ACK retransmits.
 * Included by tcptrace.bpf.c, in its order: each part uses only what the parts before it declare.
 */

/* A ring buffer record: 8-byte header plus the event, rounded to 8 bytes. */
#define RECORD_BYTES (8 + ((sizeof(struct tcptrace_event) + 7) & ~7))

/* ---- configuration (rodata, written by the loader before load) ---- */
const volatile struct tcptrace_config cfg = {};

/* ---- maps ---- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

/*
 * A record's counters and perf-buffer scratch come in two slots per CPU: a send that interrupts
 * another one on the same CPU (a state change in softirq, while a process-context handler or
 * accept hook is sending; on kernels without a per-program recursion guard, e.g. 5.10, the
 * handler within itself) takes the other slot, so neither a non-atomic count nor a record being
 * built is shared. The loader sums both. Only process context and softirq send: two levels.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} emit_depth SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct tcptrace_counters);
} counters SEC(".maps");

/*
 * Perf-buffer mode builds each record here, not on the stack: a 200-byte record there plus its
 * callers' frames passes the verifier's 512-byte limit. One per slot (above).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct tcptrace_event);
} perf_scratch SEC(".maps");

struct owner {
	__u64 cgroup_id;
	__u32 pid;
	__u8 known; /* 0 or TCPTRACE_F_OWNER_KNOWN [| TCPTRACE_F_OWNER_INHERITED] [| TCPTRACE_F_LISTENER_SHARED] */
	__u8 how;   /* enum tcptrace_owner_how */
	__u16 pad;
	char comm[TCPTRACE_COMM_LEN];
};

/* What we remember about a live socket; forgotten on CLOSE, LRU so misses cannot leak. */
struct sock_info {
	__u64 last_ts;
	__u64 syn_sent_ts;     /* active open start, for the handshake time */
	struct owner owner;
	__u16 error;
	__u8 rst_recv;
	__u8 rst_sent;
	__u8 syn_retrans;
	__u8 synack_retrans;
	__u8 side;             /* TCPTRACE_F_ACTIVE or TCPTRACE_F_PASSIVE */
	__u8 hs_diag;          /* enum tcptrace_handshake_diag (handshake.bpf.h) */
	__u32 netns;           /* read once: ns.inum sits on a line of struct net that is often cold */
	__u32 accept_wait_us;  /* passive: ESTABLISHED to accept() returning it (0: not measured) */
	__u64 established_ts;  /* passive: SYN_RECV->ESTABLISHED, for the accept wait */
	__u16 sport, dport;    /* passive, from ESTABLISHED on: the accept hook needs no probe read */
	__u32 user_tgid;      /* first-use hooks without socket storage: who last took it over */
	__u64 deferred_syn_recv_ts; /* LISTEN->SYN_RECV held back until the 4-tuple is set (see below) */
	__u32 hs_fill;         /* with hs_diag: the listener's accept queue then, fill << 16 | limit */
	__u8 hs_evidence;      /* with hs_diag: enum tcptrace_handshake_evidence */
	__u8 pad4[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072); /* resized by the loader */
	__type(key, __u64);
	__type(value, struct sock_info);
} socks SEC(".maps");

/* Listening sockets by (netns, port): accepted children inherit their owner. */
struct listen_key { __u32 netns; __u32 port; };
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct listen_key);
	__type(value, struct owner);
} listeners SEC(".maps");

/* A request socket whose SYN-ACK was retransmitted, by 4-tuple, until its child exists. */
struct flow_key {
	__u32 netns;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};
struct synack_info { __u64 first_synack_us; __u32 retrans; __u32 fill; __u8 diag; __u8 evidence; __u8 pad[6]; };
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct flow_key);
	__type(value, struct synack_info);
} synack_flows SEC(".maps");

/*
 * Entries added to synack_flows minus those removed. LRU evictions are not subtracted, so
 * it can only be too high; while it is zero, a new connection skips the flow lookup.
 */
__u64 synack_pending = 0;

/* Keeps struct tcptrace_event in the object's BTF for the layout test. */
struct tcptrace_event *unused_event_type __attribute__((unused));
