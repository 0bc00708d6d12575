// inet_diag dumps: the loop that reads one, opening a netlink socket inside another network
// namespace, and the census that counts sockets by state.
#include "sockdiag.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

namespace sockdiag {

namespace {

constexpr int kTcpTimeWait = 6;
constexpr int kMaxAttempts = 4;
// The kernel fills a dump skb up to 32 KiB (more with a larger receive buffer); a read
// shorter than the message would truncate it, which recvmsg reports and we treat as failure.
constexpr size_t kRecvBytes = 64 * 1024;

uint64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

bool PortListed(uint16_t port, const std::vector<uint16_t>& ports) {
  return ports.empty() || std::find(ports.begin(), ports.end(), port) != ports.end();
}

}  // namespace

DumpStatus DumpTcp(int fd, int family, uint32_t states, const std::function<void(const inet_diag_msg&)>& each) {
  return DumpTcpMessages(fd, family, states, 0, [&](const nlmsghdr& h) { each(*static_cast<const inet_diag_msg*>(NLMSG_DATA(&h))); });
}

DumpStatus DumpTcpInfo(int fd, int family, uint32_t states,
                       const std::function<void(const inet_diag_msg&, const uint8_t*, size_t)>& each) {
  return DumpTcpMessages(fd, family, states, 1 << (INET_DIAG_INFO - 1), [&](const nlmsghdr& h) {
    const auto* d = static_cast<const inet_diag_msg*>(NLMSG_DATA(&h));
    // Attributes follow the message; the kernel's tcp_info may be shorter (older) or longer
    // (newer) than ours: the caller reads only what `len` covers.
    int rest = static_cast<int>(h.nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(*d)));
    for (auto* a = reinterpret_cast<const rtattr*>(d + 1); RTA_OK(a, rest); a = RTA_NEXT(a, rest)) {
      if (a->rta_type == INET_DIAG_INFO) {
        each(*d, static_cast<const uint8_t*>(RTA_DATA(a)), RTA_PAYLOAD(a));
        return;
      }
    }
    each(*d, nullptr, 0);
  });
}

DumpStatus DumpTcpMessages(int fd, int family, uint32_t states, uint8_t ext,
                           const std::function<void(const nlmsghdr&)>& each) {
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } msg = {};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = family;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = states;
  msg.req.idiag_ext = ext;
  ssize_t sent;
  do sent = send(fd, &msg, sizeof(msg), 0); while (sent < 0 && errno == EINTR);
  if (sent < 0) return DumpStatus::kFailed;

  std::unique_ptr<char[]> buf(new (std::nothrow) char[kRecvBytes]);
  if (!buf) return DumpStatus::kFailed;
  bool inconsistent = false;
  for (;;) {
    struct iovec iov = {buf.get(), kRecvBytes};
    struct msghdr mh = {};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = recvmsg(fd, &mh, 0);
    if (n < 0) {
      if (errno == EINTR) continue;  // nothing was read: the rest of the dump is still queued
      return errno == ENOBUFS ? DumpStatus::kInterrupted : DumpStatus::kFailed;
    }
    if (n == 0 || (mh.msg_flags & MSG_TRUNC)) return DumpStatus::kFailed;
    for (auto* h = reinterpret_cast<struct nlmsghdr*>(buf.get()); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_flags & NLM_F_DUMP_INTR) inconsistent = true;
      if (h->nlmsg_type == NLMSG_DONE) return inconsistent ? DumpStatus::kInterrupted : DumpStatus::kDone;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* err = static_cast<struct nlmsgerr*>(NLMSG_DATA(h));
        if (err->error == -EINTR || err->error == -EAGAIN) return DumpStatus::kInterrupted;
        return DumpStatus::kFailed;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
      each(*h);
    }
  }
}

int OpenInNamespace(const std::string& netns_path, std::string* error) {
  if (netns_path.empty()) {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) *error = std::string("sock_diag socket: ") + strerror(errno);
    return fd;
  }
  int ns = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    *error = "cannot open " + netns_path + ": " + strerror(errno);
    return -1;
  }
  int fd = -1;
  int failed_errno = 0;
  const char* step = "";
  // setns(CLONE_NEWNET) changes only the calling thread; this thread ends right after.
  std::thread enter([&] {
    if (setns(ns, CLONE_NEWNET) != 0) {
      failed_errno = errno;
      step = "setns";
      return;
    }
    fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
      failed_errno = errno;
      step = "sock_diag socket";
    }
  });
  enter.join();
  close(ns);
  if (fd < 0) *error = std::string(step) + " in " + netns_path + ": " + strerror(failed_errno);
  return fd;
}

void RunCensus(const CensusRequest& req, CensusResult* out) {
  const int families[2] = {AF_INET, AF_INET6};
  for (out->attempts = 1; out->attempts <= kMaxAttempts; out->attempts++) {
    std::fill(std::begin(out->counts), std::end(out->counts), 0);
    out->tuples.clear();
    out->error.clear();
    int fd = OpenInNamespace(req.netns_path, &out->error);
    if (fd < 0) return;
    out->start_ns = MonotonicNs();
    DumpStatus status = DumpStatus::kDone;
    for (int family : families) {
      if (req.family && (req.family == 4) != (family == AF_INET)) continue;
      status = DumpTcp(fd, family, req.states, [&](const inet_diag_msg& d) {
        uint16_t lport = ntohs(d.id.idiag_sport), rport = ntohs(d.id.idiag_dport);
        if (!PortListed(lport, req.local_ports) || !PortListed(rport, req.remote_ports)) return;
        if (d.idiag_state < kStateSlots) out->counts[d.idiag_state]++;
        if (!req.tuples || d.idiag_state == kTcpTimeWait) return;
        uint8_t t[kTupleBytes] = {};
        t[0] = d.idiag_state;
        t[1] = d.idiag_family == AF_INET ? 4 : 6;
        t[2] = lport & 0xff;
        t[3] = lport >> 8;
        t[4] = rport & 0xff;
        t[5] = rport >> 8;
        memcpy(t + 8, d.id.idiag_src, 16);
        memcpy(t + 24, d.id.idiag_dst, 16);
        out->tuples.insert(out->tuples.end(), t, t + kTupleBytes);
      });
      if (status != DumpStatus::kDone) break;
    }
    out->end_ns = MonotonicNs();
    int saved = errno;
    close(fd);
    if (status == DumpStatus::kDone) return;
    if (status == DumpStatus::kFailed) {
      out->error = std::string("sock_diag dump failed: ") + strerror(saved);
      return;
    }
  }
  out->attempts = kMaxAttempts;
  out->error = "sock_diag dump interrupted " + std::to_string(kMaxAttempts) + " times (sockets changing too fast)";
}

}  // namespace sockdiag
