/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The state handler's first steps: the socket, what we know of it, its owner, the
 * handshake time and the cause of a close.
 * Included by tcptrace.bpf.c, in its order: each part uses only what the parts before it declare.
 */

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
	/* Leaving SYN_SENT after an RTO or more: the socket's own retransmit count, all of them a
	 * SYN's, stands for ours, which misses now and then one whose tracepoint program did not run
	 * (1-5 of ~700 SYN retransmits on a busy host whose kernel runs no BPF program while PID 1
	 * is current, see hidden.bpf.h). Only a slow handshake pays the read. */
	if (t->old == TCP_SYN_SENT && si->syn_sent_ts && t->now - si->syn_sent_ts >= 200000000) {
		const struct tcp_sock *tp = (const void *)t->sk;
		__u32 kernel = BPF_CORE_READ(tp, total_retrans);
		if (kernel > si->syn_retrans)
			si->syn_retrans = kernel > 255 ? 255 : kernel;
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
		return;
	}
	/* total_retrans is only copied from the request after the clone's state change, so
	 * count the SYN-ACK retransmits we saw ourselves */
	t->handshake_us = t->now / 1000 - sa->first_synack_us;
	si->synack_retrans = sa->retrans > 255 ? 255 : sa->retrans;
	si->hs_diag = sa->diag; /* why they were retransmitted (handshake.bpf.h) */
	si->hs_fill = sa->fill;
	si->hs_evidence = sa->evidence;
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
