// NETLINK_SOCK_DIAG dumps of TCP sockets (inet_diag), shared by the listener lookup and the
// socket census. Plain C++: no N-API here, so the census can also run on a worker thread.
#pragma once

#include <linux/inet_diag.h>
#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sockdiag {

enum class DumpStatus { kDone, kInterrupted, kFailed };

// Dumps the TCP sockets of one address family whose state bit is in `states` from the
// netlink socket `fd`, calling `each` for every socket. kInterrupted: the kernel flagged the
// dump as inconsistent (NLM_F_DUMP_INTR) or a recv was interrupted; the caller retries.
DumpStatus DumpTcp(int fd, int family, uint32_t states, const std::function<void(const inet_diag_msg&)>& each);

// The same with each socket's struct tcp_info (INET_DIAG_INFO, what `ss -ti` shows): `info`
// points at `len` bytes of it (null, 0 when the kernel sent none).
DumpStatus DumpTcpInfo(int fd, int family, uint32_t states,
                       const std::function<void(const inet_diag_msg&, const uint8_t* info, size_t len)>& each);

// The loop under both: every SOCK_DIAG_BY_FAMILY message of a dump asking for extensions `ext`.
DumpStatus DumpTcpMessages(int fd, int family, uint32_t states, uint8_t ext,
                           const std::function<void(const struct nlmsghdr&)>& each);

// A NETLINK_SOCK_DIAG socket of the network namespace at `netns_path` ("" = our own). The
// socket keeps the namespace it was created in, so a short-lived thread enters the namespace,
// creates it and leaves; our own threads never change namespace. -1 and `error` on failure.
int OpenInNamespace(const std::string& netns_path, std::string* error);

// Bytes per socket in the census' tuple list: state u8, family u8 (4|6), local port u16,
// remote port u16, 2 bytes padding, local address [16], remote address [16] (IPv4 in the
// first four bytes). Little-endian ports.
constexpr size_t kTupleBytes = 40;
constexpr int kStateSlots = 16;

struct CensusRequest {
  std::string netns_path;
  int family = 0;  // 0 both, 4, 6
  uint32_t states = 0;
  std::vector<uint16_t> local_ports;   // empty: any
  std::vector<uint16_t> remote_ports;  // empty: any
  bool tuples = false;                 // also list sockets other than TIME_WAIT
};

struct CensusResult {
  double counts[kStateSlots] = {};
  std::vector<uint8_t> tuples;
  uint64_t start_ns = 0;  // CLOCK_MONOTONIC, the clock of the BPF timestamps
  uint64_t end_ns = 0;
  int attempts = 0;
  std::string error;  // empty on success
};

// Counts sockets by state (retrying an interrupted dump a few times); never stores TIME_WAIT
// sockets, so memory does not grow with them.
void RunCensus(const CensusRequest& req, CensusResult* out);

}  // namespace sockdiag
