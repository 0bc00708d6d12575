// The native half of the probe: libbpf open/configure/load/attach, and the drain of the ring
// buffer (a native thread, drain.cc; or on Node's event loop, as the perf buffer always is)
// that hands JS one Buffer per batch.
// Decoding happens in TypeScript (src/decode/decode.ts); nothing here knows the record's fields.
#include <napi.h>
#include <uv.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include <csignal>
#include <pthread.h>
#include <thread>
#include <time.h>
#include <unistd.h>

#include "../../bpf/tcptrace.h"
#include "btf-names.h"
#include "drain.h"
#include "ring.h"

namespace {

// libbpf prints through one global callback; we collect its warnings (the verifier log
// among them) so a failed load can say why. Per thread: each probe's load runs on its own
// thread, and two may overlap (bin/tcptrace's early start and the one the options asked for).
struct LibbpfLog {
  std::string text;
  bool verbose = false;
};
thread_local LibbpfLog* t_log = nullptr;

// Points libbpf's messages on this thread at `log` for the scope's duration.
class LogTo {
 public:
  explicit LogTo(LibbpfLog* log) : previous_(t_log) { t_log = log; }
  ~LogTo() { t_log = previous_; }

 private:
  LibbpfLog* previous_;
};

int CollectLibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  LibbpfLog* log = t_log;
  if (!log || (level == LIBBPF_DEBUG && !log->verbose)) return 0;
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return n;
  std::string text(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(&text[0], text.size(), fmt, args);
  text.resize(n);
  if (log->verbose) fputs(text.c_str(), stderr);
  if (log->text.size() < (4 << 20)) log->text.append(text);
  return n;
}

const char* kTracefsRoots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

bool TracefsEventExists(const std::string& category, const std::string& name) {
  for (const char* root : kTracefsRoots) {
    std::string path = std::string(root) + "/events/" + category + "/" + name + "/id";
    if (access(path.c_str(), R_OK) == 0) return true;
  }
  return false;
}

// Whether the program's target exists on this kernel, so optional programs can be skipped
// instead of failing the whole load.
bool TargetExists(const std::string& section, const KernelBtfNames* vmlinux) {
  if (section.rfind("tp_btf/", 0) == 0) {
    // The kernel names the type of each raw tracepoint btf_trace_<name>.
    return vmlinux && vmlinux->Has("btf_trace_" + section.substr(7));
  }
  if (section.rfind("tracepoint/", 0) == 0) {
    std::string rest = section.substr(11);
    size_t slash = rest.find('/');
    return slash != std::string::npos && TracefsEventExists(rest.substr(0, slash), rest.substr(slash + 1));
  }
  return false;
}

double MonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Which programs to load: the state change always (in the chosen mode); optional ones only
// where their target exists. Programs named *_btf or *_tp belong to one attach mode; the
// accept hooks (classic syscall tracepoints, *_exit_tp) load in both. The receive hook on
// tcp_rcv_space_adjust is the fallback for kernels without sock:sock_recv_length (< 6.3): both
// would cost twice on every receive.
bool KeepProgram(const std::string& name, const std::string& section, const char* wanted, const KernelBtfNames* vmlinux) {
  if (name.rfind("set_state", 0) == 0) return EndsWith(name, wanted);
  bool any_mode = EndsWith(name, "_exit_tp");
  if (!any_mode && !EndsWith(name, wanted)) return false;
  if (name == "rcv_space_btf" && TargetExists("tp_btf/sock_recv_length", vmlinux)) return false;
  return TargetExists(section, vmlinux);
}

}  // namespace

