// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcptrace kernel side: one record per TCP state change, owner attribution and
 * close causes from neighbouring tracepoints. CO-RE: only the fields read below are
 * declared, with preserve_access_index, so no vmlinux.h or kernel headers are needed.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcptrace.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define ECONNREFUSED 111
#define ETIMEDOUT 110

enum {
	TCP_ESTABLISHED = 1, TCP_SYN_SENT, TCP_SYN_RECV, TCP_FIN_WAIT1, TCP_FIN_WAIT2,
	TCP_TIME_WAIT, TCP_CLOSE, TCP_CLOSE_WAIT, TCP_LAST_ACK, TCP_LISTEN, TCP_CLOSING,
};

/* ---- the kernel types we read (matched by name at load time) ---- */
struct in6_addr { union { __u32 u6_addr32[4]; } in6_u; } __attribute__((preserve_access_index));
struct ns_common { unsigned int inum; } __attribute__((preserve_access_index));
struct net { struct ns_common ns; } __attribute__((preserve_access_index));
struct sock_common {
	__u32 skc_daddr;
	__u32 skc_rcv_saddr;
	__u16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct { struct net *net; } skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));
/* inet_sport survives the port release on CLOSE, unlike skc_num (the tracepoint uses it too). */
struct inet_sock { __u16 inet_sport; } __attribute__((preserve_access_index));
struct inode { unsigned long i_ino; } __attribute__((preserve_access_index));
struct file { struct inode *f_inode; } __attribute__((preserve_access_index));
struct socket { struct file *file; } __attribute__((preserve_access_index));
struct socket_alloc { struct socket socket; struct inode vfs_inode; } __attribute__((preserve_access_index));
struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	int sk_err;
	struct socket *sk_socket;
} __attribute__((preserve_access_index));
struct tcp_sock { __u32 srtt_us; __u32 total_retrans; } __attribute__((preserve_access_index));
struct task_struct { char comm[TCPTRACE_COMM_LEN]; } __attribute__((preserve_access_index));
struct request_sock { struct sock_common __req_common; } __attribute__((preserve_access_index));
struct tcp_request_sock { __u64 snt_synack; } __attribute__((preserve_access_index));
struct trace_event_raw_inet_sock_set_state {
	const void *skaddr;
	int oldstate;
	int newstate;
} __attribute__((preserve_access_index));
struct trace_event_raw_tcp_event_sk { const void *skaddr; } __attribute__((preserve_access_index));
struct trace_event_raw_tcp_event_sk_skb { const void *skaddr; } __attribute__((preserve_access_index));
struct trace_event_raw_tcp_send_reset { const void *skaddr; } __attribute__((preserve_access_index));
struct trace_event_raw_tcp_retransmit_skb { const void *skaddr; } __attribute__((preserve_access_index));
struct trace_event_raw_tcp_retransmit_synack {
	const void *skaddr;
	const void *req;
} __attribute__((preserve_access_index));

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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcptrace_counters);
} counters SEC(".maps");

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
	__u32 hs_fill;         /* with hs_diag: the listener's accept queue then, fill << 16 | limit */
	__u64 deferred_syn_recv_ts; /* LISTEN->SYN_RECV held back until the 4-tuple is set (see below) */
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
struct synack_info { __u64 first_synack_us; __u32 retrans; __u32 fill; __u8 diag; __u8 pad[7]; };
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

/*
 * ---- reading the kernel's structures ----
 * Every function below takes `btf`, a compile-time constant: true in tp_btf programs,
 * whose socket is a BTF-typed pointer that plain loads may read (the verifier makes them
 * fault-safe), false in classic tracepoint programs, where the pointer is untyped and each
 * field costs a bpf_probe_read_kernel call. One body of logic, two specialisations.
 */
/* Helpers newer than tp_btf itself (5.11, 5.9): the verifier prunes the branch not taken. */
#define HAVE_HELPER(name) bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_##name)

/* One field of a kernel structure, in either mode: a plain load, or a CO-RE probe read. */
#define KREAD(btf, p, field) ((btf) ? (p)->field : BPF_CORE_READ(p, field))

static __always_inline __u32 sk_netns(const struct sock_common *skc, const bool btf)
{
	const struct net *net = KREAD(btf, skc, skc_net.net);
	return KREAD(btf, net, ns.inum);
}

