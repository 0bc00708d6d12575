// connectionTotals(request): the connections (and listeners) of one network namespace open now, each
// with its figures so far from struct tcp_info (sock_diag INET_DIAG_INFO: what `ss -ti` prints).
// The same figures a CLOSE record carries (bpf/conn-stats.bpf.h), for connections still open
// when tracing stops or a periodic report is made.
#include <napi.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "sockdiag.h"

namespace {

constexpr int kMaxAttempts = 4;
// Open connections: every state but TIME_WAIT (6, a mini-socket without tcp_info), CLOSE (7) and
// request sockets (12); listeners (10) too, so the caller can tell accepted connections apart.
constexpr uint32_t kOpenStates = (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 8) |
                                 (1u << 9) | (1u << 10) | (1u << 11);
// tcp_info beyond the 6.1 uapi header we build against: tcpi_rcv_wnd, tcpi_rehash (6.2), then
// tcpi_total_rto (6.7, __u16).
constexpr size_t kTotalRtoOffset = offsetof(struct tcp_info, tcpi_snd_wnd) + 12;

struct OpenConnection {
  uint8_t state, family;
  uint16_t sport, dport;
  uint8_t saddr[16], daddr[16];
  uint32_t inode;
  struct tcp_info info;  // zero beyond what the kernel sent
  size_t info_len;
  int total_rto;  // -1: the kernel does not count RTOs
};

bool Covers(size_t len, size_t offset, size_t size) { return len >= offset + size; }

bool Dump(const std::string& netns_path, int family, std::vector<OpenConnection>* out, std::string* error) {
  for (int attempt = 0; attempt < kMaxAttempts; attempt++) {
    int fd = sockdiag::OpenInNamespace(netns_path, error);
    if (fd < 0) return false;
    out->clear();
    sockdiag::DumpStatus status = sockdiag::DumpStatus::kDone;
    for (int f : {AF_INET, AF_INET6}) {
      if (family && (family == 4) != (f == AF_INET)) continue;
      status = sockdiag::DumpTcpInfo(fd, f, kOpenStates, [&](const inet_diag_msg& d, const uint8_t* info, size_t len) {
        OpenConnection c = {};
        c.state = d.idiag_state;
        c.family = d.idiag_family == AF_INET ? 4 : 6;
        c.sport = ntohs(d.id.idiag_sport);
        c.dport = ntohs(d.id.idiag_dport);
        memcpy(c.saddr, d.id.idiag_src, 16);
        memcpy(c.daddr, d.id.idiag_dst, 16);
        c.inode = d.idiag_inode;
        c.info_len = len;
        memcpy(&c.info, info, std::min(len, sizeof(c.info)));
        c.total_rto = -1;
        if (Covers(len, kTotalRtoOffset, 2)) {
          uint16_t rto;
          memcpy(&rto, info + kTotalRtoOffset, 2);
          c.total_rto = rto;
        }
        out->push_back(c);
      });
      if (status != sockdiag::DumpStatus::kDone) break;
    }
    int saved = errno;
    close(fd);
    if (status == sockdiag::DumpStatus::kDone) return true;
    if (status == sockdiag::DumpStatus::kFailed) {
      *error = std::string("sock_diag dump failed: ") + strerror(saved);
      return false;
    }
  }
  *error = "sock_diag dump interrupted " + std::to_string(kMaxAttempts) + " times (sockets changing too fast)";
  return false;
}

// A tcp_info field as a number, or null when the kernel's tcp_info is too short to hold it.
#define INFO_FIELD(c, field)                                                                   \
  (Covers((c).info_len, offsetof(struct tcp_info, field), sizeof((c).info.field))               \
       ? Napi::Value(Napi::Number::New(env, static_cast<double>((c).info.field)))              \
       : env.Null())

Napi::Object ToJs(Napi::Env env, const OpenConnection& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", Napi::Number::New(env, c.state));
  o.Set("family", Napi::Number::New(env, c.family));
  o.Set("sport", Napi::Number::New(env, c.sport));
  o.Set("dport", Napi::Number::New(env, c.dport));
  o.Set("saddr", Napi::Buffer<uint8_t>::Copy(env, c.saddr, 16));
  o.Set("daddr", Napi::Buffer<uint8_t>::Copy(env, c.daddr, 16));
  o.Set("inode", Napi::Number::New(env, c.inode));
  o.Set("bytesAcked", INFO_FIELD(c, tcpi_bytes_acked));
  o.Set("bytesReceived", INFO_FIELD(c, tcpi_bytes_received));
  o.Set("bytesRetrans", INFO_FIELD(c, tcpi_bytes_retrans));
  o.Set("segsOut", INFO_FIELD(c, tcpi_segs_out));
  o.Set("segsIn", INFO_FIELD(c, tcpi_segs_in));
  o.Set("retransSegs", INFO_FIELD(c, tcpi_total_retrans));
  o.Set("retransRto", c.total_rto < 0 ? env.Null() : Napi::Number::New(env, c.total_rto));
  o.Set("rttUs", INFO_FIELD(c, tcpi_rtt));
  o.Set("rttMinUs", INFO_FIELD(c, tcpi_min_rtt));
  o.Set("busyUs", INFO_FIELD(c, tcpi_busy_time));
  o.Set("rwndLimitedUs", INFO_FIELD(c, tcpi_rwnd_limited));
  o.Set("sndbufLimitedUs", INFO_FIELD(c, tcpi_sndbuf_limited));
  return o;
}

}  // namespace

// connectionTotals({netnsPath?, family?}) → {connections: [...], error: string | null}
Napi::Value ConnectionTotals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string netns_path;
  int family = 0;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object o = info[0].As<Napi::Object>();
    if (o.Get("netnsPath").IsString()) netns_path = o.Get("netnsPath").As<Napi::String>().Utf8Value();
    if (o.Get("family").IsNumber()) family = o.Get("family").As<Napi::Number>().Int32Value();
  }
  std::vector<OpenConnection> found;
  std::string error;
  bool ok = Dump(netns_path, family, &found, &error);
  Napi::Object out = Napi::Object::New(env);
  Napi::Array list = Napi::Array::New(env, ok ? found.size() : 0);
  if (ok)
    for (size_t i = 0; i < found.size(); i++) list.Set(i, ToJs(env, found[i]));
  out.Set("connections", list);
  out.Set("error", ok ? env.Null() : Napi::String::New(env, error));
  return out;
}
