// Whether a name exists in the kernel's BTF, from its string section alone. Deciding which
// optional tp_btf programs to load used to parse all of /sys/kernel/btf/vmlinux (~10 ms of
// start-up), which libbpf then parses again for CO-RE; the names are all we need.
#pragma once

#include <string>

class KernelBtfNames {
 public:
  /** Reads the string section of /sys/kernel/btf/vmlinux; false if unavailable. */
  bool Load();
  /** Whether `name` is one of the strings (type, member and function names). */
  bool Has(const std::string& name) const;

 private:
  std::string strings_;  // NUL-separated, starting with the empty string
};