static __always_inline void read_addrs(const struct sock_common *skc, __u16 family, __u8 *saddr,
				       __u8 *daddr, const bool btf)
{
	if (family == AF_INET) {
		*(__u32 *)saddr = KREAD(btf, skc, skc_rcv_saddr);
		*(__u32 *)daddr = KREAD(btf, skc, skc_daddr);
	} else if (btf) {
		*(struct in6_addr *)saddr = skc->skc_v6_rcv_saddr;
		*(struct in6_addr *)daddr = skc->skc_v6_daddr;
	} else {
		/* straight into place (KREAD would copy through a temporary) */
		BPF_CORE_READ_INTO((struct in6_addr *)saddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)daddr, skc, skc_v6_daddr);
	}
}

/*
 * Socket inode number (0 before the socket has one), for late owner lookup in /proc. With
 * tp_btf, `so` is sk->sk_socket read by read_socket on the program's first path: loading a
 * pointer through the trusted `sk` makes the verifier look the field's type up by name in the
 * kernel BTF (four linear scans of ~150 000 types) each time it verifies that load, and here,
 * reached on many paths, that cost ~16 ms of CPU per start (BENCHMARKS.md, Start-up). Loads
 * through `so` (no longer trusted) cost no lookup.
 */
static __always_inline __u32 sock_inode(const struct sock *sk, const struct socket *so, const bool btf)
{
	if (!btf) {
		so = BPF_CORE_READ(sk, sk_socket);
		return so ? BPF_CORE_READ((struct socket_alloc *)so, vfs_inode.i_ino) : 0;
	}
	if (!so)
		return 0;
	/*
	 * The verifier will not read a struct socket as its socket_alloc container, but the
	 * socket's file has the same inode; only a socket without a file (a kernel socket)
	 * needs the probe read.
	 */
	struct file *f = so->file;
	if (f)
		return f->f_inode->i_ino;
	return BPF_CORE_READ((struct socket_alloc *)so, vfs_inode.i_ino);
}

/*
 * The current task's comm. bpf_get_current_comm copies it with strscpy_pad (a call, a
 * strnlen and a memset); four plain loads give the same text: the task's comm always ends
 * in a NUL, and the kernel zero-fills it on rename (older kernels may leave bytes after
 * the NUL, which the decoder ignores).
 */
static __always_inline void current_comm(char *dst, const bool btf)
{
	if (btf && HAVE_HELPER(get_current_task_btf)) {
		const __u32 *src = (const __u32 *)bpf_get_current_task_btf()->comm;
		__u32 *d = (__u32 *)dst;
		for (int i = 0; i < TCPTRACE_COMM_LEN / 4; i++)
			d[i] = src[i];
	} else {
		bpf_get_current_comm(dst, TCPTRACE_COMM_LEN);
	}
}

/*
 * ---- one transition, step by step ----
 * A transition being handled (or an accept record, owner.bpf.h): each step of the handler reads
 * it and adds what it learns; the emit step copies it into the record user space reads.
 */
struct transition {
	const struct sock *sk;
	const struct socket *so; /* tp_btf only: see sock_inode */
	struct sock_info *si;    /* the socket's map entry, or a new one on the stack */
	__u64 now, delta, pid_tgid;
	__u32 netns, handshake_us, rtt_us;
	__u16 family, sport, dport;
	int old, new;
	__u8 flags;
	__u8 cause;         /* enum tcptrace_cause */
	__u8 comm_is_owner; /* the owner was just taken from the current task */
	__u8 lean;          /* an accept record: no addresses, inode or RTT (user space needs none) */
};

#include "handshake.bpf.h"

/* Step 1, the socket: false unless a full TCP socket (not MPTCP, SCTP...). */
static __always_inline bool read_socket(struct transition *t, const bool btf)
{
	const struct sock *sk = t->sk;
	__u16 sport;
	__u32 srtt_us;

	if (btf && HAVE_HELPER(skc_to_tcp_sock)) {
		/* NULL unless a TCP socket; the typed tcp_sock it returns lets plain loads reach
		 * the inet_sock and tcp_sock fields */
		const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
		if (!tp)
			return false;
		sport = ((const struct inet_sock *)tp)->inet_sport;
		srtt_us = tp->srtt_us;
	} else {
		if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP)
			return false;
		sport = BPF_CORE_READ((struct inet_sock *)sk, inet_sport);
		srtt_us = BPF_CORE_READ((struct tcp_sock *)sk, srtt_us);
	}
	t->so = btf ? sk->sk_socket : 0; /* here, on one path: see sock_inode */
	t->sport = bpf_ntohs(sport);
	t->rtt_us = srtt_us >> 3;
	t->family = KREAD(btf, sk, __sk_common.skc_family);
	t->dport = bpf_ntohs(KREAD(btf, sk, __sk_common.skc_dport));
	return true;
}

