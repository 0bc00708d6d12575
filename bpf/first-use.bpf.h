/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * First-use owners (docs/ATTRIBUTION.md): a process that sends or receives on a socket it does
 * not own yet (an fd inherited by a forked child, or passed over a unix socket) owns it from its
 * first use. Included by tcptrace.bpf.c after owner.bpf.h. One family of hooks loads
 * (src/native/programs.cc): socket storage where tracing programs may use it (5.11+), else the
 * classic tcp:tcp_rcv_space_adjust marking the socket's entry in `socks`.
 */

/*
 * Send/receive hooks run on every sendmsg/recvmsg of the host. The settled case (this process
 * already took the socket over) is one socket-local storage lookup — a few loads from the
 * socket the system call has just touched, cheaper than a hash lookup in `socks` — and a
 * compare. The rest is rare and lives in its own function so the hot path stays short.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32); /* tgid of the process that took the socket over */
} settled SEC(".maps");

static __noinline int take_over(struct sock *sk, __u64 pid_tgid)
{
	__u64 key = (__u64)sk;
	struct sock_info *si = bpf_map_lookup_elem(&socks, &key);

	if (si) {
		/* the accepting (or connecting) process's own first use settles it as it is */
		if (si->owner.pid != (__u32)(pid_tgid >> 32) || !si->owner.known)
			owner_from_current(&si->owner, pid_tgid, TCPTRACE_OWNER_USE, true);
	} else {
		/* a socket older than tcptrace (or evicted): remember its user from now on, unless it
		 * is closed (no transition would come to forget the entry) */
		if (sk->__sk_common.skc_state == TCP_CLOSE)
			return 0;
		struct sock_info fresh;
		__builtin_memset(&fresh, 0, sizeof(fresh));
		fresh.netns = sk_netns(&sk->__sk_common, true);
		owner_from_current(&fresh.owner, pid_tgid, TCPTRACE_OWNER_USE, true);
		bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST);
	}
	__u32 *who = bpf_sk_storage_get(&settled, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (who)
		*who = pid_tgid >> 32;
	return 0;
}

static __always_inline int on_use(struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 *who = bpf_sk_storage_get(&settled, sk, 0, 0);

	if (who && *who == (__u32)(pid_tgid >> 32))
		return 0;
	return take_over(sk, pid_tgid);
}

/* sock_recvmsg/sock_sendmsg of every socket family (6.3+): TCP only. */
static __always_inline int on_sock_length(struct sock *sk)
{
	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	return on_use(sk);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(recv_length_btf, struct sock *sk) { return on_sock_length(sk); }
SEC("tp_btf/sock_send_length")
int BPF_PROG(send_length_btf, struct sock *sk) { return on_sock_length(sk); }
/* Older kernels: tcp_recvmsg's receive-window update, TCP only and in process context. */
SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(rcv_space_btf, struct sock *sk) { return sk ? on_use(sk) : 0; }

/*
 * Without socket storage in tracing programs (before 5.11), and in the classic tracepoint mode:
 * the mark lives in the socket's entry in `socks` (a hash lookup per receive instead of a few
 * loads) and is forgotten with it at CLOSE. Receive only: these kernels have no send tracepoint
 * that names the socket in the sender's context.
 */
static __always_inline int on_use_hashed(const struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	__u64 key = (__u64)sk;
	struct sock_info *si = bpf_map_lookup_elem(&socks, &key);

	if (si) {
		if (si->user_tgid == tgid)
			return 0;
		if (si->owner.pid != tgid || !si->owner.known)
			owner_from_current(&si->owner, pid_tgid, TCPTRACE_OWNER_USE, false);
		si->user_tgid = tgid;
		return 0;
	}
	/* older than tcptrace (or evicted), as in take_over */
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE)
		return 0;
	struct sock_info fresh;
	__builtin_memset(&fresh, 0, sizeof(fresh));
	fresh.netns = sk_netns(&sk->__sk_common, false);
	fresh.user_tgid = tgid;
	owner_from_current(&fresh.owner, pid_tgid, TCPTRACE_OWNER_USE, false);
	bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST);
	return 0;
}

SEC("tracepoint/tcp/tcp_rcv_space_adjust")
int rcv_space_tp(struct trace_event_raw_tcp_event_sk *a)
{
	const struct sock *sk = BPF_CORE_READ(a, skaddr);
	return sk ? on_use_hashed(sk) : 0;
}
