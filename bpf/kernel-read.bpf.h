/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading the kernel's structures in either attach mode (tp_btf or classic tracepoint).
 * Included by tcptrace.bpf.c, in its order: each part uses only what the parts before it declare.
 */

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
