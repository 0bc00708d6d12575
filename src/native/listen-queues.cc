// The accept queues of a namespace's listening TCP sockets through NETLINK_SOCK_DIAG (what
// `ss -ltnm` shows): for a LISTEN socket the kernel reports the accept queue's fill as
// idiag_rqueue and its limit as idiag_wqueue, and INET_DIAG_SKMEMINFO carries the socket's
// drop counter (sk_drops: SYNs and final ACKs the listener dropped). Read only for listeners
// under pressure (src/derive/listener-pressure.ts), a few times a second.
#include <napi.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "sockdiag.h"

namespace {

constexpr int kTcpListen = 10;

struct ListenQueue {
  uint16_t port;
  uint8_t family;
  uint32_t backlog, limit, drops;
};

uint32_t DropsOf(const struct nlmsghdr& h) {
  int len = static_cast<int>(h.nlmsg_len) - NLMSG_LENGTH(sizeof(inet_diag_msg));
  auto* a = reinterpret_cast<const struct rtattr*>(
      reinterpret_cast<const char*>(NLMSG_DATA(&h)) + NLMSG_ALIGN(sizeof(inet_diag_msg)));
  for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type != INET_DIAG_SKMEMINFO || RTA_PAYLOAD(a) < (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t)) continue;
    return static_cast<const uint32_t*>(RTA_DATA(a))[SK_MEMINFO_DROPS];
  }
  return 0;
}

bool DumpQueues(const std::string& netns_path, std::vector<ListenQueue>* out, std::string* error) {
  for (int attempt = 0; attempt < 4; attempt++) {
    int fd = sockdiag::OpenInNamespace(netns_path, error);
    if (fd < 0) return false;
    out->clear();
    sockdiag::DumpStatus status = sockdiag::DumpStatus::kDone;
    for (int family : {AF_INET, AF_INET6}) {
      status = sockdiag::DumpTcpMessages(fd, family, 1u << kTcpListen, 1 << (INET_DIAG_SKMEMINFO - 1),
                                         [&](const struct nlmsghdr& h) {
                                           const auto* d = static_cast<const inet_diag_msg*>(NLMSG_DATA(&h));
                                           out->push_back({ntohs(d->id.idiag_sport), static_cast<uint8_t>(family == AF_INET ? 4 : 6),
                                                           d->idiag_rqueue, d->idiag_wqueue, DropsOf(h)});
                                         });
      if (status != sockdiag::DumpStatus::kDone) break;
    }
    close(fd);
    if (status == sockdiag::DumpStatus::kDone) return true;
    if (status == sockdiag::DumpStatus::kFailed) {
      *error = "sock_diag dump of listeners failed";
      return false;
    }
  }
  *error = "sock_diag dump of listeners kept being interrupted";
  return false;
}

}  // namespace

// listenQueues(netnsPath): [{port, family, backlog, limit, drops}] of the namespace's listeners
// ("" = our own), or a string saying why they could not be read.
Napi::Value ListenQueues(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  std::vector<ListenQueue> found;
  std::string error;
  if (!DumpQueues(path, &found, &error)) return Napi::String::New(env, error);
  Napi::Array out = Napi::Array::New(env, found.size());
  for (size_t i = 0; i < found.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("port", found[i].port);
    o.Set("family", found[i].family);
    o.Set("backlog", found[i].backlog);
    o.Set("limit", found[i].limit);
    o.Set("drops", found[i].drops);
    out.Set(i, o);
  }
  return out;
}
