/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The nested handler's per-CPU state (bpf/nested.bpf.h), read by the loader for its count. */
#ifndef TCPTRACE_NESTED_H
#define TCPTRACE_NESTED_H

#define TCPTRACE_NESTED_DEPTH 7

struct tcptrace_state_nesting {
	__u32 depth;   /* tokens on the stack */
	__u32 armed;   /* the nested handler has run on this CPU: tokens are popped from now on */
	__u64 handled; /* changes the nested handler took: the handler's misses it made good */
	struct tcptrace_change_token {
		__u64 sk;     /* struct sock * */
		__u32 states; /* old << 8 | new */
		__u32 pad;
	} token[TCPTRACE_NESTED_DEPTH];
};

#endif
