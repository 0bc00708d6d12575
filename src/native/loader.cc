#include "loader.h"

#include <bpf/btf.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include "../../bpf/tcptrace.h"
#include "btf-names.h"
#include "counters.h"

double MonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

std::string BpfLoader::Fail(const std::string& what, int err) {
  last_errno_ = err < 0 ? -err : err;
  return what + ": " + strerror(last_errno_);
}

void BpfLoader::Start(const LoadOptions& options) {
  started_ms_ = MonotonicMs();
  {
    LogTo to(&log);
    error_ = Open(options);
  }
  if (!error_.empty()) return;
  // Every signal stays with the other threads: a SIGPROF (node --cpu-prof), an interval
  // timer or a Ctrl-C interrupting the verifier would fail the load with EAGAIN/EINTR.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  thread_ = std::thread([this, options] {
    LogTo to(&log);
    error_ = LoadAndAttach(options);
  });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void BpfLoader::Wait() {
  if (thread_.joinable()) thread_.join();
}

std::string BpfLoader::Finish() {
  Wait();
  std::string error = error_;
  error_.clear();
  return error;
}

// On the calling thread: the object opened, its config written, maps sized.
std::string BpfLoader::Open(const LoadOptions& o) {
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = o.btf_path.empty() ? nullptr : o.btf_path.c_str());
  obj_ = bpf_object__open_file(o.object_path.c_str(), &open_opts);
  if (!obj_) return Fail("cannot open BPF object " + o.object_path, errno);

  std::string error = WriteConfig(o.config, o.config_bytes);
  if (!error.empty()) return error;
  // An addon built before a record change would skip every record as the wrong size and count
  // them all as lost: say so instead.
  struct btf* obj_btf = bpf_object__btf(obj_);
  int event_id = obj_btf ? btf__find_by_name_kind(obj_btf, "tcptrace_event", BTF_KIND_STRUCT) : -1;
  if (event_id < 0 || btf__type_by_id(obj_btf, event_id)->size != sizeof(struct tcptrace_event))
    return "the native addon and " + o.object_path + " disagree on the record's size: rebuild the addon (npm run install)";

  // Every map this file names (a skeleton would check them at compile time; why there is none:
  // docs/ARCHITECTURE.md).
  struct bpf_map* events = bpf_object__find_map_by_name(obj_, "events");
  struct bpf_map* socks = bpf_object__find_map_by_name(obj_, "socks");
  if (!events || !socks || !bpf_object__find_map_by_name(obj_, "counters") ||
      !bpf_object__find_map_by_name(obj_, "perf_events"))
    return "BPF object lacks the events, socks, counters or perf_events map (rebuild it)";
  if (o.max_sockets) bpf_map__set_max_entries(socks, o.max_sockets);
  if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) > 0) {
    // In perf mode the ring stays but is never written: keep it one page.
    bpf_map__set_max_entries(events, o.perf_mode ? getpagesize() : o.ring_bytes);
  } else if (o.perf_mode) {
    // No ring buffer in this kernel: stand in a harmless map; the code using it is pruned.
    bpf_map__set_type(events, BPF_MAP_TYPE_ARRAY);
    bpf_map__set_key_size(events, 4);
    bpf_map__set_value_size(events, 4);
    bpf_map__set_max_entries(events, 1);
  } else {
    last_errno_ = EOPNOTSUPP;
    return "this kernel has no BPF ring buffer (BPF_MAP_TYPE_RINGBUF, 5.8+): use --perf-buffer";
  }
  return "";
}

// Copies the TS-encoded struct tcptrace_config over the `cfg` variable in .rodata, at the
// offset the object's BTF gives it.
std::string BpfLoader::WriteConfig(const uint8_t* config, size_t bytes) {
  struct bpf_map* rodata = bpf_object__find_map_by_name(obj_, ".rodata");
  struct btf* btf = bpf_object__btf(obj_);
  int sec_id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
  if (!rodata || sec_id < 0) return "BPF object has no .rodata section with BTF";
  const struct btf_type* sec = btf__type_by_id(btf, sec_id);
  const struct btf_var_secinfo* vars = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); i++) {
    const struct btf_type* var = btf__type_by_id(btf, vars[i].type);
    if (strcmp(btf__name_by_offset(btf, var->name_off), "cfg") != 0) continue;
    if (vars[i].size != bytes || vars[i].size != sizeof(struct tcptrace_config))
      return "config size mismatch between TS, header and object (rebuild)";
    size_t size = 0;
    uint8_t* data = static_cast<uint8_t*>(const_cast<void*>(bpf_map__initial_value(rodata, &size)));
    if (!data || vars[i].offset + vars[i].size > size) return "cannot write .rodata";
    memcpy(data + vars[i].offset, config, bytes);
    return "";
  }
  return "BPF object has no cfg variable";
}

