// Names and type ids in the kernel's BTF, from its raw sections alone. Deciding which optional
// tp_btf programs to load used to parse all of /sys/kernel/btf/vmlinux (~10 ms of start-up),
// which libbpf then parses again for CO-RE; the names, and a type id for a feature probe, are
// all we need.
#pragma once

#include <cstdint>
#include <string>

class KernelBtfNames {
 public:
  /** Reads the string and type sections of /sys/kernel/btf/vmlinux; false if unavailable. */
  bool Load();
  /** Whether `name` is one of the strings (type, member and function names). */
  bool Has(const std::string& name) const;
  /** The id of the type named `name` of BTF kind `kind` (BTF_KIND_*); 0 if none. */
  uint32_t TypeId(const std::string& name, unsigned kind) const;

 private:
  std::string strings_;  // NUL-separated, starting with the empty string
  std::string types_;
};
