#include "counters.h"

#include <bpf/bpf.h>

#include <string>
#include <vector>

#include "../../bpf/tcptrace.h"

namespace {

// State changes the kernel did not run our program for, because it was already running on
// that CPU (a softirq change interrupting a process-context one). They never reach `seen`,
// so they are reported separately instead of vanishing (kernel 5.12+; 0 where unknown).
uint64_t RecursionMisses(struct bpf_object* obj) {
  uint64_t total = 0;
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, obj) {
    std::string name = bpf_program__name(prog);
    if (name.rfind("set_state", 0) != 0 || bpf_program__fd(prog) < 0) continue;
    struct bpf_prog_info info = {};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) total += info.recursion_misses;
  }
  return total;
}

}  // namespace

bool ReadCounters(int counters_fd, struct bpf_object* obj, ProbeCounters* out) {
  if (counters_fd < 0 || !obj) return false;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return false;
  std::vector<tcptrace_counters> per_cpu(ncpu);
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(counters_fd, &zero, per_cpu.data())) return false;
  ProbeCounters c;
  for (const auto& p : per_cpu) {
    c.seen += p.seen;
    c.dropped += p.dropped;
    c.accepts_lost += p.accepts_dropped;
  }
  c.missed = RecursionMisses(obj);
  *out = c;
  return true;
}
