/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Why a handshake was slow or failed, from kernel evidence (docs/HANDSHAKE.md), included by
 * tcptrace.bpf.c. Nothing here runs for a handshake without a retransmit, except one compare on
 * a passive open's RTT sample (the SYN-cookie test below).
 *  - a SYN-ACK retransmit (tcp:tcp_retransmit_synack): the request's `acked` bit says the
 *    client's final ACK came and was dropped because the listener's accept queue was full (the
 *    kernel's listen_overflow path; TCP_DEFER_ACCEPT is the only other setter, excluded);
 *    without it the SYN-ACK or the ACK was lost in the network;
 *  - a client's SYN retransmit (tcp:tcp_retransmit_skb in SYN_SENT) towards a listener on this
 *    host in the same network namespace: whether the listener dropped a SYN since we last looked
 *    (its sk_drops counter, which tcp_listendrop() raises for every SYN or final ACK it drops; each
 *    retransmit takes one such drop as its own, so do SYN-ACK retransmits of dropped final ACKs).
 *    A drop, cookies on: the accept queue (with cookies, only it drops a SYN). A drop, cookies
 *    off: "SYN dropped", no queue named: the kernel leaves no per-packet record of which was full
 *    (SYN drops are consume_skb'd: no kfree_skb reason on 5.10-6.18) and the queues read now, a
 *    second after the drop, are not evidence. No drop: lost in the network. Listener not found
 *    here: unknown. All of it is inference from a shared counter (event.diag_evidence says so).
 *    A SYN that finds its request (its SYN-ACK was lost) is dropped too, after the listener answers it with a SYN-ACK retransmit: that retransmit finds the client's
 *    note by the 4-tuple, corrects its verdict to a loss and accounts for the drop;
 *  - a passive open completed from a SYN cookie: no SYN-ACK RTT sample at SYN_RECV->ESTABLISHED
 *    (the kernel measures one from the request's SYN-ACK time on every normal child; a cookie
 *    child has only the millisecond TCP timestamp echo, or nothing) on a listener whose SYN
 *    queue overflow stamp is set (the kernel stamps it whenever it sends a cookie).
 * The listener's fill (sk_ack_backlog/sk_max_ack_backlog) goes with the verdict, read at the
 * retransmit (not at the drop: nothing fires there), saturated at 65535 each so that it packs into
 * one word of the socket's entry.
 */

/* The kernel's own structures read here: flavours (___hs) so that they cannot clash. */
typedef struct { int counter; } atomic_t___hs;
struct request_sock_queue___hs {
	__u8 rskq_defer_accept;
} __attribute__((preserve_access_index));
struct inet_connection_sock___hs {
	struct request_sock_queue___hs icsk_accept_queue;
} __attribute__((preserve_access_index));
struct sock_reuseport___hs { unsigned int synq_overflow_ts; } __attribute__((preserve_access_index));
struct sock___hs {
	atomic_t___hs sk_drops;
	__u32 sk_ack_backlog;
	__u32 sk_max_ack_backlog;
	struct sock_reuseport___hs *sk_reuseport_cb;
} __attribute__((preserve_access_index));
struct tcp_options_received___hs { int ts_recent_stamp; } __attribute__((preserve_access_index));
struct tcp_sock___hs { struct tcp_options_received___hs rx_opt; } __attribute__((preserve_access_index));
struct inet_request_sock___hs { __u16 acked:1; } __attribute__((preserve_access_index));
struct netns_ipv4___hs { __u8 sysctl_tcp_syncookies; } __attribute__((preserve_access_index));
struct net___hs { struct netns_ipv4___hs ipv4; } __attribute__((preserve_access_index));
struct sock_common___hs { struct { struct net___hs *net; } skc_net; } __attribute__((preserve_access_index));

/* A listening socket, and how many of its drops (sk_drops) retransmits have already explained. */
struct listener_ref {
	__u64 sk; /* struct sock * */
	__u32 drops_seen;
	__u32 pad;
};

/* Listening sockets by (netns, port), for a local client's SYN retransmit and the cookie test. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct listen_key);
	__type(value, struct listener_ref);
} listen_socks SEC(".maps");

static __always_inline __u32 listener_drops(const struct sock___hs *l)
{
	return BPF_CORE_READ(l, sk_drops.counter);
}

/* ->LISTEN: remember the socket; LISTEN->CLOSE: forget it. Rare: a subprogram, out of the way. */
static __noinline void note_listener_socket(const struct transition *t)
{
	struct listen_key lk = { .netns = t->netns, .port = t->sport };

	if (t->new == TCP_LISTEN) {
		struct listener_ref ref = { .sk = (__u64)t->sk, .drops_seen = listener_drops((const void *)t->sk) };
		bpf_map_update_elem(&listen_socks, &lk, &ref, BPF_ANY);
	} else if (t->old == TCP_LISTEN && t->new == TCP_CLOSE) {
		bpf_map_delete_elem(&listen_socks, &lk);
	}
}

/*
 * A client SYN retransmit towards a local listener, by 4-tuple in the listener's view, until the
 * listener answers it: if the SYN finds its request (the SYN-ACK was lost), the listener
 * retransmits its SYN-ACK and counts the SYN as a drop.
 */
struct syn_retransmit_note {
	__u64 sk;
	__u64 ts;
	__u32 fill;      /* the listener's accept queue read at this retransmit */
	__u32 prev_fill;
	__u8 prev_diag;
	__u8 took_drop;
	__u8 prev_evidence;
	__u8 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct flow_key);
	__type(value, struct syn_retransmit_note);
} syn_retransmits SEC(".maps");

/*
 * Takes one of the listener's unexplained drops, if there is one. The drop count is read before
 * the explained count: a SYN that found its request raises the explained count before the kernel
 * counts its drop, so in this order a concurrent one can never look unexplained.
 */
static __always_inline bool take_listener_drop(struct listener_ref *ref, const struct sock___hs *l)
{
	__u32 drops = listener_drops(l);

	asm volatile("" ::: "memory");
	if ((int)(drops - *(volatile __u32 *)&ref->drops_seen) <= 0)
		return false;
	__sync_fetch_and_add(&ref->drops_seen, 1);
	return true;
}

static __always_inline __u32 saturate16(__u32 v)
{
	return v > 0xffff ? 0xffff : v;
}

/* The listener's accept queue as one word: fill << 16 | limit. */
static __always_inline __u32 accept_queue_fill(const struct sock___hs *l, __u32 *backlog, __u32 *max)
{
	/* sized reads: these fields were narrower on old kernels */
	*backlog = BPF_CORE_READ_BITFIELD_PROBED(l, sk_ack_backlog);
	*max = BPF_CORE_READ_BITFIELD_PROBED(l, sk_max_ack_backlog);
	return saturate16(*backlog) << 16 | saturate16(*max);
}

/* Keeps the strongest verdict: a listener's drop is not undone by a later plain loss. */
static __always_inline void set_verdict(__u8 *diag, __u8 *evidence, __u32 *fill, __u8 verdict, __u8 why, __u32 new_fill)
{
	if (*diag == TCPTRACE_HS_ACCEPT_QUEUE_FULL || *diag == TCPTRACE_HS_SYN_DROPPED)
		return;
	*diag = verdict;
	*evidence = why;
	*fill = new_fill;
}

/*
 * A SYN-ACK retransmit of a request on `listener` (whose entry is `ref`, when known): why the
 * handshake has not completed. A dropped final ACK is one of the listener's drops: taken here.
 */
static __always_inline void synack_retransmit_evidence(const struct sock *listener, const struct request_sock *req,
						       struct listener_ref *ref, __u8 *diag, __u8 *evidence, __u32 *fill)
{
	const struct sock___hs *l = (const void *)listener;
	const struct inet_request_sock___hs *ireq = (const void *)req;
	__u32 backlog, max;
	__u32 f = accept_queue_fill(l, &backlog, &max);

	bool acked = BPF_CORE_READ_BITFIELD_PROBED(ireq, acked);

	if (!acked) {
		set_verdict(diag, evidence, fill, TCPTRACE_HS_LOST, TCPTRACE_HSE_REQUEST_UNACKED, f);
		return;
	}
	/* TCP_DEFER_ACCEPT also acks a request, and resends its SYN-ACK when the deferral ends with
	 * no data: not a loss, not a full queue, so no verdict */
	if (BPF_CORE_READ((const struct inet_connection_sock___hs *)l, icsk_accept_queue.rskq_defer_accept))
		return;
	set_verdict(diag, evidence, fill, TCPTRACE_HS_ACCEPT_QUEUE_FULL, TCPTRACE_HSE_REQUEST_ACKED, f);
	/* the final ACK counted twice: tcp_listendrop() in syn_recv_sock, then the
	 * receive path's discard of a packet no child took */
	if (ref && take_listener_drop(ref, l))
		take_listener_drop(ref, l);
}

/* The listener's entry for a SYN-ACK retransmit, made now for a listener older than tcptrace. */
static __always_inline struct listener_ref *synack_listener(const struct sock *listener, __u32 netns, __u16 port)
{
	struct listen_key lk = { .netns = netns, .port = port };
	struct listener_ref *ref = bpf_map_lookup_elem(&listen_socks, &lk);

	if (ref)
		return ref;
	struct listener_ref fresh = { .sk = (__u64)listener, .drops_seen = listener_drops((const void *)listener) };
	bpf_map_update_elem(&listen_socks, &lk, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&listen_socks, &lk);
}

/* A client's SYN retransmit (the socket `sk`, in SYN_SENT): is its listener here, and full? */
static __always_inline void syn_retransmit_evidence(const struct sock *sk, struct sock_info *si, const bool btf)
{
	struct listen_key lk = { .netns = si->netns, .port = bpf_ntohs(KREAD(btf, sk, __sk_common.skc_dport)) };
	struct listener_ref *ref = bpf_map_lookup_elem(&listen_socks, &lk);

	if (!ref) {
		set_verdict(&si->hs_diag, &si->hs_evidence, &si->hs_fill, TCPTRACE_HS_UNKNOWN, TCPTRACE_HSE_NO_LISTENER, 0);
		return;
	}
	const struct sock___hs *l = (const void *)ref->sk;
	const struct sock_common___hs *lc = (const void *)l;
	__u32 backlog, max;
	__u32 f = accept_queue_fill(l, &backlog, &max);
	/* tcp_conn_request: with cookies on, a full request queue answers with a cookie, so only a
	 * full accept queue drops a SYN; with cookies off either queue can, and which one the kernel
	 * counts (TCPReqQFullDrop, ListenOverflows) but records nowhere a tracepoint sees. The queues
	 * now (a second after the drop) would be a guess, so none is made. The sysctl was an int once. */
	const struct net___hs *net = BPF_CORE_READ(lc, skc_net.net);
	__u32 cookies = BPF_CORE_READ_BITFIELD_PROBED(net, ipv4.sysctl_tcp_syncookies);

	struct syn_retransmit_note note = { .sk = (__u64)sk, .fill = f, .prev_diag = si->hs_diag, .prev_fill = si->hs_fill,
					    .prev_evidence = si->hs_evidence };
	note.took_drop = take_listener_drop(ref, l);
	if (!note.took_drop)
		set_verdict(&si->hs_diag, &si->hs_evidence, &si->hs_fill, TCPTRACE_HS_LOST, TCPTRACE_HSE_NO_LISTENER_DROP, f);
	else if (!cookies)
		set_verdict(&si->hs_diag, &si->hs_evidence, &si->hs_fill, TCPTRACE_HS_SYN_DROPPED, TCPTRACE_HSE_LISTENER_DROP, f);
	else
		set_verdict(&si->hs_diag, &si->hs_evidence, &si->hs_fill, TCPTRACE_HS_ACCEPT_QUEUE_FULL, TCPTRACE_HSE_LISTENER_DROP, f);
	/* the listener's view of the flow: its port and address first */
	struct flow_key fk = { .netns = si->netns, .lport = lk.port };
	fk.rport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	read_addrs(&sk->__sk_common, KREAD(btf, sk, __sk_common.skc_family), fk.raddr, fk.laddr, btf);
	note.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&syn_retransmits, &fk, &note, BPF_ANY);
}