/*
 * Step 2, what we know of the socket: its entry in `socks`, or for a socket seen for the first
 * time a new one built in `fresh` (stored once at the end, not at all if this is its CLOSE:
 * that saves the lookup that would fetch it back). Returns whether the entry is new.
 */
static __always_inline bool find_sock_info(struct transition *t, struct sock_info *fresh, const bool btf)
{
	__u64 key = (__u64)t->sk;
	struct sock_info *si = bpf_map_lookup_elem(&socks, &key);
	/* a new child socket: an entry under its address belonged to a freed socket */
	bool child = t->old == TCP_LISTEN && t->new == TCP_SYN_RECV;

	if (si && !child) {
		t->si = si;
		t->netns = si->netns;
		/* 0 when the entry was made by accept() or a send/recv, not by a transition */
		if (si->last_ts) {
			t->delta = t->now - si->last_ts;
			t->flags |= TCPTRACE_F_PREV_SEEN;
		}
		return false;
	}
	__builtin_memset(fresh, 0, sizeof(*fresh));
	t->si = fresh;
	t->netns = fresh->netns = sk_netns(&t->sk->__sk_common, btf);
	if (child) {
		/* maybe a child of a listener we know: it inherits the listener's owner */
		struct listen_key lk = { .netns = t->netns, .port = t->sport };
		struct owner *lo = bpf_map_lookup_elem(&listeners, &lk);
		if (lo) {
			fresh->owner = *lo;
			fresh->owner.known |= TCPTRACE_F_OWNER_INHERITED;
			fresh->owner.how = TCPTRACE_OWNER_LISTENER;
		}
		fresh->side = TCPTRACE_F_PASSIVE;
	}
	return true;
}

/* Transitions that only a system call of the socket's owner makes (see docs/ATTRIBUTION.md). */
static __always_inline int in_owner_context(int old, int new)
{
	return (old == TCP_CLOSE && (new == TCP_SYN_SENT || new == TCP_LISTEN)) ||
	       (old == TCP_LISTEN && new == TCP_CLOSE) || /* the last holder's close or exit */
	       (old == TCP_ESTABLISHED && new == TCP_FIN_WAIT1) ||
	       (old == TCP_CLOSE_WAIT && new == TCP_LAST_ACK);
}

static __always_inline void owner_from_current(struct owner *o, __u64 pid_tgid, __u8 how, const bool btf)
{
	o->pid = pid_tgid >> 32;
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->known = TCPTRACE_F_OWNER_KNOWN;
	o->how = how;
	current_comm(o->comm, btf);
}

/* Step 3, the owner: taken from the current task where only the owner can be running. */
static __always_inline void note_owner(struct transition *t, const bool btf)
{
	struct sock_info *si = t->si;

	if (in_owner_context(t->old, t->new) && (t->pid_tgid >> 32)) {
		owner_from_current(&si->owner, t->pid_tgid, TCPTRACE_OWNER_SYSCALL, btf);
		t->comm_is_owner = 1;
	}
	if (t->new == TCP_LISTEN && si->owner.known) {
		/* its future children inherit it */
		struct listen_key lk = { .netns = t->netns, .port = t->sport };
		bpf_map_update_elem(&listeners, &lk, &si->owner, BPF_ANY);
	}
}

/*
 * Step 4, the handshake time: from connect() for an active open; for a passive one from the
 * first SYN-ACK if it was retransmitted, else the kernel's SYN-ACK RTT sample.
 */
