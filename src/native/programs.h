// Which of the object's BPF programs this kernel can load, decided before the load: one program
// the kernel refuses would fail the whole object, so each stands or falls alone. What goes is
// said in words (the start line and --verbose show it).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "btf-names.h"

// Where tracefs may be mounted, the usual mount point first.
extern const char* const kTracefsRoots[2];
// The id tracefs gives an event (category/name), from the first root that has it; -1 if none.
long TracefsEventId(const std::string& category, const std::string& name);

struct LeftOut {
  std::string program;
  std::string feature;  // what went with it ('' when another program stands in)
  std::string missing;  // the piece the kernel lacks, e.g. "tracepoint sock:inet_sk_error_report"
};

class ProgramChoice {
 public:
  // attach: "tp_btf" or "tracepoint"; vmlinux: the kernel's BTF names (tp_btf only);
  // pretend_missing: helpers to treat as absent (a test knob, see src/probe/probe.ts).
  ProgramChoice(const std::string& attach, const KernelBtfNames* vmlinux, std::set<std::string> pretend_missing);

  // Whether to load the program; when not, and the kernel is why, left_out() says so.
  bool Keep(const std::string& name, const std::string& section);
  const std::vector<LeftOut>& left_out() const { return left_out_; }

 private:
  bool TargetExists(const std::string& section) const;
  bool SocketStorageInTracing();
  bool LeaveOut(const std::string& name, const std::string& missing);

  std::string wanted_;  // "_btf" or "_tp": the suffix of this attach mode's programs
  const KernelBtfNames* vmlinux_;
  std::set<std::string> pretend_missing_;
  int sk_storage_in_tracing_ = -1;  // probed once: -1 not yet
  std::vector<LeftOut> left_out_;
};
