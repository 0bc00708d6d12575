/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Cause hooks: resets, retransmits and socket errors, noted in the socket's info until
 * its CLOSE record reads them (find_cause).
 * Included by tcptrace.bpf.c, in its order: each part uses only what the parts before it declare.
 */

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
		synack_retransmit_evidence(listener, req, ref, &sa->diag, &sa->evidence, &sa->fill);
		return;
	}
	/* tcp_request_sock lies beyond the typed request_sock: a probe read in both modes */
	struct synack_info fresh = {
		.first_synack_us = BPF_CORE_READ((struct tcp_request_sock *)req, snt_synack),
		.retrans = 1,
	};
	synack_retransmit_evidence(listener, req, ref, &fresh.diag, &fresh.evidence, &fresh.fill);
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
