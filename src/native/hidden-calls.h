// State changes the kernel made while running no program of ours, on kernels that skip BPF
// tracing programs while PID 1 is the current task (bpf/hidden.bpf.h says how they are counted).
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "btf-names.h"

class HiddenCalls {
 public:
  HiddenCalls() = default;
  HiddenCalls(const HiddenCalls&) = delete;
  HiddenCalls& operator=(const HiddenCalls&) = delete;
  ~HiddenCalls() { Close(); }

  // Whether this kernel runs no BPF program while PID 1 is current: its BTF has the mark the
  // patch adds, bpf_prog_aux.init_owned (set when PID 1 loaded the program).
  static bool KernelHides(const KernelBtfNames& vmlinux) { return vmlinux.Has("init_owned"); }

  // After load, before the state programs attach: a counting perf event per CPU on the state
  // tracepoint, stored in the object's state_calls map. '' or why it cannot count.
  std::string Open(struct bpf_object* obj);
  // Samples every CPU (when counting). The first sample after attach is the baseline.
  void Sample();
  // Before the programs detach: the last sample, then no more.
  void Finish();
  void Close();

  bool counting() const { return !perf_fds_.empty(); }
  // Why the count stopped being whole after attach ('' while it is).
  const std::string& broken() const { return broken_; }
  uint64_t hidden() const;

 private:
  struct Gap {
    bool known = false;
    uint64_t baseline = 0;  // calls - reached on that CPU at the first sample
    uint64_t hidden = 0;    // its growth since, at the last sample
  };
  bool SampleCpu(int cpu, uint64_t* unreached);

  std::vector<int> perf_fds_;  // per possible CPU, -1 where none
  std::vector<Gap> gaps_;
  int prog_fd_ = -1, sample_fd_ = -1;
  std::string broken_;
};
