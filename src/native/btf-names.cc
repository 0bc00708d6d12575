#include "btf-names.h"

#include <fcntl.h>
#include <linux/btf.h>
#include <unistd.h>

#include <cstring>

namespace {

bool ReadAt(int fd, std::string* out, size_t size, off_t at) {
  out->resize(size);
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(fd, &(*out)[got], size - got, at + static_cast<off_t>(got));
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

// Bytes that follow a struct btf_type of this kind (the kernel's BTF format, include/uapi/linux/btf.h).
size_t TrailingBytes(const struct btf_type* t) {
  unsigned vlen = BTF_INFO_VLEN(t->info);
  switch (BTF_INFO_KIND(t->info)) {
    case BTF_KIND_INT: return 4;
    case BTF_KIND_ARRAY: return sizeof(struct btf_array);
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION: return vlen * sizeof(struct btf_member);
    case BTF_KIND_ENUM: return vlen * sizeof(struct btf_enum);
    case BTF_KIND_FUNC_PROTO: return vlen * sizeof(struct btf_param);
    case BTF_KIND_VAR: return sizeof(struct btf_var);
    case BTF_KIND_DATASEC: return vlen * sizeof(struct btf_var_secinfo);
    case 17 /* BTF_KIND_DECL_TAG */: return 4;
    case 19 /* BTF_KIND_ENUM64 */: return vlen * 12;
    default: return 0;  // PTR, FWD, TYPEDEF, qualifiers, FUNC, FLOAT, TYPE_TAG
  }
}

}  // namespace

bool KernelBtfNames::Load() {
  int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct btf_header hdr;
  bool ok = pread(fd, &hdr, sizeof(hdr), 0) == static_cast<ssize_t>(sizeof(hdr)) && hdr.magic == BTF_MAGIC &&
            hdr.hdr_len >= sizeof(hdr);
  ok = ok && ReadAt(fd, &strings_, hdr.str_len, static_cast<off_t>(hdr.hdr_len) + hdr.str_off) &&
       ReadAt(fd, &types_, hdr.type_len, static_cast<off_t>(hdr.hdr_len) + hdr.type_off);
  close(fd);
  if (!ok) strings_.clear(), types_.clear();
  return ok;
}

bool KernelBtfNames::Has(const std::string& name) const {
  // Each string is preceded and followed by a NUL (the section starts with an empty string).
  std::string needle(1, '\0');
  needle += name;
  needle += '\0';
  return memmem(strings_.data(), strings_.size(), needle.data(), needle.size()) != nullptr;
}

uint32_t KernelBtfNames::TypeId(const std::string& name, unsigned kind) const {
  std::string needle(1, '\0');
  needle += name;
  needle += '\0';
  const char* at = static_cast<const char*>(memmem(strings_.data(), strings_.size(), needle.data(), needle.size()));
  if (!at) return 0;
  uint32_t name_off = static_cast<uint32_t>(at + 1 - strings_.data());
  uint32_t id = 1;
  for (size_t off = 0; off + sizeof(struct btf_type) <= types_.size(); id++) {
    struct btf_type t;
    memcpy(&t, types_.data() + off, sizeof(t));
    if (t.name_off == name_off && BTF_INFO_KIND(t.info) == kind) return id;
    off += sizeof(t) + TrailingBytes(&t);
  }
  return 0;
}
