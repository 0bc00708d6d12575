/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who owns an accepted socket (docs/ATTRIBUTION.md), included by tcptrace.bpf.c:
 *  - accept(): the task whose accept()/accept4() returned the socket owns it from then on,
 *    and a record with TCPTRACE_F_ACCEPT carries the time it waited in the accept queue;
 *  - use: a process that sends or receives on a socket it does not own yet owns it from its
 *    first use (first-use.bpf.h).
 * Each program is optional: the loader skips those whose tracepoint this kernel lacks.
 */

/* Flavours (the ___ suffix is ignored by CO-RE) of types the main file declares too. */
struct file___own { void *private_data; } __attribute__((preserve_access_index));
struct fdtable___own { unsigned int max_fds; struct file___own **fd; } __attribute__((preserve_access_index));
struct files_struct___own { struct fdtable___own *fdt; } __attribute__((preserve_access_index));
struct task_struct___own { struct files_struct___own *files; } __attribute__((preserve_access_index));
struct socket___own { struct sock *sk; } __attribute__((preserve_access_index));

/* syscalls:sys_exit_* records: 8 bytes of common fields, int __syscall_nr, long ret at 16. */
struct syscall_exit_record {
	__u64 common;
	int nr;
	long ret;
};

/*
 * The struct sock behind one of the current task's file descriptors (a socket's fd). The task's
 * fd table is read through its BTF pointer where the kernel has one (5.11+: plain loads); the
 * file array entry and what lies behind it are untyped, so those stay probe reads.
 */
static __always_inline const struct sock *current_fd_sock(long fd)
{
	const bool btf = HAVE_HELPER(get_current_task_btf);
	struct task_struct___own *task = btf ? (void *)bpf_get_current_task_btf() : (void *)bpf_get_current_task();
	struct files_struct___own *files = KREAD(btf, task, files);
	struct fdtable___own *fdt = KREAD(btf, files, fdt);

	if (!fdt)
		return 0;
	unsigned int max_fds = KREAD(btf, fdt, max_fds);
	struct file___own **fds = KREAD(btf, fdt, fd);
	if (fd >= max_fds)
		return 0;
	struct file___own *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	struct socket___own *so = BPF_CORE_READ(f, private_data);
	return so ? BPF_CORE_READ(so, sk) : 0;
}

/* accept() also returns unix sockets: only TCP over IPv4/IPv6. */
static __always_inline bool inet_tcp(const struct sock *sk, __u16 *family)
{
	*family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return (*family == AF_INET || *family == AF_INET6) && BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == IPPROTO_TCP;
}

/*
 * A process other than the listen() caller accepts from the listener: several processes hold
 * it (a pre-forked server's workers, a master's children). Children born after that inherit
 * the mark (TCPTRACE_F_LISTENER_SHARED) so user space lists the holders even without accept
 * records. The usual accept costs a few compares on the entry already loaded; the lookup runs
 * only for an accept by another process from a listener not yet marked (once per listener, plus
 * the children that were already queued, unmarked, when it was). Transitions pay nothing: the
 * mark travels in the owner they copy from the listener anyway.
 */
static __always_inline void mark_listener_shared(const struct sock_info *si, __u32 tgid)
{
	if (si->owner.pid == tgid || (si->owner.known & TCPTRACE_F_LISTENER_SHARED) || !si->sport)
		return;
	struct listen_key lk = { .netns = si->netns, .port = si->sport };
	struct owner *lo = bpf_map_lookup_elem(&listeners, &lk);
	if (lo && lo->pid == si->owner.pid)
		lo->known |= TCPTRACE_F_LISTENER_SHARED;
}

/*
 * The owner step of an accept: the accepting task owns the socket from now on, and the time
 * since ESTABLISHED is its wait in the accept queue. Every probe read counts here (each accept
 * of the host pays it): a socket we saw born is TCP, so only an unknown one has its family and
 * protocol checked. False for a socket not to track.
 */
static __always_inline bool note_accept(struct transition *t, struct sock_info *fresh)
{
	const struct sock *sk = t->sk; /* a local: see find_cause */
	__u64 key = (__u64)sk;
	struct sock_info *si = bpf_map_lookup_elem(&socks, &key);

	if (si) {
		if (si->owner.how == TCPTRACE_OWNER_LISTENER)
			mark_listener_shared(si, t->pid_tgid >> 32);
		owner_from_current(&si->owner, t->pid_tgid, TCPTRACE_OWNER_ACCEPT, true);
		if (si->established_ts && t->now > si->established_ts) {
			t->delta = t->now - si->established_ts;
			t->flags |= TCPTRACE_F_PREV_SEEN;
			__u64 us = t->delta / 1000;
			si->accept_wait_us = us == 0 ? 1 : us > 0xffffffff ? 0xffffffff : us;
		}
	} else {
		/* accepted before its birth was traced (older than tcptrace, or evicted); not when
		 * closed in the queue: no transition would come to forget an entry made now */
		if (!inet_tcp(sk, &t->family) || BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE)
			return false;
		__builtin_memset(fresh, 0, sizeof(*fresh));
		fresh->netns = sk_netns(&sk->__sk_common, false);
		fresh->side = TCPTRACE_F_PASSIVE;
		owner_from_current(&fresh->owner, t->pid_tgid, TCPTRACE_OWNER_ACCEPT, true);
		bpf_map_update_elem(&socks, &key, fresh, BPF_NOEXIST);
		si = fresh;
	}
	t->si = si;
	t->netns = si->netns;
	return true;
}

/*
 * The filter step of an accept record: the transitions' filters except state and owner (user
 * space needs every accept of a shown socket to decide its owner filter and learn the
 * listener's holders). Family and ports are read only when a filter needs them and the socket's
 * entry does not have them.
 */
static __always_inline bool accept_wanted(struct transition *t)
{
	const struct sock *sk = t->sk; /* a local: see find_cause */

	if (cfg.family) {
		if (!t->family)
			t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
		if (t->family != cfg.family)
			return false;
	}
	if (cfg.netns && t->netns != cfg.netns)
		return false;
	t->sport = t->si->sport;
	t->dport = t->si->dport;
	if (!t->sport) {
		t->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
		t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	}
	if (cfg.n_lports && !port_listed(t->sport, cfg.lports, cfg.n_lports))
		return false;
	if (cfg.n_rports && !port_listed(t->dport, cfg.rports, cfg.n_rports))
		return false;
	return true;
}

/*
 * accept() returned a socket: owner, then (when asked for) filter and a lean record: owner,
 * ports and the wait (states, family and addresses are not read when nothing needs them).
 */
static __always_inline int on_accept_exit(void *ctx, long fd)
{
	struct transition t = {
		.old = TCP_ESTABLISHED, .new = TCP_ESTABLISHED, .flags = TCPTRACE_F_ACCEPT, .comm_is_owner = 1, .lean = 1,
	};
	struct sock_info fresh;

	if (fd < 0)
		return 0;
	t.sk = current_fd_sock(fd);
	if (!t.sk)
		return 0;
	t.now = bpf_ktime_get_ns();
	t.pid_tgid = bpf_get_current_pid_tgid();
	if (!note_accept(&t, &fresh) || !cfg.accept_records)
		return 0;
	if (accept_wanted(&t))
		emit_event(ctx, &t, false);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit_tp(struct syscall_exit_record *r) { return on_accept_exit(r, r->ret); }
SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit_tp(struct syscall_exit_record *r) { return on_accept_exit(r, r->ret); }
