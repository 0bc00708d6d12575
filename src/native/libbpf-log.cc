#include "libbpf-log.h"

#include <cstdio>

namespace {

thread_local LibbpfLog* t_log = nullptr;

int CollectLibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  LibbpfLog* log = t_log;
  if (!log || (level == LIBBPF_DEBUG && !log->verbose)) return 0;
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return n;
  std::string text(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(&text[0], text.size(), fmt, args);
  text.resize(n);
  if (log->verbose) fputs(text.c_str(), stderr);
  if (log->text.size() < (4 << 20)) log->text.append(text);
  return n;
}

}  // namespace

LogTo::LogTo(LibbpfLog* log) : previous_(t_log) { t_log = log; }
LogTo::~LogTo() { t_log = previous_; }

void InstallLibbpfLog() { libbpf_set_print(CollectLibbpfPrint); }
