#include "btf-names.h"

#include <fcntl.h>
#include <linux/btf.h>
#include <unistd.h>

#include <cstring>

bool KernelBtfNames::Load() {
  int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct btf_header hdr;
  bool ok = pread(fd, &hdr, sizeof(hdr), 0) == static_cast<ssize_t>(sizeof(hdr)) && hdr.magic == BTF_MAGIC &&
            hdr.hdr_len >= sizeof(hdr);
  if (ok) {
    strings_.resize(hdr.str_len);
    off_t at = static_cast<off_t>(hdr.hdr_len) + hdr.str_off;
    size_t got = 0;
    while (got < strings_.size()) {
      ssize_t n = pread(fd, &strings_[got], strings_.size() - got, at + static_cast<off_t>(got));
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ok = got == strings_.size();
  }
  close(fd);
  if (!ok) strings_.clear();
  return ok;
}

bool KernelBtfNames::Has(const std::string& name) const {
  // Each string is preceded and followed by a NUL (the section starts with an empty string).
  std::string needle(1, '\0');
  needle += name;
  needle += '\0';
  return memmem(strings_.data(), strings_.size(), needle.data(), needle.size()) != nullptr;
}
