/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * State changes no program of ours ran for, counted. Some kernels run no BPF tracing program
 * while PID 1 is the current task unless PID 1 loaded it (a sandbox patch: the check sits in
 * the kernel's BPF entry points and counts nothing, see docs/ARCHITECTURE.md). A state change
 * handled in softirq on top of PID 1 then reaches neither the handler nor the nested one.
 *
 * Where the loader finds that patch, it opens a counting perf event on the state tracepoint per
 * CPU (perf counts every call, whoever is current) and, at start and whenever counters are read,
 * runs the program below on each CPU in turn, from a thread pinned there: no call is in
 * progress on that CPU then, so calls - reached is exact, and its growth is the hidden calls.
 */
#include "hidden.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} state_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcptrace_call_sample);
} call_sample SEC(".maps");

/* Run by the loader (BPF_PROG_TEST_RUN on one CPU), never attached. */
SEC("raw_tp")
int sample_state_calls(void *ctx)
{
	struct tcptrace_state_nesting *n = nesting();
	__u32 zero = 0;
	struct tcptrace_call_sample *s = bpf_map_lookup_elem(&call_sample, &zero);

	if (!n || !s)
		return 0;
	s->taken = 0;
	/* A softirq may run state changes between two reads: read the calls on both sides of the
	 * reached count, and take the pair only when no call came between. */
#pragma unroll
	for (int i = 0; i < 4; i++) {
		struct bpf_perf_event_value before = {}, after = {};
		if (bpf_perf_event_read_value(&state_calls, BPF_F_CURRENT_CPU, &before, sizeof(before)))
			return 0;
		__u64 reached = n->runs + n->handled;
		if (bpf_perf_event_read_value(&state_calls, BPF_F_CURRENT_CPU, &after, sizeof(after)))
			return 0;
		if (before.counter == after.counter) {
			s->calls = after.counter;
			s->reached = reached;
			s->taken = 1;
			return 0;
		}
	}
	return 0;
}
