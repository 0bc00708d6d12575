#include "programs.h"

#include <bpf/bpf.h>
#include <linux/btf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

const char* const kTracefsRoots[2] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

long TracefsEventId(const std::string& category, const std::string& name) {
  for (const char* root : kTracefsRoots) {
    std::ifstream f(std::string(root) + "/events/" + category + "/" + name + "/id");
    long id = -1;
    if (f >> id) return id;
  }
  return -1;
}

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool TracefsEventExists(const std::string& category, const std::string& name) {
  return TracefsEventId(category, name) >= 0;
}

// "tp_btf/tcp_rcv_space_adjust" -> "tcp:tcp_rcv_space_adjust", as people name tracepoints.
std::string TracepointName(const std::string& section) {
  std::string rest = section.substr(section.find('/') + 1);
  size_t slash = rest.find('/');
  if (slash != std::string::npos) return rest.substr(0, slash) + ":" + rest.substr(slash + 1);
  return (rest.rfind("tcp_", 0) == 0 ? "tcp:" : "sock:") + rest;
}

// Whether a tracing (tp_btf) program may call `helper`: libbpf cannot probe tracing programs
// (they need a BTF target), so this loads a minimal one on sock:inet_sock_set_state that calls
// the helper with wrong arguments. The verifier looks the helper up before it checks arguments,
// and says so when it refuses the helper to this program type. 1, 0, or -1 unknown.
int TracingHelperAllowed(const KernelBtfNames& vmlinux, int helper) {
  uint32_t target = vmlinux.TypeId("btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF);
  if (!target) return -1;
  struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 0},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, 0},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0},
      {BPF_JMP | BPF_CALL, 0, 0, 0, helper},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  char log[4096] = "";
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP, .attach_btf_id = target,
              .log_level = 1, .log_size = sizeof(log), .log_buf = log);
  int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, nullptr, "GPL", insns, sizeof(insns) / sizeof(insns[0]), &opts);
  if (fd >= 0) {
    close(fd);
    return 1;
  }
  // older kernels say "unknown func", newer "program of this type cannot use helper"
  if (strstr(log, "unknown func") || strstr(log, "invalid func") || strstr(log, "cannot use helper")) return 0;
  return strstr(log, "call ") ? 1 : -1;  // refused for its arguments: the helper itself is there
}

}  // namespace

ProgramChoice::ProgramChoice(const std::string& attach, const KernelBtfNames* vmlinux, std::set<std::string> pretend_missing)
    : wanted_(attach == "tp_btf" ? "_btf" : "_tp"), vmlinux_(vmlinux), pretend_missing_(std::move(pretend_missing)) {}

// Whether the program's target exists on this kernel.
bool ProgramChoice::TargetExists(const std::string& section) const {
  if (section.rfind("tp_btf/", 0) == 0) {
    // The kernel names the type of each raw tracepoint btf_trace_<name>.
    return vmlinux_ && vmlinux_->Has("btf_trace_" + section.substr(7));
  }
  if (section.rfind("tracepoint/", 0) == 0) {
    std::string rest = section.substr(11);
    size_t slash = rest.find('/');
    return slash != std::string::npos && TracefsEventExists(rest.substr(0, slash), rest.substr(slash + 1));
  }
  return false;
}

// The first-use owner hooks keep their per-socket mark in socket-local storage, which tracing
// programs may use from 5.11 only.
bool ProgramChoice::SocketStorageInTracing() {
  if (pretend_missing_.count("sk_storage_get")) return false;
  if (sk_storage_in_tracing_ < 0)
    // unknown counts as missing: the stand-in loads everywhere, a refused helper fails the load
    sk_storage_in_tracing_ = vmlinux_ ? TracingHelperAllowed(*vmlinux_, BPF_FUNC_sk_storage_get) == 1 : 0;
  return sk_storage_in_tracing_ == 1;
}

// What each optional program gives; those with a stand-in lose nothing.
static std::string FeatureOf(const std::string& name, bool hashed_use) {
  if (name == "rst_recv_btf" || name == "rst_recv_tp") return "close cause: reset received";
  if (name == "rst_sent_btf" || name == "rst_sent_tp") return "close cause: reset sent";
  if (name == "retrans_btf" || name == "retrans_tp") return "SYN retransmit counts";
  if (name == "synack_retrans_btf" || name == "synack_retrans_tp") return "SYN-ACK retransmit counts";
  if (name == "sk_error_btf") return "socket error reports";
  if (name == "accept4_exit_tp" || name == "accept_exit_tp") return "owners from accept(), accept wait";
  if (name == "send_length_btf") return "owners from first send";
  if (name == "recv_length_btf" || name == "rcv_space_btf") return hashed_use ? "" : "owners from first receive";
  if (name == "rcv_space_tp") return "owners from first receive";
  return name;
}

bool ProgramChoice::LeaveOut(const std::string& name, const std::string& missing) {
  bool hashed_use = TargetExists("tracepoint/tcp/tcp_rcv_space_adjust");
  left_out_.push_back({name, FeatureOf(name, hashed_use), missing});
  return false;
}

// The state change always (in the chosen mode); optional ones only where the kernel has what
// they need. Programs named *_btf or *_tp belong to one attach mode; the accept hooks (classic
// syscall tracepoints, *_exit_tp) load in both. Of the first-use owner hooks one family loads:
// sock_{recv,send}_length (6.3+), else tcp_rcv_space_adjust (receive only), both with socket
// storage in tp_btf mode; else the classic tcp_rcv_space_adjust (rcv_space_tp), marking the socket's
// entry in `socks` instead (both would cost twice on every receive).
bool ProgramChoice::Keep(const std::string& name, const std::string& section) {
  if (name.rfind("set_state", 0) == 0) return EndsWith(name, wanted_);
  bool any_mode = EndsWith(name, "_exit_tp") || name == "rcv_space_tp";
  if (!any_mode && !EndsWith(name, wanted_)) return false;
  bool storage_hook = name == "recv_length_btf" || name == "send_length_btf" || name == "rcv_space_btf";
  if (name == "rcv_space_btf" && TargetExists("tp_btf/sock_recv_length")) return false;
  if (name == "rcv_space_tp" && wanted_ == "_btf" && SocketStorageInTracing()) return false;
  if (!TargetExists(section)) return LeaveOut(name, "tracepoint " + TracepointName(section));
  if (storage_hook && !SocketStorageInTracing()) return LeaveOut(name, "bpf_sk_storage_get in tracing programs, 5.11+");
  return true;
}
