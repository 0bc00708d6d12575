/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * State changes the kernel would skip. A tp_btf program is not run again on a CPU where it is
 * already running: a state change in softirq that interrupts the handler (busy with a process
 * context change on that CPU) is dropped and only counted (recursion_misses). That guard is per
 * program, so a second program on the same tracepoint still runs then: it does the work only
 * for the state changes the first one did not run for.
 *
 * How it knows: the first program, as its last act, pushes a token of the change it handled
 * (socket, old and new state) on a small per-CPU stack; the second, called right after it for
 * the same change (the tracepoint calls its programs in the order they were attached: the
 * handler first, see probe.cc), finds the token and pops it, or finds none and handles the
 * change itself. No flag set on entry: the kernel marks the handler busy a few instructions
 * before its first one runs, and a change arriving in that window would be missed by a flag.
 * A change nested between the handler's return and the second program's call runs both (the
 * handler was idle) and pushes and pops above the outer token; the outer token is found under
 * it. When the second program itself was busy (its nested call skipped), the handler ran and
 * its token stays: above the outer one, which removes it with its own, or, if the outer call
 * had already popped, left over (a full stack starts again, below). The handler runs alone
 * before the second program is attached and after it is detached (probe.cc detaches in reverse
 * order): the second program's first run on a CPU forgets what was pushed before it.
 * Measured (BENCHMARKS.md): the handler's own time unchanged, the second program ~8 ns a call
 * above an empty program.
 *
 * The classic tracepoint cannot be helped this way: its guard (bpf_prog_active) is shared by
 * every kprobe and tracepoint program on the CPU and skips the whole tracepoint. There, and
 * when both programs are busy (three levels of nesting), the count stays exact:
 * not seen = the handler's recursion_misses - changes the second program handled.
 */
#include "nested.h"

#define NESTED_DEPTH TCPTRACE_NESTED_DEPTH

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcptrace_state_nesting);
} state_nesting SEC(".maps");

/* One change, as the two programs see it (no arithmetic: the socket is a typed pointer). */
static __always_inline bool same_change(const struct tcptrace_change_token *k, const struct sock *sk, __u32 states)
{
	return k->sk == (__u64)sk && k->states == states;
}

/* The handler's last act: this change is handled. */
static __always_inline void handled_here(const struct sock *sk, int old, int new)
{
	__u32 zero = 0;
	struct tcptrace_state_nesting *n = bpf_map_lookup_elem(&state_nesting, &zero);

	if (!n || !n->armed)
		return;
	__u32 d = n->depth;
	/*
	 * Full only of tokens left over: when the second program is busy, its nested call is
	 * skipped and the token the handler pushed for that change can stay below later ones.
	 * Leftovers sink to the bottom; a token still wanted (a change nested right then) is near
	 * the top. So the bottom one goes: starting the stack again could drop a wanted token and
	 * take that change twice (the storm test saw it, 1 run in 4).
	 */
	if (d >= NESTED_DEPTH) {
#pragma unroll
		for (int i = 0; i < NESTED_DEPTH - 1; i++)
			n->token[i] = n->token[i + 1];
		d = NESTED_DEPTH - 1;
	}
	n->token[d].sk = (__u64)sk;
	n->token[d].states = (__u32)old << 8 | (new & 0xff);
	n->depth = d + 1;
}

/* The second program's test: true when the handler did not run for this change. */
static __always_inline bool missed_by_handler(const struct sock *sk, int old, int new)
{
	__u32 zero = 0;
	struct tcptrace_state_nesting *n = bpf_map_lookup_elem(&state_nesting, &zero);

	if (!n)
		return false;
	/*
	 * Its first run on this CPU: the handler, attached first, ran for this change (had it
	 * not, the change stays in its misses and so in "not seen": exact either way). Tokens
	 * pushed before, while this program was not yet attached, are forgotten.
	 */
	if (!n->armed) {
		n->armed = 1;
		n->depth = 0;
		return false;
	}
	__u32 states = (__u32)old << 8 | (new & 0xff);
	__u32 d = n->depth;
	/* the common case: our token on top */
	if (d && d <= NESTED_DEPTH && same_change(&n->token[d - 1], sk, states)) {
		n->depth = d - 1;
		return false;
	}
#pragma unroll
	for (int i = NESTED_DEPTH - 1; i >= 0; i--) {
		if (i < d && same_change(&n->token[i], sk, states)) {
			n->depth = i; /* with the tokens of nested changes the handler ran for */
			return false;
		}
	}
	n->handled++;
	return true;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_nested_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	if (missed_by_handler(sk, oldstate, newstate))
		on_state_change(ctx, sk, oldstate, newstate, true, TCPTRACE_SLOT_NESTED);
	return 0;
}
