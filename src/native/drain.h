// A native thread that empties the BPF ring buffer into user memory whatever the JS event
// loop is doing, and hands the records to the loop in chunks (one Buffer per chunk).
//
// Why a thread: measured in BENCHMARKS.md (issue 12), the loop that used to read the ring was
// kept off the CPU for 100 ms and more while storm threads ran, and a 4 MiB ring holds about
// 85 ms of a loopback storm. The reading itself is cheap (a copy); what it needs is a CPU at
// the right moment, so the thread asks for a real-time priority (SCHED_FIFO 1) and falls back
// to nice -20, then to normal priority, silently, when not permitted.
//
// The user-side backlog is bounded (limit_bytes): past it the thread stops reading, the kernel
// ring fills, and the BPF program counts what it cannot reserve as dropped: loss stays exact.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ring.h"

/** Longest interval between two reads of the ring, and how often it was read. */
struct DrainGaps {
  uint64_t last_ns = 0;
  uint64_t max_ns = 0;
  uint64_t reads = 0;
  void Note(uint64_t now_ns) {
    if (last_ns && now_ns - last_ns > max_ns) max_ns = now_ns - last_ns;
    last_ns = now_ns;
    reads++;
  }
};

uint64_t MonotonicNs();

class DrainThread {
 public:
  /** Hands one chunk to JS; from_loop is false inside close(). false = stop delivering. */
  using Deliver = std::function<bool(const uint8_t* data, size_t bytes, bool from_loop)>;

  DrainThread(RingReader* ring, size_t record_size, size_t chunk_bytes, size_t limit_bytes, uint32_t flush_ms,
              bool boost);
  DrainThread(const DrainThread&) = delete;
  DrainThread& operator=(const DrainThread&) = delete;
  ~DrainThread();

  /** Starts the thread; `deliver` runs on `loop` for each chunk. 0 or -errno. */
  int Start(uv_loop_t* loop, Deliver deliver);

  /** Joins the thread: it reads nothing more. Idempotent. */
  void Stop();

  /**
   * After Stop(), on the loop thread: delivers every queued chunk, then what is left in the
   * ring (no limit: the ring is bounded), so that nothing read is ever dropped.
   */
  void DeliverAll();

  /**
   * Stops and frees `drain`. The object lives until its loop handle is closed, because this
   * may run inside a delivery (close() called from an 'events' listener) that still returns
   * into OnAsync.
   */
  static void Dispose(DrainThread* drain);

  /** Scheduling the thread obtained: "SCHED_FIFO 1", "nice -20" or "normal priority". */
  std::string priority() const;
  uint64_t backlog_peak() const { return backlog_peak_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_bytes_; }
  uint64_t max_gap_ns() const { return max_gap_ns_.load(std::memory_order_relaxed); }
  /** Times the backlog reached its limit and the thread left records in the ring. */
  uint64_t throttled() const { return throttled_.load(std::memory_order_relaxed); }

 private:
  using Chunk = std::vector<uint8_t>;

  void Run();
  void Boost();
  std::unique_ptr<Chunk> TakeFree();
  void OnAsync();
  void Recycle(std::unique_ptr<Chunk> chunk);

  RingReader* ring_;
  const size_t record_size_;
  const size_t chunk_bytes_;
  const size_t limit_bytes_;
  const uint32_t flush_ms_;
  const bool boost_;

  std::thread thread_;
  int wake_fd_ = -1;  // eventfd: stop, or room in the backlog again
  uv_async_t* async_ = nullptr;
  Deliver deliver_;

  std::mutex mu_;  // guards queue_, free_
  std::deque<std::unique_ptr<Chunk>> queue_;
  std::vector<std::unique_ptr<Chunk>> free_;
  std::atomic<uint64_t> queued_bytes_{0};
  std::atomic<uint64_t> backlog_peak_{0};
  std::atomic<uint64_t> max_gap_ns_{0};
  std::atomic<uint64_t> throttled_{0};
  std::atomic<bool> stop_{false};
  bool delivering_stopped_ = false;  // loop thread only
  std::atomic<bool> waiting_for_room_{false};
  std::atomic<int> priority_{0};  // 0 normal, 1 nice -20, 2 SCHED_FIFO 1
};
