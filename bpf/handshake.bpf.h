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
 *    host in the same network namespace: the listener's queues at that moment, in the order the
 *    kernel's tcp_conn_request checks them (request queue full with cookies off, then accept
 *    queue full); neither full: lost in the network; listener not found here: unknown;
 *  - a passive open completed from a SYN cookie: no SYN-ACK RTT sample at SYN_RECV->ESTABLISHED
 *    (the kernel measures one from the request's SYN-ACK time on every normal child; a cookie
 *    child has only the millisecond TCP timestamp echo, or nothing) on a listener whose SYN
 *    queue overflow stamp is set (the kernel stamps it whenever it sends a cookie).
 * The listener's fill (sk_ack_backlog/sk_max_ack_backlog) goes with the verdict, saturated at
 * 65535 each so that it packs into one word of the socket's entry.
 */

/* The kernel's own structures read here: flavours (___hs) so that they cannot clash. */
typedef struct { int counter; } atomic_t___hs;
struct request_sock_queue___hs {
	__u8 rskq_defer_accept;
	atomic_t___hs qlen;
} __attribute__((preserve_access_index));
struct inet_connection_sock___hs {
	struct request_sock_queue___hs icsk_accept_queue;
} __attribute__((preserve_access_index));
struct sock_reuseport___hs { unsigned int synq_overflow_ts; } __attribute__((preserve_access_index));
struct sock___hs {
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

/* Listening sockets by (netns, port), for a local client's SYN retransmit and the cookie test. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct listen_key);
	__type(value, __u64); /* struct sock * */
} listen_socks SEC(".maps");

/* ->LISTEN: remember the socket; LISTEN->CLOSE: forget it. */
static __always_inline void note_listener_socket(const struct transition *t)
{
	struct listen_key lk = { .netns = t->netns, .port = t->sport };

	if (t->new == TCP_LISTEN) {
		__u64 sk = (__u64)t->sk;
		bpf_map_update_elem(&listen_socks, &lk, &sk, BPF_ANY);
	} else if (t->old == TCP_LISTEN && t->new == TCP_CLOSE) {
		bpf_map_delete_elem(&listen_socks, &lk);
	}
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

/* Keeps the strongest verdict: a queue found full is not undone by a later plain loss. */
static __always_inline void set_verdict(__u8 *diag, __u32 *fill, __u8 verdict, __u32 new_fill)
{
	if (*diag == TCPTRACE_HS_ACCEPT_QUEUE_FULL || *diag == TCPTRACE_HS_SYN_QUEUE_FULL)
		return;
	*diag = verdict;
	*fill = new_fill;
}

/* A SYN-ACK retransmit of a request on `listener`: why the handshake has not completed. */
static __always_inline void synack_retransmit_evidence(const struct sock *listener, const struct request_sock *req,
						       __u8 *diag, __u32 *fill)
{
	const struct sock___hs *l = (const void *)listener;
	const struct inet_request_sock___hs *ireq = (const void *)req;
	__u32 backlog, max;
	__u32 f = accept_queue_fill(l, &backlog, &max);

	if (BPF_CORE_READ_BITFIELD_PROBED(ireq, acked) &&
	    !BPF_CORE_READ((const struct inet_connection_sock___hs *)l, icsk_accept_queue.rskq_defer_accept))
		set_verdict(diag, fill, TCPTRACE_HS_ACCEPT_QUEUE_FULL, f);
	else
		set_verdict(diag, fill, TCPTRACE_HS_LOST, f);
}

/* A client's SYN retransmit (the socket `sk`, in SYN_SENT): is its listener here, and full? */
static __always_inline void syn_retransmit_evidence(const struct sock *sk, struct sock_info *si, const bool btf)
{
	struct listen_key lk = { .netns = si->netns, .port = bpf_ntohs(KREAD(btf, sk, __sk_common.skc_dport)) };
	__u64 *found = bpf_map_lookup_elem(&listen_socks, &lk);

	if (!found) {
		set_verdict(&si->hs_diag, &si->hs_fill, TCPTRACE_HS_UNKNOWN, 0);
		return;
	}
	const struct sock___hs *l = (const void *)*found;
	const struct sock_common___hs *lc = (const void *)l;
	__u32 backlog, max;
	__u32 f = accept_queue_fill(l, &backlog, &max);
	int requests = BPF_CORE_READ((const struct inet_connection_sock___hs *)l, icsk_accept_queue.qlen.counter);
	/* tcp_conn_request: a full request queue drops the SYN unless cookies are on (6.1 calls it
	 * full at the limit, later kernels past it: the first is taken); the sysctl was an int once */
	const struct net___hs *net = BPF_CORE_READ(lc, skc_net.net);
	__u32 cookies = BPF_CORE_READ_BITFIELD_PROBED(net, ipv4.sysctl_tcp_syncookies);

	if (requests >= (int)max && !cookies)
		set_verdict(&si->hs_diag, &si->hs_fill, TCPTRACE_HS_SYN_QUEUE_FULL, f);
	else if (backlog > max)
		set_verdict(&si->hs_diag, &si->hs_fill, TCPTRACE_HS_ACCEPT_QUEUE_FULL, f);
	else
		set_verdict(&si->hs_diag, &si->hs_fill, TCPTRACE_HS_LOST, f);
}

/*
 * A passive open reaching ESTABLISHED with no SYN-ACK retransmit. A normal child carries the
 * microsecond SYN-ACK RTT the kernel took from its request; a cookie child has none, or one from
 * the millisecond timestamp echo (inflated by the options the cookie packs into it). Only then is
 * the listener looked at. True when the connection was completed from a cookie.
 */
static __always_inline bool completed_from_cookie(const struct transition *t)
{
	if (t->rtt_us % 1000)
		return false;
	struct listen_key lk = { .netns = t->netns, .port = t->sport };
	__u64 *found = bpf_map_lookup_elem(&listen_socks, &lk);
	if (!found)
		return false;
	const struct sock___hs *l = (const void *)*found;
	const struct sock_reuseport___hs *reuse = BPF_CORE_READ(l, sk_reuseport_cb);
	if (reuse && bpf_core_field_exists(reuse->synq_overflow_ts))
		return BPF_CORE_READ(reuse, synq_overflow_ts) != 0;
	return BPF_CORE_READ((const struct tcp_sock___hs *)l, rx_opt.ts_recent_stamp) != 0;
}

/* The passive side at SYN_RECV->ESTABLISHED: the verdict of its SYN-ACK retransmits, or a cookie. */
static __always_inline void passive_handshake_evidence(struct transition *t, const struct synack_info *sa)
{
	struct sock_info *si = t->si;

	if (sa) {
		si->hs_diag = sa->diag;
		si->hs_fill = sa->fill;
	} else if (completed_from_cookie(t)) {
		si->hs_diag = TCPTRACE_HS_SYN_COOKIE;
		/* the RTT sample is the timestamp echo's, not the handshake's: unknown */
		t->handshake_us = 0;
	}
}