static __always_inline void time_handshake(struct transition *t, const bool btf)
{
	struct sock_info *si = t->si;

	if (t->new == TCP_SYN_SENT) {
		si->side = TCPTRACE_F_ACTIVE;
		si->syn_sent_ts = t->now;
		return;
	}
	if (t->new != TCP_ESTABLISHED)
		return;
	if (t->old == TCP_SYN_SENT && si->syn_sent_ts) {
		t->handshake_us = (t->now - si->syn_sent_ts) / 1000;
		return;
	}
	if (t->old != TCP_SYN_RECV)
		return;
	si->established_ts = t->now;
	si->sport = t->sport;
	si->dport = t->dport;
	struct flow_key fk = { .netns = t->netns, .lport = t->sport, .rport = t->dport };
	struct synack_info *sa = 0;
	if (synack_pending) {
		read_addrs(&t->sk->__sk_common, t->family, fk.laddr, fk.raddr, btf);
		sa = bpf_map_lookup_elem(&synack_flows, &fk);
	}
	if (!sa) {
		t->handshake_us = t->rtt_us;
		passive_handshake_evidence(t, 0);
		return;
	}
	/* total_retrans is only copied from the request after the clone's state change, so
	 * count the SYN-ACK retransmits we saw ourselves */
	t->handshake_us = t->now / 1000 - sa->first_synack_us;
	si->synack_retrans = sa->retrans > 255 ? 255 : sa->retrans;
	passive_handshake_evidence(t, sa);
	if (bpf_map_delete_elem(&synack_flows, &fk) == 0)
		__sync_fetch_and_add(&synack_pending, -1);
}

static __always_inline __u8 close_cause(const struct sock_info *si, int old, __u8 *flags)
{
	if (old == TCP_SYN_SENT) {
		if (si->error == ECONNREFUSED || si->rst_recv)
			return TCPTRACE_CAUSE_REFUSED;
		if (si->error == ETIMEDOUT)
			return TCPTRACE_CAUSE_TIMEOUT;
	}
	if (si->rst_recv)
		return TCPTRACE_CAUSE_RESET_RECV;
	if (si->error == ETIMEDOUT)
		return TCPTRACE_CAUSE_TIMEOUT;
	if (si->rst_sent)
		return TCPTRACE_CAUSE_RESET_SENT;
	if (si->error)
		return TCPTRACE_CAUSE_ERROR;
	if (old == TCP_FIN_WAIT2 || old == TCP_CLOSING) {
		*flags |= TCPTRACE_F_TIME_WAIT;
		return TCPTRACE_CAUSE_NORMAL;
	}
	/*
	 * Leaving these states for CLOSE with no reset received and no error is an abortive
	 * close (linger 0, unread data, shutdown by the owner): the kernel moves to CLOSE
	 * first and sends the RST right after, so tcp_send_reset has not fired yet.
	 */
	if (old == TCP_ESTABLISHED || old == TCP_CLOSE_WAIT || old == TCP_FIN_WAIT1 || old == TCP_SYN_RECV)
		return TCPTRACE_CAUSE_RESET_SENT;
	return TCPTRACE_CAUSE_NORMAL;
}

/*
 * Step 5, the cause of a close, from what the cause tracepoints (below) noted and the socket's
 * error: tcp_reset() sets sk_err before tcp_done() but reports it only afterwards.
 */
static __always_inline void find_cause(struct transition *t, const bool btf)
{
	const struct sock *sk = t->sk; /* a local: CO-RE reads through a struct member make it escape */

	if (t->new != TCP_CLOSE)
		return;
	int err = KREAD(btf, sk, sk_err);
	if (err > 0)
		t->si->error = err;
	t->cause = close_cause(t->si, t->old, &t->flags);
}

/* ---- the filter and the emit steps ---- */
static __always_inline int port_listed(__u16 port, const volatile __u16 *ports, __u8 n)
{
	/* unrolled: kernels before 5.3 refuse any loop */
#pragma unroll
	for (int i = 0; i < TCPTRACE_MAX_PORTS; i++) {
		if (i < n && ports[i] == port)
			return 1;
	}
	return 0;
}

static __always_inline int comm_equal(const char *a, const volatile char *b)
{
#pragma unroll
	for (int i = 0; i < TCPTRACE_COMM_LEN; i++) {
		if (a[i] != b[i])
			return 0;
		if (a[i] == 0)
			return 1;
	}
	return 1;
}

