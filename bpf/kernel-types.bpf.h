/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's constants and the fields of its structures that tcptrace reads,
 * declared with preserve_access_index so CO-RE matches them by name at load time.
 * Included by tcptrace.bpf.c, in its order: each part uses only what the parts before it declare.
 */

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
