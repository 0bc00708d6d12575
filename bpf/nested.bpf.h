/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * State changes the kernel would skip. A tp_btf program is not run again on a CPU where it is
 * already running (the per-program guard prog->active, counted in recursion_misses): a state
 * change in softirq that interrupts the handler, busy with a process-context change, is
 * dropped. The guard is per program, so a second program on the same tracepoint, called right
 * after the handler for each change (the tracepoint calls them in attach order, see loader.cc),
 * still runs then: it does the work for the changes the handler did not run for.
 *
 * How it knows, exactly. Calls of the tracepoint on one CPU nest only as interrupts do: with
 * preemption off, a change in softirq interrupts one in process context, never the reverse, and
 * softirqs do not nest. Process context runs on the task's stack and softirq on the CPU's
 * interrupt stack, so the stack a call runs on names its level, and at most one call per stack
 * is in progress. The handler, first thing, writes its change in its stack's slot; the second
 * program reads and empties the slot of its own stack: the handler ran for this very change
 * exactly when the slot holds it. A nested call uses the other slot, so it never disturbs the
 * one it interrupted: no change can be taken twice.
 *
 * A slot left full (the second program was itself busy on the task's stack when a softirq
 * change came, so its call was skipped; the handler had taken that change) is emptied by the
 * next run of either program on the task's stack. Before that run begins, a softirq change the
 * handler is skipped for could find it only if it were the same socket making the same change
 * at the same stack depth as the one left: not possible for two consecutive changes of the
 * softirq level (a socket's states move on). Had it happened, that change would be lost and
 * counted, never doubled: not seen = the handler's recursion_misses - changes taken here.
 *
 * The classic tracepoint cannot be helped this way: its guard (bpf_prog_active) is shared by
 * every kprobe and tracepoint program on the CPU and skips the whole tracepoint.
 */
#include "nested.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcptrace_state_nesting);
} state_nesting SEC(".maps");

struct vm_struct___nest { unsigned long size; } __attribute__((preserve_access_index));
struct task_struct___nest {
	void *stack;
	struct vm_struct___nest *stack_vm_area;
} __attribute__((preserve_access_index));

/* Without a vmapped stack (CONFIG_VMAP_STACK), the smallest THREAD_SIZE of 64-bit kernels. */
#define TASK_STACK_BYTES (16 << 10)

/* 0 when this call's arguments lie on the current task's stack, 1 on another (interrupt) stack. */
static __always_inline __u32 stack_level(const void *frame)
{
	const bool btf = HAVE_HELPER(get_current_task_btf);
	struct task_struct___nest *task = btf ? (void *)bpf_get_current_task_btf() : (void *)bpf_get_current_task();
	__u64 base = (__u64)KREAD(btf, task, stack);
	__u64 size = 0;

	if (bpf_core_field_exists(task->stack_vm_area)) {
		struct vm_struct___nest *area = KREAD(btf, task, stack_vm_area);
		if (area)
			size = KREAD(btf, area, size); /* THREAD_SIZE and its guard page */
	}
	if (!size)
		size = TASK_STACK_BYTES;
	/*
	 * Two compares, no arithmetic on the pointer (kernels before 6.18 refuse math between it
	 * and an unbounded value); `top` is opaque so the compiler cannot fold them into one.
	 */
	__u64 top = base + size;
	asm volatile("" : "+r"(top));
	return (__u64)frame >= base && (__u64)frame < top ? 0 : 1;
}

static __always_inline struct tcptrace_state_nesting *nesting(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&state_nesting, &zero);
}

/* The handler's first act: this change is handled on this stack. */
static __always_inline void handler_runs(const void *frame, const struct sock *sk, int old, int new)
{
	struct tcptrace_state_nesting *n = nesting();
	__u32 level = stack_level(frame);

	if (!n)
		return;
	n->runs++; /* not shared: the handler cannot interrupt itself, nor the nested one this count */
	if (level == 0)
		n->ran[1].frame = 0; /* nothing runs on the interrupt stack now: a leftover */
	level &= 1;
	n->ran[level].frame = (__u64)frame;
	n->ran[level].sk = (__u64)sk;
	n->ran[level].states = (__u32)old << 8 | (new & 0xff);
}

/* The second program's test: true when the handler did not run for this change. */
static __always_inline bool missed_by_handler(const void *frame, const struct sock *sk, int old, int new)
{
	struct tcptrace_state_nesting *n = nesting();
	__u32 level = stack_level(frame) & 1;

	if (!n)
		return false;
	struct tcptrace_change_token *k = &n->ran[level];
	bool ran = k->frame == (__u64)frame && k->sk == (__u64)sk && k->states == ((__u32)old << 8 | (new & 0xff));
	k->frame = 0;
	if (level == 0)
		n->ran[1].frame = 0;
	if (ran)
		return false;
	n->handled++;
	return true;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_nested_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	if (missed_by_handler(ctx, sk, oldstate, newstate))
		on_state_change(ctx, sk, oldstate, newstate, true);
	return 0;
}