// On the loader thread: libbpf only, nothing of N-API.
std::string BpfLoader::LoadAndAttach(const LoadOptions& o) {
  KernelBtfNames names;
  const KernelBtfNames* vmlinux = nullptr;
  if (o.attach == "tp_btf") {
    if (!names.Load()) {
      last_errno_ = errno ? errno : ENOENT;
      return o.btf_path.empty() ? "tp_btf needs the kernel's BTF (/sys/kernel/btf/vmlinux), which this kernel lacks"
                                : "tp_btf needs the kernel's own BTF (/sys/kernel/btf/vmlinux); with --btf use --attach tracepoint";
    }
    if (!names.Has("btf_trace_inet_sock_set_state")) {
      last_errno_ = EOPNOTSUPP;
      return "tp_btf needs the kernel's BTF of raw tracepoints (btf_trace_inet_sock_set_state, Linux 5.5+): use --attach tracepoint";
    }
    vmlinux = &names;
  }
  ProgramChoice choice(o.attach, vmlinux, o.pretend_missing);
  kernel_hides_ = vmlinux ? HiddenCalls::KernelHides(*vmlinux) : names.Load() && HiddenCalls::KernelHides(names);
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    std::string name = bpf_program__name(prog);
    bool keep = name == kCallSampler ? kernel_hides_ && vmlinux : choice.Keep(name, bpf_program__section_name(prog));
    bpf_program__set_autoload(prog, keep);
    if (keep) loaded_.push_back(name);
  }
  left_out_ = choice.left_out();
  SkipUnusedOwnerStorage();

  int err = bpf_object__load(obj_);
  if (err) return Fail("loading the BPF program failed (the libbpf log below says why)", err);
  // Before attach: perf counts from then on. With our own classic tracepoint program attached,
  // perf counts only the calls it returns non-zero for (perf_trace_run_bpf_submit): never.
  if (kernel_hides_) hidden_uncounted_ = vmlinux ? hidden_.Open(obj_) : "with the classic tracepoint perf cannot count them; tp_btf can";

  // The nested handler after the handler: the tracepoint calls them in attach order, and it
  // must run second (bpf/nested.bpf.h).
  for (bool nested : {false, true}) bpf_object__for_each_program(prog, obj_) {
    if (!bpf_program__autoload(prog) || nested != (std::string(bpf_program__name(prog)) == kNestedHandler)) continue;
    if (std::string(bpf_program__name(prog)) == kCallSampler) continue;  // run, never attached
    struct bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      int e = errno;
      std::string name = bpf_program__name(prog);
      if (name.rfind("set_state", 0) == 0) return Fail(std::string("attaching ") + bpf_program__section_name(prog) + " failed", e);
      continue;  // a cause tracepoint we can live without
    }
    links_.push_back(link);
  }
  attached_ms_ = MonotonicMs();
  hidden_.Sample();  // the baseline: every call from here on reaches a program or is hidden
  return "";
}

// The socket-storage owner hooks keep a socket-local storage map, which kernels without them
// (or without BPF_MAP_TYPE_SK_STORAGE) need not, or cannot, create.
void BpfLoader::SkipUnusedOwnerStorage() {
  for (const auto& name : loaded_) {
    if (name == "recv_length_btf" || name == "send_length_btf" || name == "rcv_space_btf") return;
  }
  struct bpf_map* settled = bpf_object__find_map_by_name(obj_, "settled");
  if (settled) bpf_map__set_autocreate(settled, false);
}

// In the reverse order of attach: the nested handler before the handler, so that it never runs
// alone and takes for missed what the handler no longer sees (bpf/nested.bpf.h).
void BpfLoader::Detach() {
  if (!links_.empty()) hidden_.Finish();  // the last sample, while every call still reaches us
  for (auto l = links_.rbegin(); l != links_.rend(); ++l) bpf_link__destroy(*l);
  links_.clear();
}

void BpfLoader::Close() {
  if (thread_.joinable()) thread_.join();
  Detach();
  if (obj_) bpf_object__close(obj_);
  obj_ = nullptr;
}
