// The native half of the probe as JS sees it: options in, then the loader (loader.cc: open,
// load and attach on a loader thread), delivery (delivery.cc: one Buffer per batch, from the
// ring's drain thread or the loop), counters (counters.cc) and ordered teardown.
// Decoding happens in TypeScript (src/decode/decode.ts); nothing here knows the record's fields.
#include <napi.h>
#include <uv.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "counters.h"
#include "delivery.h"
#include "libbpf-log.h"
#include "loader.h"
#include "programs.h"

class Probe : public Napi::ObjectWrap<Probe> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(env, "Probe", {
      InstanceMethod("counters", &Probe::Counters),
      InstanceMethod("close", &Probe::Close),
      InstanceMethod("programs", &Probe::Programs),
      InstanceMethod("leftOut", &Probe::LeftOutPrograms),
      InstanceMethod("delivery", &Probe::DeliveryStats),
      InstanceMethod("start", &Probe::Start),
      InstanceMethod("loadTimes", &Probe::LoadTimes),
      InstanceMethod("pid1Hiding", &Probe::Pid1Hiding),
    });
    exports.Set("Probe", ctor);
    exports.Set("ringbufSupported", Napi::Function::New(env, RingbufSupported));
    // The one list of tracefs mount points (src/probe/tracefs.ts mounts the first when none is).
    Napi::Array roots = Napi::Array::New(env);
    for (const char* root : kTracefsRoots) roots.Set(roots.Length(), Napi::String::New(env, root));
    exports.Set("tracefsRoots", roots);
    InstallLibbpfLog();
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
    auto u32 = [&](const char* k) { return opts.Get(k).As<Napi::Number>().Uint32Value(); };

    LoadOptions load;
    load.object_path = opts.Get("objectPath").As<Napi::String>();
    load.attach = opts.Get("attach").As<Napi::String>();
    if (opts.Get("btfPath").IsString()) load.btf_path = opts.Get("btfPath").As<Napi::String>();
    Napi::Buffer<uint8_t> config = opts.Get("config").As<Napi::Buffer<uint8_t>>();
    load.config = config.Data();
    load.config_bytes = config.Length();
    load.ring_bytes = u32("ringBytes");
    load.max_sockets = u32("maxSockets");
    load.perf_mode = opts.Get("delivery").As<Napi::String>().Utf8Value() == "perfbuf";
    if (opts.Get("pretendMissing").IsArray()) {
      Napi::Array names = opts.Get("pretendMissing").As<Napi::Array>();
      for (uint32_t i = 0; i < names.Length(); i++) load.pretend_missing.insert(names.Get(i).ToString().Utf8Value());
    }
    loader_.log.verbose = opts.Get("verbose").ToBoolean();

    delivery_options_.perf_mode = load.perf_mode;
    delivery_options_.perf_pages = u32("perfPages");
    delivery_options_.flush_ms = u32("flushMs");
    delivery_options_.batch_bytes = u32("batchBytes");
    delivery_options_.drain_thread = opts.Get("drainThread").ToBoolean();
    delivery_options_.drain_boost = opts.Get("drainBoost").ToBoolean();
    delivery_options_.backlog_bytes = static_cast<size_t>(opts.Get("backlogBytes").As<Napi::Number>().DoubleValue());

    loader_.Start(load);
    if (info.Length() > 1 && info[1].IsFunction()) StartWith(env, info[1].As<Napi::Function>());
  }

  ~Probe() override { Teardown(); delete async_context_; }

 private:
  // Waits for the loader thread; then drains into onBatch, or throws the load's error (with the
  // libbpf log and errno, src/probe/probe.ts turns it into one line).
  void StartWith(Napi::Env env, Napi::Function on_batch) {
    if (started_) {
      Napi::Error::New(env, "probe already started").ThrowAsJavaScriptException();
      return;
    }
    started_ = true;
    std::string error = loader_.Finish();
    int err = loader_.last_errno();
    if (error.empty()) {
      on_batch_ = Napi::Persistent(on_batch);
      async_context_ = new Napi::AsyncContext(env, "tcptrace:batch");
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      delivery_ = std::make_unique<BatchDelivery>(delivery_options_, [this](const uint8_t* data, size_t bytes, bool from_loop) {
        return Deliver(data, bytes, from_loop);
      });
      error = delivery_->Start(loop, loader_.map_fd("events"), loader_.map_fd("perf_events"), &err);
      if (!error.empty()) error += std::string(": ") + strerror(err);
    }
    if (!error.empty()) {
      Teardown();
      Napi::Error e = Napi::Error::New(env, error);
      e.Set("libbpfLog", Napi::String::New(env, loader_.log.text));
      e.Set("errno", Napi::Number::New(env, err));
      e.ThrowAsJavaScriptException();
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

  // CLOCK_MONOTONIC ms (process.hrtime's clock) when the load began and when it was attached.
  Napi::Value LoadTimes(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("startedMs", Napi::Number::New(info.Env(), loader_.started_ms()));
    o.Set("attachedMs", Napi::Number::New(info.Env(), loader_.attached_ms()));
    return o;
  }

  // null, or whether the state changes this kernel hides while PID 1 runs are counted.
  Napi::Value Pid1Hiding(const Napi::CallbackInfo& info) {
    WaitLoaded();
    Napi::Env env = info.Env();
    if (!loader_.kernel_hides()) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("uncounted", Napi::String::New(env, loader_.hidden_uncounted()));
    return o;
  }

  // Methods called before start() wait for the loader thread (its fields are its own until then).
  void WaitLoaded() { loader_.Wait(); }

  void Refresh() {
    ProbeCounters c;
    if (ReadCounters(loader_.map_fd("counters"), loader_.object(), &c)) {
      if (delivery_) c.dropped += delivery_->malformed();  // read but not delivered: lost
      c.hidden = loader_.HiddenCallsNow();
      c.missed += c.hidden;
      counters_ = c;
    }
  }

  Napi::Value CountersObject(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("seen", Napi::Number::New(env, static_cast<double>(counters_.seen)));
    o.Set("dropped", Napi::Number::New(env, static_cast<double>(counters_.dropped)));
    o.Set("acceptsLost", Napi::Number::New(env, static_cast<double>(counters_.accepts_lost)));
    o.Set("missed", Napi::Number::New(env, static_cast<double>(counters_.missed)));
    o.Set("nested", Napi::Number::New(env, static_cast<double>(counters_.nested)));
    o.Set("hidden", Napi::Number::New(env, static_cast<double>(counters_.hidden)));
    return o;
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    WaitLoaded();
    Refresh();
    return CountersObject(info.Env());
  }

  // How close delivery came to loss: the ring's high-water mark, the user-side backlog's peak,
  // the longest interval between two reads of the ring, and the drain thread's scheduling.
  Napi::Value DeliveryStats(const Napi::CallbackInfo& info) {
    WaitLoaded();
    if (delivery_) figures_ = delivery_->Figures();
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    auto num = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
    const DeliveryFigures& f = figures_;
    if (f.ring_bytes) {
      num("ringBytes", static_cast<double>(f.ring_bytes));
      num("ringPeakBytes", static_cast<double>(f.ring_peak_bytes));
    }
    num("maxGapMs", static_cast<double>(f.max_gap_ns) / 1e6);
    bool thread = delivery_options_.drain_thread && !delivery_options_.perf_mode;
    o.Set("thread", Napi::Boolean::New(env, thread));
    if (thread) {
      num("backlogPeakBytes", static_cast<double>(f.backlog_peak_bytes));
      num("backlogLimitBytes", static_cast<double>(delivery_options_.backlog_bytes));
      num("backlogFull", static_cast<double>(f.backlog_full));
      o.Set("priority", Napi::String::New(env, f.priority));
    }
    return o;
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    WaitLoaded();
    const auto& loaded = loader_.loaded();
    Napi::Array a = Napi::Array::New(info.Env(), loaded.size());
    for (size_t i = 0; i < loaded.size(); i++) a.Set(i, Napi::String::New(info.Env(), loaded[i]));
    return a;
  }

  // The programs this kernel could not load, each with the piece it lacks.
  Napi::Value LeftOutPrograms(const Napi::CallbackInfo& info) {
    WaitLoaded();
    Napi::Env env = info.Env();
    const auto& left = loader_.left_out();
    Napi::Array a = Napi::Array::New(env, left.size());
    for (size_t i = 0; i < left.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("program", Napi::String::New(env, left[i].program));
      o.Set("feature", Napi::String::New(env, left[i].feature));
      o.Set("missing", Napi::String::New(env, left[i].missing));
      a.Set(i, o);
    }
    return a;
  }

  // Detach first so nothing new arrives, deliver what is queued, then read the final
  // counters: after this, seen == delivered + dropped exactly.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    WaitLoaded();
    if (loader_.object()) {
      loader_.Detach();
      if (delivery_) {
        Napi::Env env = info.Env();
        delivery_->Flush([env] { return env.IsExceptionPending(); });
        figures_ = delivery_->Figures();
      }
      Refresh();
    }
    Teardown();
    return CountersObject(info.Env());
  }

  // Stop the drain thread, free the ring, detach, close.
  void Teardown() {
    delivery_.reset();
    loader_.Close();
  }

  static Napi::Value RingbufSupported(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) > 0);
  }

  BpfLoader loader_;
  bool started_ = false;
  DeliveryOptions delivery_options_;
  std::unique_ptr<BatchDelivery> delivery_;
  DeliveryFigures figures_;
  ProbeCounters counters_;
  Napi::FunctionReference on_batch_;
  Napi::AsyncContext* async_context_ = nullptr;
};

Napi::Value ListeningSockets(const Napi::CallbackInfo& info);  // listeners.cc
Napi::Value ListenQueues(const Napi::CallbackInfo& info);      // listen-queues.cc
Napi::Value SocketCensus(const Napi::CallbackInfo& info);       // census.cc
Napi::Value SocketCensusAsync(const Napi::CallbackInfo& info);  // census.cc
Napi::Value ConnectionTotals(const Napi::CallbackInfo& info);   // conn-totals.cc

void InitPrivileges(Napi::Env env, Napi::Object exports);  // privileges.cc

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  InitPrivileges(env, exports);
  exports.Set("listeningSockets", Napi::Function::New(env, ListeningSockets));
  exports.Set("listenQueues", Napi::Function::New(env, ListenQueues));
  exports.Set("socketCensus", Napi::Function::New(env, SocketCensus));
  exports.Set("socketCensusAsync", Napi::Function::New(env, SocketCensusAsync));
  exports.Set("connectionTotals", Napi::Function::New(env, ConnectionTotals));
  return Probe::Init(env, exports);
}

NODE_API_MODULE(tcptrace, InitAll)
