// Listening TCP sockets of a network namespace (port and socket inode) through
// NETLINK_SOCK_DIAG with a LISTEN-only state filter: unlike /proc/net/tcp, the cost does not
// grow with the number of TIME_WAIT and established sockets on a busy host (reading
// /proc/PID/net/tcp of a namespace under a storm of 20 000 connections/s held the event loop
// for a second).
#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "sockdiag.h"

namespace {

constexpr int kTcpListen = 10;
constexpr int kMaxAttempts = 4;

// {port, inode} of every listener of both families; false when the dump failed or kept
// being interrupted (a partial list would silently miss owners).
bool DumpListeners(const std::string& netns_path, std::vector<std::pair<uint16_t, uint32_t>>* out) {
  for (int attempt = 0; attempt < kMaxAttempts; attempt++) {
    std::string error;
    int fd = sockdiag::OpenInNamespace(netns_path, &error);
    if (fd < 0) return false;
    out->clear();
    sockdiag::DumpStatus status = sockdiag::DumpStatus::kDone;
    for (int family : {AF_INET, AF_INET6}) {
      status = sockdiag::DumpTcp(fd, family, 1u << kTcpListen, [&](const inet_diag_msg& d) {
        out->emplace_back(ntohs(d.id.idiag_sport), d.idiag_inode);
      });
      if (status != sockdiag::DumpStatus::kDone) break;
    }
    close(fd);
    if (status == sockdiag::DumpStatus::kDone) return true;
    if (status == sockdiag::DumpStatus::kFailed) return false;
  }
  return false;
}

}  // namespace

// listeningSockets(netnsPath?): [{port, inode}] for IPv4 and IPv6 of the namespace that path
// opens (none: our own), or null when sock_diag is unavailable there.
Napi::Value ListeningSockets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  std::vector<std::pair<uint16_t, uint32_t>> found;
  if (!DumpListeners(path, &found)) return env.Null();
  Napi::Array out = Napi::Array::New(env, found.size());
  for (size_t i = 0; i < found.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("port", Napi::Number::New(env, found[i].first));
    o.Set("inode", Napi::Number::New(env, found[i].second));
    out.Set(i, o);
  }
  return out;
}