class Probe : public Napi::ObjectWrap<Probe> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(env, "Probe", {
      InstanceMethod("counters", &Probe::Counters),
      InstanceMethod("close", &Probe::Close),
      InstanceMethod("programs", &Probe::Programs),
      InstanceMethod("delivery", &Probe::Delivery),
      InstanceMethod("start", &Probe::Start),
      InstanceMethod("loadTimes", &Probe::LoadTimes),
    });
    exports.Set("Probe", ctor);
    exports.Set("ringbufSupported", Napi::Function::New(env, RingbufSupported));
    // The one list of tracefs mount points (src/probe/tracefs.ts mounts the first when none is).
    Napi::Array roots = Napi::Array::New(env);
    for (const char* root : kTracefsRoots) roots.Set(roots.Length(), Napi::String::New(env, root));
    exports.Set("tracefsRoots", roots);
    libbpf_set_print(CollectLibbpfPrint);
    return exports;
  }

  // new Probe(options, onBatch): loads and attaches, then drains into onBatch.
  // new Probe(options), later probe.start(onBatch): the load and attach run on a thread in the
  // meantime (the verifier takes tens of ms), so the caller can go on loading its modules.
  explicit Probe(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Probe>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject() || (info.Length() > 1 && !info[1].IsFunction() && !info[1].IsUndefined())) {
      Napi::TypeError::New(env, "Probe(options, onBatch) expected").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object opts = info[0].As<Napi::Object>();

    std::string object_path = opts.Get("objectPath").As<Napi::String>();
    std::string attach = opts.Get("attach").As<Napi::String>();
    std::string delivery = opts.Get("delivery").As<Napi::String>();
    Napi::Buffer<uint8_t> config = opts.Get("config").As<Napi::Buffer<uint8_t>>();
    uint32_t ring_bytes = opts.Get("ringBytes").As<Napi::Number>().Uint32Value();
    uint32_t perf_pages = opts.Get("perfPages").As<Napi::Number>().Uint32Value();
    uint32_t max_sockets = opts.Get("maxSockets").As<Napi::Number>().Uint32Value();
    flush_ms_ = opts.Get("flushMs").As<Napi::Number>().Uint32Value();
    batch_bytes_ = opts.Get("batchBytes").As<Napi::Number>().Uint32Value();
    log_.verbose = opts.Get("verbose").ToBoolean();
    drain_thread_ = opts.Get("drainThread").ToBoolean();
    drain_boost_ = opts.Get("drainBoost").ToBoolean();
    backlog_bytes_ = static_cast<size_t>(opts.Get("backlogBytes").As<Napi::Number>().DoubleValue());
    perf_mode_ = delivery == "perfbuf";
    batch_.reserve(batch_bytes_ + sizeof(tcptrace_event));

    load_started_ms_ = MonotonicMs();
    {
      LogTo to(&log_);
      load_error_ = Open(object_path, config, ring_bytes, perf_pages, max_sockets);
    }
    if (load_error_.empty()) {
      // Every signal stays with the other threads: a SIGPROF (node --cpu-prof), an interval
      // timer or a Ctrl-C interrupting the verifier would fail the load with EAGAIN/EINTR.
      sigset_t all, previous;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, &previous);
      loader_ = std::thread([this, attach] {
        LogTo to(&log_);
        load_error_ = LoadAndAttach(attach);
      });
      pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    }
    if (info.Length() > 1 && info[1].IsFunction()) StartWith(env, info[1].As<Napi::Function>());
  }

  ~Probe() override { Teardown(); delete async_context_; }

 private:
  // ---- setup ----
  std::string Fail(const std::string& what, int err) {
    last_errno_ = err < 0 ? -err : err;
    return what + ": " + strerror(last_errno_);
  }

  // On the calling thread: the object opened, its config written, maps sized.
  std::string Open(const std::string& path, Napi::Buffer<uint8_t> config,
                   uint32_t ring_bytes, uint32_t perf_pages, uint32_t max_sockets) {
    obj_ = bpf_object__open_file(path.c_str(), nullptr);
    if (!obj_) return Fail("cannot open BPF object " + path, errno);

    std::string error = WriteConfig(config);
    if (!error.empty()) return error;

    // Every map this file names (a skeleton would check them at compile time; why there is none:
    // docs/ARCHITECTURE.md).
    struct bpf_map* events = bpf_object__find_map_by_name(obj_, "events");
    struct bpf_map* socks = bpf_object__find_map_by_name(obj_, "socks");
    if (!events || !socks || !bpf_object__find_map_by_name(obj_, "counters") ||
        !bpf_object__find_map_by_name(obj_, "perf_events"))
      return "BPF object lacks the events, socks, counters or perf_events map (rebuild it)";
    if (max_sockets) bpf_map__set_max_entries(socks, max_sockets);
    if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) > 0) {
      // In perf mode the ring stays but is never written: keep it one page.
      bpf_map__set_max_entries(events, perf_mode_ ? getpagesize() : ring_bytes);
    } else if (perf_mode_) {
      // No ring buffer in this kernel: stand in a harmless map; the code using it is pruned.
      bpf_map__set_type(events, BPF_MAP_TYPE_ARRAY);
      bpf_map__set_key_size(events, 4);
      bpf_map__set_value_size(events, 4);
      bpf_map__set_max_entries(events, 1);
    } else {
      last_errno_ = EOPNOTSUPP;
      return "this kernel has no BPF ring buffer (needs 5.8+); use --perf-buffer";
    }
    perf_pages_ = perf_pages;
    return "";
  }

  // On the loader thread: libbpf only, nothing of N-API.
  std::string LoadAndAttach(const std::string& attach) {
    const char* wanted = attach == "tp_btf" ? "_btf" : "_tp";
    KernelBtfNames names;
    const KernelBtfNames* vmlinux = nullptr;
    if (attach == "tp_btf") {
      if (!names.Load()) return Fail("kernel BTF (/sys/kernel/btf/vmlinux) not available", errno ? errno : ENOENT);
      vmlinux = &names;
    }
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, obj_) {
      std::string name = bpf_program__name(prog);
      bool keep = KeepProgram(name, bpf_program__section_name(prog), wanted, vmlinux);
      bpf_program__set_autoload(prog, keep);
      if (keep) loaded_.push_back(name);
    }
    SkipUnusedOwnerStorage();

    int err = bpf_object__load(obj_);
    if (err) return Fail("loading the BPF program failed (the libbpf log below says why)", err);

    bpf_object__for_each_program(prog, obj_) {
      if (!bpf_program__autoload(prog)) continue;
      struct bpf_link* link = bpf_program__attach(prog);
      if (!link) {
        int e = errno;
        std::string name = bpf_program__name(prog);
        if (name.rfind("set_state", 0) == 0) return Fail(std::string("attaching ") + bpf_program__section_name(prog) + " failed", e);
        continue;  // a cause tracepoint we can live without
      }
      links_.push_back(link);
    }
    counters_fd_ = bpf_object__find_map_fd_by_name(obj_, "counters");
    attached_ms_ = MonotonicMs();
    return "";
  }

  // Waits for the loader thread; then drains into onBatch, or throws the load's error (with the
  // libbpf log and errno, src/probe/probe.ts turns it into one line).
  void StartWith(Napi::Env env, Napi::Function on_batch) {
    if (!loader_.joinable() && load_error_.empty()) {
      Napi::Error::New(env, "probe already started").ThrowAsJavaScriptException();
      return;
    }
    if (loader_.joinable()) loader_.join();
    std::string error = load_error_;
    if (error.empty()) {
      on_batch_ = Napi::Persistent(on_batch);
      async_context_ = new Napi::AsyncContext(env, "tcptrace:batch");
      LogTo to(&log_);
      error = StartDraining(env);
    }
    load_error_.clear();
    if (!error.empty()) {
      Teardown();
      Napi::Error err = Napi::Error::New(env, error);
      err.Set("libbpfLog", Napi::String::New(env, log_.text));
      err.Set("errno", Napi::Number::New(env, last_errno_));
      err.ThrowAsJavaScriptException();
    }
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(info.Env(), "start(onBatch) expected").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    StartWith(info.Env(), info[0].As<Napi::Function>());
    return info.Env().Undefined();
  }

  // CLOCK_MONOTONIC ms (process.hrtime's clock) when the load began and when it was attached.
  Napi::Value LoadTimes(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("startedMs", Napi::Number::New(info.Env(), load_started_ms_));
    o.Set("attachedMs", Napi::Number::New(info.Env(), attached_ms_));
    return o;
  }

  // The send/receive owner hooks keep a socket-local storage map, which kernels without them
  // (or without BPF_MAP_TYPE_SK_STORAGE) need not, or cannot, create.
  void SkipUnusedOwnerStorage() {
    for (const auto& name : loaded_) {
      if (name == "recv_length_btf" || name == "send_length_btf" || name == "rcv_space_btf") return;
    }
    struct bpf_map* settled = bpf_object__find_map_by_name(obj_, "settled");
    if (settled) bpf_map__set_autocreate(settled, false);
  }

  // Copies the TS-encoded struct tcptrace_config over the `cfg` variable in .rodata, at the
  // offset the object's BTF gives it.
  std::string WriteConfig(Napi::Buffer<uint8_t> config) {
    struct bpf_map* rodata = bpf_object__find_map_by_name(obj_, ".rodata");
    struct btf* btf = bpf_object__btf(obj_);
    int sec_id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
    if (!rodata || sec_id < 0) return "BPF object has no .rodata section with BTF";
    const struct btf_type* sec = btf__type_by_id(btf, sec_id);
    const struct btf_var_secinfo* vars = btf_var_secinfos(sec);
    for (int i = 0; i < btf_vlen(sec); i++) {
      const struct btf_type* var = btf__type_by_id(btf, vars[i].type);
      if (strcmp(btf__name_by_offset(btf, var->name_off), "cfg") != 0) continue;
      if (vars[i].size != config.Length() || vars[i].size != sizeof(struct tcptrace_config))
        return "config size mismatch between TS, header and object (rebuild)";
      size_t size = 0;
      uint8_t* data = static_cast<uint8_t*>(const_cast<void*>(bpf_map__initial_value(rodata, &size)));
      if (!data || vars[i].offset + vars[i].size > size) return "cannot write .rodata";
      memcpy(data + vars[i].offset, config.Data(), config.Length());
      return "";
    }
    return "BPF object has no cfg variable";
  }

  std::string StartDraining(Napi::Env env) {
    int fd;
    if (perf_mode_) {
      perf_buf_ = perf_buffer__new(bpf_object__find_map_fd_by_name(obj_, "perf_events"), perf_pages_,
                                   OnPerfSample, nullptr, this, nullptr);
      if (!perf_buf_) return Fail("perf buffer setup failed", errno);
      fd = perf_buffer__epoll_fd(perf_buf_);
    } else {
      ring_ = std::make_unique<RingReader>();
      int err = ring_->Open(bpf_object__find_map_fd_by_name(obj_, "events"));
      if (err) return Fail("ring buffer setup failed", err);
      fd = ring_->fd();
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    if (ring_ && drain_thread_) {
      drain_ = new DrainThread(ring_.get(), sizeof(tcptrace_event), batch_bytes_, backlog_bytes_, flush_ms_, drain_boost_);
      int err = drain_->Start(loop, [this](const uint8_t* data, size_t bytes, bool from_loop) {
        return Deliver(data, bytes, from_loop);
      });
      if (err) return Fail("cannot start the drain thread", err);
      return "";
    }
    poll_ = new uv_poll_t;
    poll_->data = this;
    uv_poll_init(loop, poll_, fd);
    uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* h, int, int) { static_cast<Probe*>(h->data)->DrainFromLoop(); });
    timer_ = new uv_timer_t;
    timer_->data = this;
    uv_timer_init(loop, timer_);
    // Batched wakeups leave a lone event queued: this flush bounds its latency.
    uv_timer_start(timer_, OnFlushTimer, flush_ms_, flush_ms_);
    return "";
  }

  // ---- draining ----
  static void OnPerfSample(void* ctx, int, void* data, __u32 size) { static_cast<Probe*>(ctx)->Append(data, size); }

  void Append(const void* data, size_t size) {
    if (size < sizeof(tcptrace_event)) return;
    const uint8_t* p = static_cast<const uint8_t*>(data);
    batch_.insert(batch_.end(), p, p + sizeof(tcptrace_event));
  }

  static void OnFlushTimer(uv_timer_t* h) { static_cast<Probe*>(h->data)->DrainFromLoop(); }

  // From the loop (ring readable, or the flush timer): one batch per call keeps the loop
  // responsive. A full batch means a backlog; the kernel may send no further wakeup for it
  // (it wakes the reader when the queue crosses wakeup_bytes, not while it stays above), so the
  // timer is re-armed to fire on the next loop iteration, and the backlog drains continuously
  // instead of one batch per flush interval.
  void DrainFromLoop() {
    size_t bytes = Drain(true);
    if (timer_ && bytes >= batch_bytes_) uv_timer_start(timer_, OnFlushTimer, 0, flush_ms_);
  }

  // Reads what is queued (at most one batch from the ring) and hands it to JS.
  size_t Drain(bool from_loop) {
    loop_gaps_.Note(MonotonicNs());
    if (perf_buf_) perf_buffer__consume(perf_buf_);
    if (ring_) ring_->Consume(batch_, sizeof(tcptrace_event), batch_bytes_);
    size_t bytes = batch_.size();
    if (bytes == 0) return 0;
    Deliver(batch_.data(), bytes, from_loop);
    batch_.clear();
    return bytes;
  }

  // One Buffer to JS; false if the callback threw (in close(), where it is rethrown).
  bool Deliver(const uint8_t* data, size_t bytes, bool from_loop) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, data, bytes);
    if (from_loop) {
      // MakeCallback runs microtasks afterwards, so promise-based consumers keep up.
      on_batch_.MakeCallback(env.Global(), {buf}, *async_context_);
    } else {
      on_batch_.Call(env.Global(), {buf});
    }
    if (env.IsExceptionPending() && from_loop) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
    return !env.IsExceptionPending();
  }

  // ---- JS methods ----
  bool ReadCounters(uint64_t* seen, uint64_t* dropped) {
    if (counters_fd_ < 0) return false;
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) return false;
    std::vector<tcptrace_counters> per_cpu(ncpu);
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(counters_fd_, &zero, per_cpu.data())) return false;
    *seen = *dropped = 0;
    accepts_lost_ = 0;
    for (const auto& c : per_cpu) {
      *seen += c.seen;
      *dropped += c.dropped;
      accepts_lost_ += c.accepts_dropped;  // accept records, counted apart from transitions
    }
    if (ring_) *dropped += ring_->malformed();  // read but not delivered: lost, to keep the sum exact
    missed_ = RecursionMisses();
    return true;
  }

  // State changes the kernel did not run our program for, because it was already running on
  // that CPU (a softirq change interrupting a process-context one). They never reach `seen`,
  // so they are reported separately instead of vanishing (kernel 5.12+; 0 where unknown).
  uint64_t RecursionMisses() {
    uint64_t total = 0;
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, obj_) {
      std::string name = bpf_program__name(prog);
      if (name.rfind("set_state", 0) != 0 || bpf_program__fd(prog) < 0) continue;
      struct bpf_prog_info info = {};
      __u32 len = sizeof(info);
      if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) total += info.recursion_misses;
    }
    return total;
  }

  Napi::Value CountersObject(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("seen", Napi::Number::New(env, static_cast<double>(seen_)));
    o.Set("dropped", Napi::Number::New(env, static_cast<double>(dropped_)));
    o.Set("acceptsLost", Napi::Number::New(env, static_cast<double>(accepts_lost_)));
    o.Set("missed", Napi::Number::New(env, static_cast<double>(missed_)));
    return o;
  }

  // Methods called before start() wait for the loader thread (its fields are its own until then).
  void WaitLoaded() {
    if (loader_.joinable()) loader_.join();
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    WaitLoaded();
    if (obj_) ReadCounters(&seen_, &dropped_);
    return CountersObject(info.Env());
  }

  // How close delivery came to loss: the ring's high-water mark, the user-side backlog's peak,
  // the longest interval between two reads of the ring, and the drain thread's scheduling.
  Napi::Value Delivery(const Napi::CallbackInfo& info) {
    WaitLoaded();
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    auto num = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
    if (ring_) {
      num("ringBytes", static_cast<double>(ring_->size()));
      num("ringPeakBytes", static_cast<double>(ring_->peak()));
      ring_peak_ = ring_->peak();
      ring_size_ = ring_->size();
    } else if (ring_size_) {  // after close(): the last values read
      num("ringBytes", static_cast<double>(ring_size_));
      num("ringPeakBytes", static_cast<double>(ring_peak_));
    }
    uint64_t gap_ns = drain_stats_gap_ns_;
    if (drain_) {
      drain_backlog_peak_ = drain_->backlog_peak();
      drain_throttled_ = drain_->throttled();
      gap_ns = drain_stats_gap_ns_ = drain_->max_gap_ns();
      drain_priority_ = drain_->priority();
    }
    if (!drain_thread_ || perf_mode_) gap_ns = loop_gaps_.max_ns;
    num("maxGapMs", static_cast<double>(gap_ns) / 1e6);
    o.Set("thread", Napi::Boolean::New(env, drain_thread_ && !perf_mode_));
    if (drain_thread_ && !perf_mode_) {
      num("backlogPeakBytes", static_cast<double>(drain_backlog_peak_));
      num("backlogLimitBytes", static_cast<double>(backlog_bytes_));
      num("backlogFull", static_cast<double>(drain_throttled_));
      o.Set("priority", Napi::String::New(env, drain_priority_));
    }
    return o;
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    WaitLoaded();
    Napi::Array a = Napi::Array::New(info.Env(), loaded_.size());
    for (size_t i = 0; i < loaded_.size(); i++) a.Set(i, Napi::String::New(info.Env(), loaded_[i]));
    return a;
  }

  // Detach first so nothing new arrives, deliver what is queued, then read the final
  // counters: after this, seen == delivered + dropped exactly.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    WaitLoaded();
    if (obj_) {
      for (auto* l : links_) bpf_link__destroy(l);
      links_.clear();
      if (drain_) {
        drain_->Stop();
        Delivery(info);  // keep the final delivery figures past Teardown
        drain_->DeliverAll();
      } else {
        while (Drain(false) > 0 && !info.Env().IsExceptionPending()) {
        }
      }
      if (ring_) Delivery(info);
      ReadCounters(&seen_, &dropped_);
    }
    Teardown();
    return CountersObject(info.Env());
  }

  // Stop the drain thread, free the ring, detach, close.
  void Teardown() {
    if (loader_.joinable()) loader_.join();
    DrainThread::Dispose(drain_);
    drain_ = nullptr;
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (timer_) {
      uv_timer_stop(timer_);
      uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      timer_ = nullptr;
    }
    ring_.reset();
    if (perf_buf_) perf_buffer__free(perf_buf_);
    perf_buf_ = nullptr;
    for (auto* l : links_) bpf_link__destroy(l);
    links_.clear();
    if (obj_) bpf_object__close(obj_);
    obj_ = nullptr;
    counters_fd_ = -1;
  }

  static Napi::Value RingbufSupported(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) > 0);
  }

  struct bpf_object* obj_ = nullptr;
  std::thread loader_;
  LibbpfLog log_;
  std::string load_error_;
  double load_started_ms_ = 0, attached_ms_ = 0;
  std::vector<struct bpf_link*> links_;
  std::vector<std::string> loaded_;
  std::unique_ptr<RingReader> ring_;
  DrainThread* drain_ = nullptr;  // freed by DrainThread::Dispose
  bool drain_thread_ = true;
  bool drain_boost_ = true;
  size_t backlog_bytes_ = 64 << 20;
  DrainGaps loop_gaps_;
  uint64_t ring_peak_ = 0, ring_size_ = 0, drain_backlog_peak_ = 0, drain_throttled_ = 0, drain_stats_gap_ns_ = 0;
  std::string drain_priority_;
  struct perf_buffer* perf_buf_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  Napi::FunctionReference on_batch_;
  Napi::AsyncContext* async_context_ = nullptr;
  std::vector<uint8_t> batch_;
  uint32_t batch_bytes_ = 256 * 1024;
  uint32_t flush_ms_ = 50;
  uint32_t perf_pages_ = 64;
  bool perf_mode_ = false;
  int counters_fd_ = -1;
  int last_errno_ = 0;
  uint64_t seen_ = 0, dropped_ = 0, missed_ = 0, accepts_lost_ = 0;
};

Napi::Value ListeningSockets(const Napi::CallbackInfo& info);  // listeners.cc
Napi::Value ListenQueues(const Napi::CallbackInfo& info);      // listen-queues.cc
Napi::Value SocketCensus(const Napi::CallbackInfo& info);       // census.cc
Napi::Value SocketCensusAsync(const Napi::CallbackInfo& info);  // census.cc

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("listeningSockets", Napi::Function::New(env, ListeningSockets));
  exports.Set("listenQueues", Napi::Function::New(env, ListenQueues));
  exports.Set("socketCensus", Napi::Function::New(env, SocketCensus));
  exports.Set("socketCensusAsync", Napi::Function::New(env, SocketCensusAsync));
  return Probe::Init(env, exports);
}

NODE_API_MODULE(tcptrace, InitAll)
