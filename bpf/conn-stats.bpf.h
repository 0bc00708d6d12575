/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A connection's totals, read from its struct tcp_sock when it reaches CLOSE (included by
 * tcptrace.bpf.c, called from fill_event). Every other record only zeroes them: the common path
 * reads nothing more from the socket. The figures are those tcp_info reports (ss -ti):
 * bytes acked and received, segments, retransmits, RTT, and the "chrono" times the socket spent
 * busy, limited by the peer's receive window or by its own send buffer. docs/SCHEMA.md gives the
 * kernel source and unit of each.
 */
#ifndef CONN_STATS_BPF_H
#define CONN_STATS_BPF_H

/* Our own view of struct tcp_sock (the ___totals suffix keeps it apart from the one above;
 * CO-RE matches it to the kernel's by name). */
struct minmax_sample___totals { __u32 t; __u32 v; };
struct minmax___totals { struct minmax_sample___totals s[3]; };
struct tcp_sock___totals {
	__u64 bytes_acked;    /* 4.1 */
	__u64 bytes_received; /* 4.1 */
	__u64 bytes_retrans;  /* 4.19: read only where it exists (RHEL 8's 4.18 may lack it) */
	__u32 segs_in;        /* 4.1 */
	__u32 segs_out;       /* 4.1 */
	__u32 total_retrans;
	__u16 total_rto;      /* 6.7: read only where it exists */
	struct minmax___totals rtt_min; /* 4.10 */
	__u8 chrono_type : 2; /* 4.10; a whole byte in newer kernels: read as a bitfield either way */
	__u32 chrono_start;   /* jiffies (tcp_jiffies32) */
	__u32 chrono_stat[3]; /* jiffies in each chrono state: busy, rwnd-limited, sndbuf-limited */
} __attribute__((preserve_access_index));

/* The kernel's chrono states (enum tcp_chrono): 0 none, 1 busy, 2 rwnd-limited, 3 sndbuf-limited. */
#define CHRONO_STATES 3

/* Only the end of a connection carries totals (a listener's close is not one), and only when an
 * output shows them (cfg.conn_totals: off for the table and CSV, and the verifier prunes the reads). */
static __always_inline bool wants_totals(const struct transition *t)
{
	return cfg.conn_totals && t->new == TCP_CLOSE && t->old != TCP_LISTEN && !t->lean;
}

static __always_inline void clear_totals(struct tcptrace_event *e)
{
	e->totals_read = 0;
	e->bytes_acked = 0;
	e->bytes_received = 0;
	e->bytes_retrans = 0;
	e->segs_out = 0;
	e->segs_in = 0;
	e->retrans_segs = 0;
	e->retrans_rto = 0;
	e->rtt_min_us = 0;
	e->busy_jiffies = 0;
	e->rwnd_limited_jiffies = 0;
	e->sndbuf_limited_jiffies = 0;
}

/* tcp_info's chrono times as the kernel computes them: the state in progress counts up to now
 * (branches, not an index: the verifier refuses a variable offset into the stack). */
static __always_inline void chrono_times(struct tcptrace_event *e, __u32 busy, __u32 rwnd, __u32 sndbuf,
					 __u8 type, __u32 start)
{
	if (type && HAVE_HELPER(jiffies64)) {
		__u32 running = (__u32)bpf_jiffies64() - start;
		if (type == 1)
			busy += running;
		else if (type == 2)
			rwnd += running;
		else if (type == 3)
			sndbuf += running;
	}
	e->busy_jiffies = busy + rwnd + sndbuf;
	e->rwnd_limited_jiffies = rwnd;
	e->sndbuf_limited_jiffies = sndbuf;
}

static __always_inline void read_totals_btf(struct tcptrace_event *e, const struct sock *sk)
{
	if (!HAVE_HELPER(skc_to_tcp_sock))
		return;
	/* typed, so plain loads reach past struct sock (CLOSE only: the helper is a call) */
	const struct tcp_sock___totals *tp = (const void *)bpf_skc_to_tcp_sock((void *)sk);
	if (!tp)
		return;
	e->bytes_acked = tp->bytes_acked;
	e->bytes_received = tp->bytes_received;
	if (bpf_core_field_exists(tp->bytes_retrans))
		e->bytes_retrans = tp->bytes_retrans;
	e->segs_out = tp->segs_out;
	e->segs_in = tp->segs_in;
	e->retrans_segs = tp->total_retrans;
	e->rtt_min_us = tp->rtt_min.s[0].v;
	e->totals_read = TCPTRACE_TOTALS_READ;
	if (bpf_core_field_exists(tp->total_rto)) {
		e->retrans_rto = tp->total_rto;
		e->totals_read |= TCPTRACE_TOTALS_RTO;
	}
	chrono_times(e, tp->chrono_stat[0], tp->chrono_stat[1], tp->chrono_stat[2],
		     BPF_CORE_READ_BITFIELD(tp, chrono_type), tp->chrono_start);
}

static __always_inline void read_totals_tp(struct tcptrace_event *e, const struct sock *sk)
{
	const struct tcp_sock___totals *tp = (const void *)sk;
	__u32 stat[CHRONO_STATES];

	e->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
	e->bytes_received = BPF_CORE_READ(tp, bytes_received);
	if (bpf_core_field_exists(tp->bytes_retrans))
		e->bytes_retrans = BPF_CORE_READ(tp, bytes_retrans);
	e->segs_out = BPF_CORE_READ(tp, segs_out);
	e->segs_in = BPF_CORE_READ(tp, segs_in);
	e->retrans_segs = BPF_CORE_READ(tp, total_retrans);
	e->rtt_min_us = BPF_CORE_READ(tp, rtt_min.s[0].v);
	e->totals_read = TCPTRACE_TOTALS_READ;
	if (bpf_core_field_exists(tp->total_rto)) {
		e->retrans_rto = BPF_CORE_READ(tp, total_rto);
		e->totals_read |= TCPTRACE_TOTALS_RTO;
	}
	BPF_CORE_READ_INTO(&stat, tp, chrono_stat);
	chrono_times(e, stat[0], stat[1], stat[2], BPF_CORE_READ_BITFIELD_PROBED(tp, chrono_type),
		     BPF_CORE_READ(tp, chrono_start));
}

/* The record's totals: read at a connection's CLOSE, zero on every other record. */
static __always_inline void fill_totals(struct tcptrace_event *e, const struct transition *t, const bool btf)
{
	clear_totals(e);
	if (!wants_totals(t))
		return;
	if (btf)
		read_totals_btf(e, t->sk);
	else
		read_totals_tp(e, t->sk);
}

#endif