/* Kernel filters: an unknown owner passes so user space can still attribute it. */
static __always_inline bool wanted(const struct transition *t)
{
	const struct sock_info *si = t->si;

	if (cfg.family && t->family != cfg.family)
		return false;
	if (cfg.netns && t->netns != cfg.netns)
		return false;
	if (cfg.state_mask && !(cfg.state_mask & (1u << t->new)))
		return false;
	if (cfg.n_lports && !port_listed(t->sport, cfg.lports, cfg.n_lports))
		return false;
	if (cfg.n_rports && !port_listed(t->dport, cfg.rports, cfg.n_rports))
		return false;
	/*
	 * Before accept the owner is only the listener's (a guess when several processes share
	 * it): user space holds these until accept() or CLOSE decides whose connection it is.
	 */
	if (si->owner.known && si->owner.how != TCPTRACE_OWNER_LISTENER) {
		if (cfg.owner_pid && si->owner.pid != cfg.owner_pid)
			return false;
		if (cfg.cgroup_id && si->owner.cgroup_id != cfg.cgroup_id)
			return false;
		if (cfg.comm[0] && !comm_equal(si->owner.comm, cfg.comm))
			return false;
	}
	return true;
}

static __always_inline void count(int dropped, bool accept)
{
	__u32 zero = 0;
	struct tcptrace_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (!c)
		return;
	if (accept) {
		c->accepts_seen++;
		if (dropped)
			c->accepts_dropped++;
		return;
	}
	c->seen++;
	if (dropped)
		c->dropped++;
}

static __always_inline void fill_event(struct tcptrace_event *e, const struct transition *t, const bool btf)
{
	const struct sock *sk = t->sk;
	const struct sock_info *si = t->si;

	e->ts_ns = t->now;
	e->skaddr = (__u64)sk;
	e->delta_ns = t->delta;
	e->cgroup_id = si->owner.cgroup_id;
	e->cpu_pid = t->pid_tgid >> 32;
	e->cpu_tid = (__u32)t->pid_tgid;
	e->owner_pid = si->owner.pid;
	e->netns = t->netns;
	e->sock_ino = t->lean ? 0 : sock_inode(sk, t->so, btf);
	e->rtt_us = t->rtt_us;
	e->handshake_us = t->handshake_us;
	e->family = t->family;
	e->sport = t->sport;
	e->dport = t->dport;
	e->error = si->error;
	e->oldstate = t->old;
	e->newstate = t->new;
	e->cause = t->cause;
	e->flags = t->flags | si->owner.known | si->side;
	e->syn_retrans = si->syn_retrans;
	e->synack_retrans = si->synack_retrans;
	e->owner_how = si->owner.how;
	e->diagnosis = si->hs_diag;
	e->accept_wait_us = si->accept_wait_us;
	e->listener_backlog = si->hs_fill >> 16;
	e->listener_max = si->hs_fill & 0xffff;
	e->reserved2 = 0;
	__builtin_memset(e->saddr, 0, sizeof(e->saddr) * 2);
	if (!t->lean)
		read_addrs(&sk->__sk_common, t->family, e->saddr, e->daddr, btf);
	if (t->comm_is_owner)
		__builtin_memcpy(e->cpu_comm, si->owner.comm, sizeof(e->cpu_comm));
	else
		current_comm(e->cpu_comm, btf);
	__builtin_memcpy(e->owner_comm, si->owner.comm, sizeof(e->owner_comm));
}

/* Sends one record to user space (ring buffer, or perf buffer) and counts it. */
static __always_inline void emit_event(void *ctx, const struct transition *t, const bool btf)
{
	const bool accept = t->flags & TCPTRACE_F_ACCEPT;

	if (cfg.use_perfbuf) {
		struct tcptrace_event ev;
		fill_event(&ev, t, btf);
		count(bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &ev, sizeof(ev)) != 0, accept);
		return;
	}
	struct tcptrace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(1, accept);
		return;
	}
	fill_event(e, t, btf);
	/*
	 * Batched wakeups: wake the reader once, on the record that crosses wakeup_bytes (a
	 * wakeup per record above it would be an IRQ-work interrupt per event). The reader's
	 * epoll is level-triggered, so it keeps reading while data stays queued, and its
	 * flush timer collects what arrives below the threshold.
	 */
	__u64 wake = 0;
	if (cfg.wakeup_bytes) {
		__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA); /* includes e */
		__u64 before = queued > RECORD_BYTES ? queued - RECORD_BYTES : 0;
		wake = queued >= cfg.wakeup_bytes && before < cfg.wakeup_bytes ? BPF_RB_FORCE_WAKEUP
										 : BPF_RB_NO_WAKEUP;
	}
	bpf_ringbuf_submit(e, wake);
	count(0, accept);
}

