// The kernel side's counters, summed over every possible CPU: after the programs are detached
// and delivery is flushed, seen == delivered + dropped exactly.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>

struct ProbeCounters {
  uint64_t seen = 0, dropped = 0;
  uint64_t accepts_lost = 0;  // accept records, counted apart from transitions
  uint64_t missed = 0;        // state changes the kernel did not run our program for
  uint64_t nested = 0;        // of the handler's misses, those the nested handler took
  uint64_t hidden = 0;        // in missed: run for by no program, PID 1 current (hidden-calls.h)
};

// The second program on the state tracepoint (bpf/nested.bpf.h): attached after the handler,
// detached before it.
inline constexpr const char* kNestedHandler = "set_state_nested_btf";
// Never attached: the loader runs it on each CPU to count hidden calls (bpf/hidden.bpf.h).
inline constexpr const char* kCallSampler = "sample_state_calls";

// Reads the per-CPU `counters` map (fd) into `out`; false if it cannot be read.
bool ReadCounters(int counters_fd, struct bpf_object* obj, ProbeCounters* out);
