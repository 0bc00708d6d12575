// Reads a BPF ring buffer map directly (the kernel's documented mmap layout: a writable
// consumer page, then the read-only producer page and the data area, offered twice in a row;
// we map it once).
// Why not libbpf's ring_buffer__consume: libbpf 1.1 publishes the consumer position after
// every record, and every bpf_ringbuf_reserve in the traced tasks reads that cache line, so
// it bounces between CPUs once per event while we drain. Here it is published once per batch,
// and records are appended straight to the batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

class RingReader {
 public:
  RingReader() = default;
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;
  ~RingReader();

  /** Maps the ring buffer map `map_fd`; 0 or -errno. */
  int Open(int map_fd);

  /** The fd to poll for readability (the map itself). */
  int fd() const { return fd_; }

  /**
   * Appends committed records of exactly `record_size` bytes (others are skipped) to `out`
   * until it holds at least `max_bytes` or the ring is empty; returns the bytes appended.
   */
  size_t Consume(std::vector<uint8_t>& out, size_t record_size, size_t max_bytes);

  /** Records of another size than expected (a BPF object that does not match this addon). */
  uint64_t malformed() const { return __atomic_load_n(&malformed_, __ATOMIC_RELAXED); }  // read while the drain thread runs

  /** Data area size in bytes. */
  uint64_t size() const { return mask_ + 1; }

  /**
   * Most bytes ever found queued when a read began: the ring's high-water mark (only the
   * reader lowers the fill, so the fill at the start of a read is the peak since the last).
   */
  uint64_t peak() const { return __atomic_load_n(&peak_, __ATOMIC_RELAXED); }

 private:
  int fd_ = -1;
  size_t page_size_ = 0;
  uint64_t mask_ = 0;
  void* consumer_page_ = nullptr;
  void* producer_area_ = nullptr;  // producer page + data (once)
  size_t producer_len_ = 0;
  uint64_t* consumer_pos_ = nullptr;
  const uint64_t* producer_pos_ = nullptr;
  const uint8_t* data_ = nullptr;
  uint64_t malformed_ = 0;
  uint64_t peak_ = 0;
};
