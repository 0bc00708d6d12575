/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The state change programs: the handler's steps in order, and the held-back child record.
 * Included by tcptrace.bpf.c, in its order: each part uses only what the parts before it declare.
 */

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
	if (t.new == TCP_LISTEN || (t.old == TCP_LISTEN && t.new == TCP_CLOSE))
		note_listener_socket(&t);
	time_handshake(&t, btf);
	if (t.new == TCP_ESTABLISHED && t.old == TCP_SYN_RECV && !t.si->synack_retrans)
		note_cookie_child(&t);
	find_cause(&t, btf);
	if (!hold_back_child(&t))
		emit(ctx, &t, btf);
	remember(&t, &fresh, first_sight);
	return 0;
}

#include "nested.bpf.h"

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	handler_runs(ctx, sk, oldstate, newstate);
	on_state_change(ctx, sk, oldstate, newstate, true);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int set_state_tp(struct trace_event_raw_inet_sock_set_state *args)
{
	return on_state_change(args, BPF_CORE_READ(args, skaddr), BPF_CORE_READ(args, oldstate),
			       BPF_CORE_READ(args, newstate), false);
}
