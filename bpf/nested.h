/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The nested handler's per-CPU state (bpf/nested.bpf.h), read by the loader for its count. */
#ifndef TCPTRACE_NESTED_H
#define TCPTRACE_NESTED_H

/* The stacks a state change can run on: the task's own, and the CPU's interrupt stack. */
#define TCPTRACE_NESTED_STACKS 2

struct tcptrace_state_nesting {
	__u64 runs;    /* changes the handler ran for (bpf/hidden.bpf.h sets them against the tracepoint's calls) */
	__u64 handled; /* changes the nested handler took: the handler's misses it made good */
	/* per stack: the change the handler is running or ran for, its second call still to come */
	struct tcptrace_change_token {
		__u64 frame;  /* the tracepoint call's argument block: one address per call in progress */
		__u64 sk;     /* struct sock * */
		__u32 states; /* old << 8 | new */
		__u32 pad;
	} ran[TCPTRACE_NESTED_STACKS];
};

#endif
