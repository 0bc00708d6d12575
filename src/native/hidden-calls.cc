#include "hidden-calls.h"

#include <bpf/bpf.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../../bpf/hidden.h"
#include "counters.h"
#include "programs.h"

namespace {

const char* const kPerfShort =
    "another program on the classic sock:inet_sock_set_state tracepoint keeps perf from counting its calls";

// The state tracepoint's id, which perf needs and only tracefs tells; mounts tracefs if no root
// has it. -1 with `why` set when it cannot be read.
long TracepointId(std::string* why) {
  for (int attempt = 0; attempt < 2; attempt++) {
    long id = TracefsEventId("sock", "inet_sock_set_state");
    if (id >= 0) return id;
    int err = ENOENT;
    for (const char* root : kTracefsRoots) {
      if (access((std::string(root) + "/events").c_str(), F_OK) != 0 && errno == EACCES) err = EACCES;
    }
    if (err == EACCES) {
      *why = std::string("tracefs, where perf finds the tracepoint, is not readable here: ") + strerror(EACCES);
      return -1;
    }
    if (attempt == 0 && mount("tracefs", kTracefsRoots[0], "tracefs", 0, nullptr) != 0) {
      *why = std::string("tracefs, where perf finds the tracepoint, is not mounted and mounting it failed: ") + strerror(errno);
      return -1;
    }
  }
  *why = "tracefs has no sock:inet_sock_set_state";
  return -1;
}

}  // namespace

std::string HiddenCalls::Open(struct bpf_object* obj) {
  struct bpf_program* prog = bpf_object__find_program_by_name(obj, kCallSampler);
  int calls_fd = bpf_object__find_map_fd_by_name(obj, "state_calls");
  sample_fd_ = bpf_object__find_map_fd_by_name(obj, "call_sample");
  prog_fd_ = prog ? bpf_program__fd(prog) : -1;
  if (prog_fd_ < 0 || calls_fd < 0 || sample_fd_ < 0) return "the BPF object lacks its call sampler (rebuild it)";
  std::string why;
  long id = TracepointId(&why);
  if (id < 0) return why;
  int ncpu = libbpf_num_possible_cpus();
  std::vector<int> fds(ncpu > 0 ? ncpu : 0, -1);
  bool any = false;
  for (int cpu = 0; cpu < ncpu; cpu++) {
    struct perf_event_attr attr = {};
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.size = sizeof(attr);
    attr.config = static_cast<uint64_t>(id);
    int fd = static_cast<int>(syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd < 0) continue;  // an offline CPU
    uint32_t key = cpu;
    if (bpf_map_update_elem(calls_fd, &key, &fd, BPF_ANY)) {
      close(fd);
      continue;
    }
    fds[cpu] = fd;
    any = true;
  }
  if (!any) {
    int e = errno;
    return std::string("no perf counter on sock:inet_sock_set_state: ") + strerror(e);
  }
  perf_fds_ = std::move(fds);
  gaps_.assign(perf_fds_.size(), Gap{});
  return "";
}

// Runs the sampler on `cpu` from this thread pinned there, so that it interrupts no call.
bool HiddenCalls::SampleCpu(int cpu, uint64_t* unreached) {
  cpu_set_t before, only;
  bool pinned = pthread_getaffinity_np(pthread_self(), sizeof(before), &before) == 0;
  CPU_ZERO(&only);
  CPU_SET(cpu, &only);
  pinned = pinned && pthread_setaffinity_np(pthread_self(), sizeof(only), &only) == 0;
  // Not pinned (a cpuset without that CPU), the kernel would run it in an interrupt there, which
  // may land inside a call perf has counted and the handler not yet: no sample then.
  if (!pinned) return false;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = static_cast<__u32>(cpu));
  int err = bpf_prog_test_run_opts(prog_fd_, &opts);
  pthread_setaffinity_np(pthread_self(), sizeof(before), &before);
  if (err) return false;
  int ncpu = static_cast<int>(perf_fds_.size());
  std::vector<tcptrace_call_sample> per_cpu(ncpu);
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(sample_fd_, &zero, per_cpu.data())) return false;
  const tcptrace_call_sample& s = per_cpu[cpu];
  if (!s.taken) return false;
  if (s.calls < s.reached) {
    // perf counted fewer calls than our programs ran for: a classic tracepoint BPF program on the
    // same tracepoint decides whether perf counts a call (perf_trace_run_bpf_submit), and most
    // return 0
    broken_ = kPerfShort;
    return false;
  }
  *unreached = s.calls - s.reached;
  return true;
}

void HiddenCalls::Sample() {
  if (!counting()) return;
  for (size_t cpu = 0; cpu < perf_fds_.size(); cpu++) {
    uint64_t unreached = 0;
    if (perf_fds_[cpu] < 0 || !SampleCpu(static_cast<int>(cpu), &unreached)) continue;  // keeps its last share
    Gap& g = gaps_[cpu];
    if (!g.known) {
      g = {true, unreached, 0};
    } else if (unreached >= g.baseline + g.hidden) {
      g.hidden = unreached - g.baseline;
    } else {
      // perf fell behind since (see above): from here on the count would be short
      broken_ = kPerfShort;
    }
  }
}

uint64_t HiddenCalls::hidden() const {
  uint64_t total = 0;
  for (const Gap& g : gaps_) total += g.hidden;
  return total;
}

void HiddenCalls::Finish() {
  Sample();
  Close();
}

void HiddenCalls::Close() {
  for (int fd : perf_fds_) {
    if (fd >= 0) close(fd);
  }
  perf_fds_.clear();
}