/*
 * Steps 6 and 7, filter and emit: one copy per attach mode, called for a transition's record
 * and for a held-back LISTEN->SYN_RECV (below); a subprogram, so the second record does not
 * double the program's size (the classic tracepoint program must stay under 4096 instructions).
 */
static __noinline void emit_btf(void *ctx, const struct transition *t)
{
	if (wanted(t))
		emit_event(ctx, t, true);
}
static __noinline void emit_tp(void *ctx, const struct transition *t)
{
	if (wanted(t))
		emit_event(ctx, t, false);
}
static __always_inline void emit(void *ctx, const struct transition *t, const bool btf)
{
	if (btf)
		emit_btf(ctx, t);
	else
		emit_tp(ctx, t);
}

/*
 * Before 6.18, inet_csk_clone_lock() sets a new child's state before its ports and addresses
 * are copied from the request socket: its LISTEN->SYN_RECV record would show the listener's
 * (remote port 0). It is held back in the socket's info; the child's next transition, in the
 * same softirq, sends it first, with the full 4-tuple and its own time. The info is an LRU
 * entry, so a child that never moves again cannot leak it.
 */
static __always_inline bool hold_back_child(struct transition *t)
{
	if (t->old != TCP_LISTEN || t->new != TCP_SYN_RECV || t->dport)
		return false;
	t->si->deferred_syn_recv_ts = t->now;
	return true;
}

static __always_inline void send_held_back(void *ctx, const struct transition *t, const bool btf)
{
	struct sock_info *si = t->si;

	if (t->old == TCP_SYN_RECV) {
		struct transition d = {
			.sk = t->sk, .so = t->so, .si = si, .now = si->deferred_syn_recv_ts,
			.pid_tgid = t->pid_tgid, .netns = t->netns, .family = t->family, .sport = t->sport,
			.dport = t->dport, .old = TCP_LISTEN, .new = TCP_SYN_RECV,
		};
		emit(ctx, &d, btf);
	}
	si->deferred_syn_recv_ts = 0;
}

/* Last step: keep a new socket's entry, forget a closed one (and a closed listener). */
static __always_inline void remember(const struct transition *t, const struct sock_info *fresh, bool first_sight)
{
	__u64 key = (__u64)t->sk;

	if (t->new != TCP_CLOSE) {
		if (first_sight)
			bpf_map_update_elem(&socks, &key, fresh, BPF_ANY);
		return;
	}
	if (!first_sight)
		bpf_map_delete_elem(&socks, &key);
	if (t->old == TCP_LISTEN) {
		struct listen_key lk = { .netns = t->netns, .port = t->sport };
		bpf_map_delete_elem(&listeners, &lk);
	}
}

/* ---- the state change ---- */
static __always_inline int on_state_change(void *ctx, const struct sock *sk, int old, int new, const bool btf)
{
	struct transition t = { .sk = sk, .old = old, .new = new };
	struct sock_info fresh;

	/* Not a transition: older kernels (6.1) set LAST_ACK again when close() runs before the
	 * last ACK. Dropped before any bookkeeping, so the next delta still spans the whole state. */
	if (old == new)
		return 0;
	if (!read_socket(&t, btf))
		return 0;
	t.now = bpf_ktime_get_ns();
	t.pid_tgid = bpf_get_current_pid_tgid();

	bool first_sight = find_sock_info(&t, &fresh, btf);
	if (!first_sight && t.si->deferred_syn_recv_ts)
		send_held_back(ctx, &t, btf);
	t.si->last_ts = t.now;
	note_owner(&t, btf);
	if (t.new == TCP_LISTEN || t.old == TCP_LISTEN)
		note_listener_socket(&t);
	time_handshake(&t, btf);
	find_cause(&t, btf);
	if (!hold_back_child(&t))
		emit(ctx, &t, btf);
	remember(&t, &fresh, first_sight);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	return on_state_change(ctx, sk, oldstate, newstate, true);
}

SEC("tracepoint/sock/inet_sock_set_state")
int set_state_tp(struct trace_event_raw_inet_sock_set_state *args)
{
	return on_state_change(args, BPF_CORE_READ(args, skaddr), BPF_CORE_READ(args, oldstate),
			       BPF_CORE_READ(args, newstate), false);
}

/* ---- causes: remember what happened to a socket until it closes ---- */
static __always_inline struct sock_info *known_sock(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	return sk ? bpf_map_lookup_elem(&socks, &key) : 0;
}

