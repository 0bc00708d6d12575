// libbpf prints through one global callback; we collect its warnings (the verifier log
// among them) so a failed load can say why. Per thread: each probe's load runs on its own
// thread, and two may overlap (bin/tcptrace's early start and the one the options asked for).
#pragma once

#include <bpf/libbpf.h>

#include <cstdarg>
#include <string>

struct LibbpfLog {
  std::string text;
  bool verbose = false;  // also print libbpf's debug messages on stderr
};

// Points libbpf's messages on this thread at `log` for the scope's duration.
class LogTo {
 public:
  explicit LogTo(LibbpfLog* log);
  ~LogTo();
  LogTo(const LogTo&) = delete;
  LogTo& operator=(const LogTo&) = delete;

 private:
  LibbpfLog* previous_;
};

// Installs the callback (once, at module load).
void InstallLibbpfLog();
