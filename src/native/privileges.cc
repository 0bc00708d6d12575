// Least privilege after start-up (docs/STREAM.md, "What runs as root"): capabilities, the
// bounding set, no_new_privs and the user are per thread in Linux, and capset(2) changes only
// the calling thread. Node already runs a dozen threads (V8's workers, libuv's pool, the addon's
// drain thread), so each one is made to drop its own: a real-time signal runs the drop in every
// thread of /proc/self/task, then in this one. Threads created later inherit the dropped set.
//
// One Node thread blocks every signal (it waits to start the inspector on SIGUSR1). It cannot
// run our handler, but glibc's set*id calls reach every thread (glibc's own signal): a change of
// all three uids away from 0 empties the capabilities of every thread that did not ask to keep
// them (PR_SET_KEEPCAPS). So every reachable thread asks to keep them, the uids change (to the
// -Z user, or for a moment to `parkUid` and back to 0 in the reachable threads), and the
// unreachable thread is left with none. A seccomp filter, installed with TSYNC, then covers
// every thread alike and gives them all no_new_privs.
#include <napi.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>
#include <vector>

namespace {

// What a thread does when told to: one step of the drop, on its own credentials.
enum class Step { kKeepCaps, kRestrict };

struct Order {
  Step step;
  uint64_t keep;     // capabilities kept (bit n = capability n)
  int last_cap;      // highest capability the kernel knows
  bool back_to_root; // the uids changed only to shed the unreachable thread's capabilities
};

Order g_order;
std::atomic<int> g_done{0};
std::atomic<int> g_failed{0};
// The threads that ran the step, for telling which did not.
constexpr int kMaxThreads = 1024;
std::atomic<pid_t> g_ran[kMaxThreads];

long Capset(uint64_t effective, uint64_t permitted) {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  data[0].effective = static_cast<uint32_t>(effective);
  data[1].effective = static_cast<uint32_t>(effective >> 32);
  data[0].permitted = static_cast<uint32_t>(permitted);
  data[1].permitted = static_cast<uint32_t>(permitted >> 32);
  return syscall(SYS_capset, &header, data);
}

uint64_t Permitted() {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return 0;
  return data[0].permitted | (static_cast<uint64_t>(data[1].permitted) << 32);
}

// Raw system calls only: this runs inside a signal handler, on whichever thread it lands.
bool RunStep(const Order& o) {
  if (o.step == Step::kKeepCaps) return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0;
  uint64_t permitted = Permitted();
  // After a change of uid the effective set is empty: raise it to what is still permitted to
  // finish the drop with (CAP_SETUID to go back to 0, CAP_SETPCAP for the bounding set).
  if (Capset(permitted, permitted) != 0) return false;
  if (o.back_to_root && syscall(SYS_setresuid, 0, 0, 0) != 0) return false;
  // The bounding set needs CAP_SETPCAP to shrink (a tracer started with file capabilities
  // rather than as root may not have it; it cannot gain what it drops here anyway).
  for (int cap = 0; (permitted >> CAP_SETPCAP & 1) && cap <= o.last_cap; cap++) {
    if (!(o.keep >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return false;
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (Capset(o.keep & permitted, o.keep & permitted) != 0) return false;
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return false;
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
}

void OnSignal(int, siginfo_t* info, void*) {
  if (info->si_code != SI_TKILL || info->si_pid != getpid()) return;
  int saved = errno;
  if (!RunStep(g_order)) g_failed++;
  int i = g_done++;
  if (i < kMaxThreads) g_ran[i] = static_cast<pid_t>(syscall(SYS_gettid));
  errno = saved;
}

std::set<pid_t> Threads() {
  std::set<pid_t> tids;
  DIR* dir = opendir("/proc/self/task");
  if (!dir) return tids;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') tids.insert(static_cast<pid_t>(atoi(e->d_name)));
  }
  closedir(dir);
  return tids;
}

int Signal() {
  return SIGRTMIN + 7;
}

// Runs `o` in every other thread (again for threads that appear meanwhile), then in this one.
// Returns the threads that did not run it within the time given (their signal is blocked).
std::vector<pid_t> RunEverywhere(const Order& o, std::string& error) {
  g_order = o;
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  std::set<pid_t> asked;
  std::vector<pid_t> unreached;
  for (int round = 0; round < 5; round++) {
    std::vector<pid_t> now;
    for (pid_t tid : Threads()) if (tid != self && !asked.count(tid)) now.push_back(tid);
    if (now.empty()) break;
    g_done = 0;
    g_failed = 0;
    int sent = 0;
    for (pid_t tid : now) {
      asked.insert(tid);
      if (syscall(SYS_tgkill, getpid(), tid, Signal()) == 0) sent++;
    }
    // A thread that blocks the signal never answers: 300 ms is long for the others (a thread
    // off the CPU runs the handler when it is next scheduled).
    timespec nap = {0, 1000000};
    for (int waited = 0; g_done < sent && waited < 300; waited++) nanosleep(&nap, nullptr);
    if (g_failed) error = "a thread could not drop its privileges";
    if (g_done < sent) {
      std::set<pid_t> ran;
      for (int i = 0; i < g_done && i < kMaxThreads; i++) ran.insert(g_ran[i]);
      for (pid_t tid : now) {
        std::string status = "/proc/self/task/" + std::to_string(tid) + "/status";
        if (!ran.count(tid) && access(status.c_str(), F_OK) == 0) unreached.push_back(tid);
      }
    }
  }
  if (!RunStep(o)) error = std::string("cannot drop privileges: ") + strerror(errno);
  return unreached;
}

// Denied to every thread once the tracer runs: loading or creating BPF objects (the tracer's
// are loaded), kernel modules, mounts, reboot and kexec, tracing other processes, new user or
// mount namespaces, and running programs. The answer is EPERM, as a missing capability's.
int InstallSeccomp() {
#if defined(__x86_64__)
  const uint32_t arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
  const uint32_t arch = AUDIT_ARCH_AARCH64;
#else
  return ENOTSUP;
#endif
  const long denied[] = {
    SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load, SYS_kexec_file_load, SYS_reboot,
    SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_swapon, SYS_swapoff, SYS_ptrace,
    SYS_process_vm_writev, SYS_unshare, SYS_execve, SYS_execveat, SYS_open_by_handle_at, SYS_acct,
    SYS_settimeofday, SYS_clock_settime, SYS_sethostname, SYS_setdomainname, SYS_keyctl, SYS_add_key,
    SYS_request_key, SYS_userfaultfd, SYS_perf_event_open, SYS_fsopen, SYS_fsmount, SYS_move_mount,
    SYS_open_tree,
  };
  // bpf(2) commands that make new objects; lookups on the tracer's own maps stay allowed.
  const uint32_t bpf_denied[] = {0 /* MAP_CREATE */, 5 /* PROG_LOAD */, 8 /* PROG_ATTACH */, 17 /* RAW_TRACEPOINT_OPEN */,
    18 /* BTF_LOAD */, 28 /* LINK_CREATE */};
  const uint32_t deny = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
  std::vector<sock_filter> f;
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
#if defined(__x86_64__)
  // x32 system calls carry the same arch with bit 30 set: each would be another way in.
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, deny));
#endif
  for (long nr : denied) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, deny));
  }
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_bpf, 1, 0));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
  for (uint32_t cmd : bpf_denied) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, cmd, 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, deny));
  }
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog prog = {static_cast<unsigned short>(f.size()), f.data()};
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
  if (r < 0) return errno;
  return r > 0 ? EBUSY : 0; // r > 0: the id of a thread that could not be synchronised
}