static __always_inline void on_reset_received(const struct sock *sk)
{
	struct sock_info *si = known_sock(sk);
	if (si)
		si->rst_recv = 1;
}

static __always_inline void on_reset_sent(const struct sock *sk)
{
	struct sock_info *si = known_sock(sk);
	if (si)
		si->rst_sent = 1;
}

static __always_inline void on_retransmit(const struct sock *sk, const bool btf)
{
	if (!sk)
		return;
	/* only SYN retransmits count; the state is cheaper to check than the socket's info */
	int state = KREAD(btf, sk, __sk_common.skc_state);
	if (state != TCP_SYN_SENT)
		return;
	struct sock_info *si = known_sock(sk);
	if (!si)
		return;
	if (si->syn_retrans < 255)
		si->syn_retrans++;
	syn_retransmit_evidence(sk, si, btf);
}

static __always_inline void on_synack_retransmit(const struct sock *listener, const struct request_sock *req,
						 const bool btf)
{
	const struct sock_common *rc = &req->__req_common;
	struct flow_key fk = { .netns = sk_netns(&listener->__sk_common, btf) };
	__u16 family = KREAD(btf, rc, skc_family);

	fk.lport = KREAD(btf, rc, skc_num);
	fk.rport = bpf_ntohs(KREAD(btf, rc, skc_dport));
	read_addrs(rc, family, fk.laddr, fk.raddr, btf);
	struct listener_ref *ref = synack_listener(listener, fk.netns, fk.lport);
	answered_syn_retransmit(&fk, ref);
	struct synack_info *sa = bpf_map_lookup_elem(&synack_flows, &fk);
	if (sa) {
		sa->retrans++;
		synack_retransmit_evidence(listener, req, ref, &sa->diag, &sa->fill);
		return;
	}
	/* tcp_request_sock lies beyond the typed request_sock: a probe read in both modes */
	struct synack_info fresh = {
		.first_synack_us = BPF_CORE_READ((struct tcp_request_sock *)req, snt_synack),
		.retrans = 1,
	};
	synack_retransmit_evidence(listener, req, ref, &fresh.diag, &fresh.fill);
	if (bpf_map_update_elem(&synack_flows, &fk, &fresh, BPF_ANY) == 0)
		__sync_fetch_and_add(&synack_pending, 1);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(rst_recv_btf, struct sock *sk) { on_reset_received(sk); return 0; }
SEC("tracepoint/tcp/tcp_receive_reset")
int rst_recv_tp(struct trace_event_raw_tcp_event_sk *a) { on_reset_received(BPF_CORE_READ(a, skaddr)); return 0; }

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(rst_sent_btf, const struct sock *sk) { on_reset_sent(sk); return 0; }
SEC("tracepoint/tcp/tcp_send_reset")
int rst_sent_tp(void *ctx)
{
	/* Newer kernels give this event its own record type; older ones share tcp_event_sk_skb. */
	if (bpf_core_type_exists(struct trace_event_raw_tcp_send_reset))
		on_reset_sent(BPF_CORE_READ((struct trace_event_raw_tcp_send_reset *)ctx, skaddr));
	else
		on_reset_sent(BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb *)ctx, skaddr));
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(retrans_btf, const struct sock *sk) { on_retransmit(sk, true); return 0; }
SEC("tracepoint/tcp/tcp_retransmit_skb")
int retrans_tp(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb))
		on_retransmit(BPF_CORE_READ((struct trace_event_raw_tcp_retransmit_skb *)ctx, skaddr), false);
	else
		on_retransmit(BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb *)ctx, skaddr), false);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(synack_retrans_btf, const struct sock *sk, const struct request_sock *req)
{
	on_synack_retransmit(sk, req, true);
	return 0;
}
SEC("tracepoint/tcp/tcp_retransmit_synack")
int synack_retrans_tp(struct trace_event_raw_tcp_retransmit_synack *a)
{
	on_synack_retransmit(BPF_CORE_READ(a, skaddr), BPF_CORE_READ(a, req), false);
	return 0;
}

/* The classic form of this tracepoint carries no socket pointer, so it is tp_btf only. */
SEC("tp_btf/inet_sk_error_report")
int BPF_PROG(sk_error_btf, const struct sock *sk)
{
	struct sock_info *si = known_sock(sk);
	if (si)
		si->error = sk->sk_err;
	return 0;
}

#include "owner.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