/*
 * A SYN-ACK retransmit of the request `fk` (the listener's view): when it answers the client SYN
 * retransmit just noted on this CPU, that SYN reached its request, so the client's SYN-ACK was
 * lost, not its SYN dropped, and the listener is about to count that SYN as a drop.
 */
static __always_inline void answered_syn_retransmit(const struct flow_key *fk, struct listener_ref *ref)
{
	struct syn_retransmit_note *found = bpf_map_lookup_elem(&syn_retransmits, fk);
	if (!found)
		return;
	struct syn_retransmit_note note = *found;
	bpf_map_delete_elem(&syn_retransmits, fk);
	/* a timer's SYN-ACK retransmit long after the SYN (a second) answers nothing */
	if (bpf_ktime_get_ns() - note.ts > 100000000)
		return;
	/* the drop to come is this SYN's: explained in advance, unless the client took one (which
	 * then stands for it: its verdict was wrong) */
	if (!note.took_drop && ref)
		__sync_fetch_and_add(&ref->drops_seen, 1);
	__u64 key = note.sk;
	struct sock_info *si = bpf_map_lookup_elem(&socks, &key);
	if (!si)
		return;
	si->hs_diag = note.prev_diag;
	si->hs_fill = note.prev_fill;
	si->hs_evidence = note.prev_evidence;
	set_verdict(&si->hs_diag, &si->hs_evidence, &si->hs_fill, TCPTRACE_HS_LOST, TCPTRACE_HSE_SYN_ANSWERED, note.fill);
}

