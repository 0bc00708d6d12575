// socketCensus(request) / socketCensusAsync(request): TCP sockets counted by state through
// sock_diag (src/native/sockdiag.cc), synchronously at start, on a worker thread after.
#include <napi.h>

#include "sockdiag.h"

namespace {

std::vector<uint16_t> Ports(const Napi::Object& o, const char* key) {
  std::vector<uint16_t> ports;
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) return ports;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) ports.push_back(static_cast<uint16_t>(a.Get(i).As<Napi::Number>().Uint32Value()));
  return ports;
}

bool ReadRequest(const Napi::CallbackInfo& info, sockdiag::CensusRequest* req) {
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(info.Env(), "socketCensus(request) expected").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Object o = info[0].As<Napi::Object>();
  if (o.Get("netnsPath").IsString()) req->netns_path = o.Get("netnsPath").As<Napi::String>().Utf8Value();
  if (o.Get("family").IsNumber()) req->family = o.Get("family").As<Napi::Number>().Int32Value();
  req->states = o.Get("states").IsNumber() ? o.Get("states").As<Napi::Number>().Uint32Value() : ~0u;
  req->local_ports = Ports(o, "localPorts");
  req->remote_ports = Ports(o, "remotePorts");
  req->tuples = o.Get("tuples").ToBoolean().Value();
  return true;
}

Napi::Object ToJs(Napi::Env env, const sockdiag::CensusResult& r) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array counts = Napi::Array::New(env, sockdiag::kStateSlots);
  for (int i = 0; i < sockdiag::kStateSlots; i++) counts.Set(i, Napi::Number::New(env, r.counts[i]));
  o.Set("counts", counts);
  o.Set("tuples", Napi::Buffer<uint8_t>::Copy(env, r.tuples.data(), r.tuples.size()));
  // Below 2^53 ns (104 days of uptime) exact; beyond, a few ns off, as the event timestamps.
  o.Set("startNs", Napi::Number::New(env, static_cast<double>(r.start_ns)));
  o.Set("endNs", Napi::Number::New(env, static_cast<double>(r.end_ns)));
  o.Set("attempts", Napi::Number::New(env, r.attempts));
  o.Set("error", r.error.empty() ? env.Null() : Napi::String::New(env, r.error));
  return o;
}

class CensusWorker : public Napi::AsyncWorker {
 public:
  CensusWorker(Napi::Env env, sockdiag::CensusRequest req)
      : Napi::AsyncWorker(env), req_(std::move(req)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { sockdiag::RunCensus(req_, &result_); }
  void OnOK() override { deferred_.Resolve(ToJs(Env(), result_)); }

 private:
  sockdiag::CensusRequest req_;
  sockdiag::CensusResult result_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace

Napi::Value SocketCensus(const Napi::CallbackInfo& info) {
  sockdiag::CensusRequest req;
  if (!ReadRequest(info, &req)) return info.Env().Undefined();
  sockdiag::CensusResult result;
  sockdiag::RunCensus(req, &result);
  return ToJs(info.Env(), result);
}

Napi::Value SocketCensusAsync(const Napi::CallbackInfo& info) {
  sockdiag::CensusRequest req;
  if (!ReadRequest(info, &req)) return info.Env().Undefined();
  auto* worker = new CensusWorker(info.Env(), std::move(req));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}
