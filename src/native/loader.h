// Open, configure, load and attach the BPF object. Open runs on the calling thread; the load
// and attach (the verifier takes tens of ms) on a loader thread while JS goes on. libbpf only,
// nothing of N-API.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hidden-calls.h"
#include "libbpf-log.h"
#include "programs.h"

struct LoadOptions {
  std::string object_path;
  std::string attach;    // "tp_btf" or "tracepoint"
  std::string btf_path;  // kernel BTF to relocate against instead of /sys/kernel/btf/vmlinux ('' none)
  const uint8_t* config = nullptr;  // struct tcptrace_config, encoded by src/probe/config.ts
  size_t config_bytes = 0;
  uint32_t ring_bytes = 0, max_sockets = 0;
  bool perf_mode = false;
  std::set<std::string> pretend_missing;  // helpers to treat as absent (tests)
};

class BpfLoader {
 public:
  BpfLoader() = default;
  BpfLoader(const BpfLoader&) = delete;
  BpfLoader& operator=(const BpfLoader&) = delete;
  ~BpfLoader() { Close(); }

  // Opens the object and writes its config; then loads and attaches it on the loader thread.
  void Start(const LoadOptions& options);
  // Waits for the loader thread.
  void Wait();
  // Waits for the loader thread; the load's error, '' when attached.
  std::string Finish();
  bool loading() const { return thread_.joinable(); }
  // Detaches every program: nothing new arrives.
  void Detach();
  void Close();

  struct bpf_object* object() const { return obj_; }
  int map_fd(const char* name) const { return obj_ ? bpf_object__find_map_fd_by_name(obj_, name) : -1; }
  const std::vector<std::string>& loaded() const { return loaded_; }
  const std::vector<LeftOut>& left_out() const { return left_out_; }
  int last_errno() const { return last_errno_; }
  double started_ms() const { return started_ms_; }
  double attached_ms() const { return attached_ms_; }
  // Whether this kernel runs no BPF program while PID 1 is current; if so, why the calls it
  // hides cannot be counted ('' when they are).
  bool kernel_hides() const { return kernel_hides_; }
  const std::string& hidden_uncounted() const { return hidden_uncounted_.empty() ? hidden_.broken() : hidden_uncounted_; }
  // State changes it hid since attach, sampled now while attached.
  uint64_t HiddenCallsNow() {
    if (!links_.empty()) hidden_.Sample();
    return hidden_.hidden();
  }
  LibbpfLog log;

 private:
  std::string Fail(const std::string& what, int err);
  std::string Open(const LoadOptions& o);
  std::string WriteConfig(const uint8_t* config, size_t bytes);
  std::string LoadAndAttach(const LoadOptions& o);
  void SkipUnusedOwnerStorage();

  struct bpf_object* obj_ = nullptr;
  std::thread thread_;
  std::string error_;
  std::vector<struct bpf_link*> links_;
  std::vector<std::string> loaded_;
  std::vector<LeftOut> left_out_;
  int last_errno_ = 0;
  double started_ms_ = 0, attached_ms_ = 0;
  bool kernel_hides_ = false;
  std::string hidden_uncounted_;
  HiddenCalls hidden_;
};

double MonotonicMs();
