#include "counters.h"

#include <bpf/bpf.h>

#include <string>
#include <vector>

#include "../../bpf/tcptrace.h"
#include "../../bpf/nested.h"

namespace {

// State changes the kernel did not run the handler for, because it was already running on
// that CPU (a softirq change interrupting a process-context one); the nested handler takes
// them (bpf/nested.bpf.h), and what it could not take never reaches `seen`: reported
// separately instead of vanishing (kernel 5.12+; 0 where unknown).
uint64_t RecursionMisses(struct bpf_object* obj) {
  uint64_t total = 0;
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, obj) {
    std::string name = bpf_program__name(prog);
    if (name.rfind("set_state", 0) != 0 || name == kNestedHandler || bpf_program__fd(prog) < 0) continue;
    struct bpf_prog_info info = {};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) total += info.recursion_misses;
  }
  return total;
}

// State changes the nested handler took because the handler was busy on that CPU.
uint64_t NestedHandled(struct bpf_object* obj, int ncpu) {
  int fd = bpf_object__find_map_fd_by_name(obj, "state_nesting");
  if (fd < 0) return 0;
  std::vector<tcptrace_state_nesting> per_cpu(ncpu);
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(fd, &zero, per_cpu.data())) return 0;
  uint64_t total = 0;
  for (const auto& n : per_cpu) total += n.handled;
  return total;
}

}  // namespace

bool ReadCounters(int counters_fd, struct bpf_object* obj, ProbeCounters* out) {
  if (counters_fd < 0 || !obj) return false;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return false;
  std::vector<tcptrace_counters> per_cpu(ncpu);
  ProbeCounters c;
  for (uint32_t slot = 0; slot < 2; slot++) {  // the handler's, the nested handler's
    if (bpf_map_lookup_elem(counters_fd, &slot, per_cpu.data())) return false;
    for (const auto& p : per_cpu) {
      c.seen += p.seen;
      c.dropped += p.dropped;
      c.accepts_lost += p.accepts_dropped;
    }
  }
  uint64_t misses = RecursionMisses(obj);
  c.nested = NestedHandled(obj, ncpu);
  c.missed = misses > c.nested ? misses - c.nested : 0;
  *out = c;
  return true;
}
