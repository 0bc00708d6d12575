#include "ring.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

RingReader::~RingReader() {
  if (consumer_page_) munmap(consumer_page_, page_size_);
  if (producer_area_) munmap(producer_area_, producer_len_);
}

int RingReader::Open(int map_fd) {
  struct bpf_map_info info;
  memset(&info, 0, sizeof(info));
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(map_fd, &info, &len) < 0) return -errno;
  if (info.type != BPF_MAP_TYPE_RINGBUF || info.max_entries == 0) return -EINVAL;

  page_size_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  consumer_page_ = mmap(nullptr, page_size_, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (consumer_page_ == MAP_FAILED) {
    consumer_page_ = nullptr;
    return -errno;
  }
  // The kernel offers the data area twice in a row (so a wrapping record reads contiguously);
  // mapping it once halves what the ring adds to our RSS (the kernel populates every page of
  // the mapping at mmap time: 8 MB for a 4 MiB ring), and Consume copies a wrapping record in
  // two pieces instead.
  producer_len_ = page_size_ + static_cast<size_t>(info.max_entries);
  producer_area_ = mmap(nullptr, producer_len_, PROT_READ, MAP_SHARED, map_fd, page_size_);
  if (producer_area_ == MAP_FAILED) {
    producer_area_ = nullptr;
    return -errno;
  }
  fd_ = map_fd;
  mask_ = info.max_entries - 1;
  consumer_pos_ = static_cast<uint64_t*>(consumer_page_);
  producer_pos_ = static_cast<const uint64_t*>(producer_area_);
  data_ = static_cast<const uint8_t*>(producer_area_) + page_size_;
  return 0;
}

size_t RingReader::Consume(std::vector<uint8_t>& out, size_t record_size, size_t max_bytes) {
  if (!data_) return 0;
  const size_t start = out.size();
  uint64_t cons = *consumer_pos_;  // only we write it
  uint64_t prod = __atomic_load_n(producer_pos_, __ATOMIC_ACQUIRE);
  if (prod - cons > peak_) __atomic_store_n(&peak_, prod - cons, __ATOMIC_RELAXED);
  while (cons < prod && out.size() < max_bytes) {
    while (cons < prod && out.size() < max_bytes) {
      const uint8_t* rec = data_ + (cons & mask_);
      // The length word carries the busy bit until the producer commits (release store).
      uint32_t hdr = __atomic_load_n(reinterpret_cast<const uint32_t*>(rec), __ATOMIC_ACQUIRE);
      if (hdr & BPF_RINGBUF_BUSY_BIT) break;
      uint32_t size = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      if (!(hdr & BPF_RINGBUF_DISCARD_BIT)) {
        if (size == record_size) {
          // Headers are 8-byte aligned and never wrap; a sample may (the data area is mapped once).
          uint64_t at = (cons + BPF_RINGBUF_HDR_SZ) & mask_;
          size_t first = static_cast<size_t>(std::min<uint64_t>(size, mask_ + 1 - at));
          out.insert(out.end(), data_ + at, data_ + at + first);
          out.insert(out.end(), data_, data_ + (size - first));
        } else {
          __atomic_fetch_add(&malformed_, 1, __ATOMIC_RELAXED);  // another header's object: counted, never silent
        }
      }
      cons += (static_cast<uint64_t>(size) + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
    }
    if (cons == *consumer_pos_) break;  // nothing read (or the next record is still busy)
    // Publish, then look again: a producer that committed meanwhile saw the old position and
    // may not have woken us.
    __atomic_store_n(consumer_pos_, cons, __ATOMIC_RELEASE);
    prod = __atomic_load_n(producer_pos_, __ATOMIC_ACQUIRE);
  }
  return out.size() - start;
}