int LastCap() {
  FILE* f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  int last = 40;
  if (f) {
    if (fscanf(f, "%d", &last) != 1) last = 40;
    fclose(f);
  }
  return last;
}

// dropPrivileges({ keep: number[], uid?, gid?, groups?: number[], parkUid, seccomp: boolean })
//   → { unreached: number[] }, or throws with what failed.
Napi::Value DropPrivileges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  uint64_t keep = 0;
  Napi::Array caps = o.Get("keep").As<Napi::Array>();
  for (uint32_t i = 0; i < caps.Length(); i++) keep |= 1ull << caps.Get(i).As<Napi::Number>().Uint32Value();
  const bool to_user = o.Has("uid") && o.Get("uid").IsNumber();

  struct sigaction sa = {};
  sa.sa_sigaction = OnSignal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(Signal(), &sa, nullptr) != 0) {
    Napi::Error::New(env, std::string("cannot drop privileges: sigaction: ") + strerror(errno)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string error;
  std::vector<pid_t> unreached = RunEverywhere({Step::kKeepCaps, keep, LastCap(), false}, error);
  // glibc's set*id reach every thread, the unreachable one too.
  bool changed = false;
  bool kept_by_unreached = false;
  if (error.empty() && to_user) {
    std::vector<gid_t> groups;
    if (o.Has("groups")) {
      Napi::Array g = o.Get("groups").As<Napi::Array>();
      for (uint32_t i = 0; i < g.Length(); i++) groups.push_back(g.Get(i).As<Napi::Number>().Uint32Value());
    }
    const gid_t gid = o.Get("gid").As<Napi::Number>().Uint32Value();
    const uid_t uid = o.Get("uid").As<Napi::Number>().Uint32Value();
    if (setgroups(groups.size(), groups.data()) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
      error = std::string("cannot become the -Z user: ") + strerror(errno);
    }
    changed = true;
  } else if (error.empty() && !unreached.empty()) {
    // Without CAP_SETUID (file capabilities, not root) that thread keeps what it has: said.
    const uid_t park = o.Get("parkUid").As<Napi::Number>().Uint32Value();
    if (setresuid(park, park, park) == 0) changed = true;
    else if (errno != EPERM) error = std::string("cannot drop privileges: setresuid: ") + strerror(errno);
    else kept_by_unreached = true;
  }
  if (error.empty()) RunEverywhere({Step::kRestrict, keep, LastCap(), changed && !to_user}, error);
  // Ignored from now on rather than restored: a signal still pending in the thread that blocks
  // it is discarded, and its default action (ending the process) can never come due.
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(Signal(), &ignore, nullptr);
  if (error.empty() && o.Get("seccomp").ToBoolean()) {
    int err = InstallSeccomp();
    if (err) error = std::string("cannot install the seccomp filter: ") + strerror(err);
  }
  if (!error.empty()) {
    Napi::Error::New(env, error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  Napi::Array left = Napi::Array::New(env, unreached.size());
  for (size_t i = 0; i < unreached.size(); i++) left.Set(static_cast<uint32_t>(i), Napi::Number::New(env, unreached[i]));
  result.Set("unreached", left);
  result.Set("unreachedKeep", Napi::Boolean::New(env, kept_by_unreached));
  return result;
}

}  // namespace

void InitPrivileges(Napi::Env env, Napi::Object exports) {
  exports.Set("dropPrivileges", Napi::Function::New(env, DropPrivileges));
}
