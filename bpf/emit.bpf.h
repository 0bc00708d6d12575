/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The state handler's last steps: the kernel filters and the record sent to user space.
 * Included by tcptrace.bpf.c, in its order: each part uses only what the parts before it declare.
 */

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

static __always_inline void count(int dropped, bool accept, __u32 slot)
{
	struct tcptrace_counters *c = bpf_map_lookup_elem(&counters, &slot);

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
	fill_totals(e, t, btf);
	e->diagnosis = si->hs_diag;
	e->accept_wait_us = si->accept_wait_us;
	e->listener_backlog = si->hs_fill >> 16;
	e->listener_max = si->hs_fill & 0xffff;
	e->diag_evidence = si->hs_evidence;
	e->reserved_hs2 = 0;
	e->reserved_hs3 = 0;
	__builtin_memset(e->saddr, 0, sizeof(e->saddr) * 2);
	if (!t->lean)
		read_addrs(&sk->__sk_common, t->family, e->saddr, e->daddr, btf);
	if (t->comm_is_owner)
		__builtin_memcpy(e->cpu_comm, si->owner.comm, sizeof(e->cpu_comm));
	else
		current_comm(e->cpu_comm, btf);
	__builtin_memcpy(e->owner_comm, si->owner.comm, sizeof(e->owner_comm));
}

/* Sends one record to user space (ring buffer, or perf buffer) and counts it, in `slot`. */
static __always_inline void send_event(void *ctx, const struct transition *t, const bool btf, __u32 slot)
{
	const bool accept = t->flags & TCPTRACE_F_ACCEPT;

	if (cfg.use_perfbuf) {
		struct tcptrace_event *ev = bpf_map_lookup_elem(&perf_scratch, &slot);
		if (!ev) {
			count(1, accept, slot);
			return;
		}
		fill_event(ev, t, btf);
		count(bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, ev, sizeof(*ev)) != 0, accept, slot);
		return;
	}
	struct tcptrace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(1, accept, slot);
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
	count(0, accept, slot);
}

/*
 * The slot is the number of sends in progress on this CPU when this one starts: 1 when it
 * interrupts another one (see emit_depth in maps.bpf.h), else 0. A send interrupted before it
 * stored its depth has touched no slot yet, so the one interrupting it may take the same.
 */
static __always_inline void emit_event(void *ctx, const struct transition *t, const bool btf)
{
	__u32 zero = 0;
	__u32 *depth = bpf_map_lookup_elem(&emit_depth, &zero);

	if (!depth)
		return;
	__u32 in_progress = *depth;
	*depth = in_progress + 1;
	send_event(ctx, t, btf, in_progress & 1);
	*depth = in_progress;
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
