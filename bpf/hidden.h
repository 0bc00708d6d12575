/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One CPU's sample of the state tracepoint's calls (bpf/hidden.bpf.h), read by the loader. */
#ifndef TCPTRACE_HIDDEN_H
#define TCPTRACE_HIDDEN_H

struct tcptrace_call_sample {
	__u64 calls;   /* the tracepoint's calls on this CPU, as a perf counter counts them */
	__u64 reached; /* of them, those the handler ran for or the nested handler took */
	__u64 taken;   /* 1 when the two were read with no call between them */
};

#endif