/*
 * A passive open reaching ESTABLISHED with no SYN-ACK retransmit. A normal child carries the
 * microsecond SYN-ACK RTT the kernel took from its request; a cookie child has none, or one from
 * the millisecond timestamp echo (inflated by the options the cookie packs into it). Only then is
 * the listener looked at. True when the connection was completed from a cookie.
 */
static __always_inline bool completed_from_cookie(const struct transition *t)
{
	struct listen_key lk = { .netns = t->netns, .port = t->sport };
	struct listener_ref *ref = bpf_map_lookup_elem(&listen_socks, &lk);
	if (!ref)
		return false;
	const struct sock___hs *l = (const void *)ref->sk;
	const struct sock_reuseport___hs *reuse = BPF_CORE_READ(l, sk_reuseport_cb);
	if (reuse && bpf_core_field_exists(reuse->synq_overflow_ts))
		return BPF_CORE_READ(reuse, synq_overflow_ts) != 0;
	return BPF_CORE_READ((const struct tcp_sock___hs *)l, rx_opt.ts_recent_stamp) != 0;
}

/* The cookie test, past its first compare: a subprogram, so the common path stays short. */
static __noinline void note_cookie_child_slow(struct transition *t)
{
	if (completed_from_cookie(t)) {
		t->si->hs_diag = TCPTRACE_HS_SYN_COOKIE;
		t->si->hs_evidence = TCPTRACE_HSE_COOKIE_CHILD;
		/* the RTT sample is the timestamp echo's, not the handshake's: unknown */
		t->handshake_us = 0;
	}
}

/* A passive open at SYN_RECV->ESTABLISHED with no SYN-ACK retransmit (after time_handshake). */
static __always_inline void note_cookie_child(struct transition *t)
{
	/* a sub-millisecond sample (every loopback handshake) is no timestamp echo: one compare */
	if ((t->rtt_us && t->rtt_us < 1000) || t->rtt_us % 1000)
		return;
	note_cookie_child_slow(t);
}
