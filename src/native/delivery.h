// Delivery: records from the kernel to JS, one batch per call of `deliver`. The ring buffer is
// read by a native thread (drain.cc) or on Node's event loop; the perf buffer always on the loop.
#pragma once

#include <bpf/libbpf.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "drain.h"
#include "ring.h"

struct DeliveryOptions {
  bool perf_mode = false;
  uint32_t perf_pages = 64;
  uint32_t batch_bytes = 256 * 1024;
  uint32_t flush_ms = 50;
  bool drain_thread = true;
  bool drain_boost = true;
  size_t backlog_bytes = 64 << 20;
};

// How close delivery came to loss (what probe.delivery() shows).
struct DeliveryFigures {
  uint64_t ring_bytes = 0, ring_peak_bytes = 0;  // 0: not a ring
  uint64_t max_gap_ns = 0;
  bool thread = false;
  uint64_t backlog_peak_bytes = 0, backlog_limit_bytes = 0, backlog_full = 0;
  std::string priority;
};

class BatchDelivery {
 public:
  // One batch to JS; from_loop is false inside close(). false: the callback threw.
  using Deliver = std::function<bool(const uint8_t* data, size_t bytes, bool from_loop)>;

  BatchDelivery(const DeliveryOptions& options, Deliver deliver);
  BatchDelivery(const BatchDelivery&) = delete;
  BatchDelivery& operator=(const BatchDelivery&) = delete;
  ~BatchDelivery() { Stop(); }

  // Starts reading the map (events or perf_events) on `loop`. An error text, or ''.
  std::string Start(uv_loop_t* loop, int ring_fd, int perf_fd, int* err);
  // After the programs are detached: hands JS everything still queued. false if JS threw.
  bool Flush(const std::function<bool()>& js_threw);
  // Frees the reader and its loop handles.
  void Stop();
  // Ring records read but not delivered (malformed): lost, to keep the counters' sum exact.
  uint64_t malformed() const { return ring_ ? ring_->malformed() : 0; }
  // Current figures (the last ones seen, after Stop()).
  DeliveryFigures Figures();

 private:
  static void OnPerfSample(void* ctx, int, void* data, __u32 size);
  static void OnFlushTimer(uv_timer_t* h);
  void DrainFromLoop();
  size_t Drain(bool from_loop);

  DeliveryOptions options_;
  Deliver deliver_;
  std::unique_ptr<RingReader> ring_;
  DrainThread* drain_ = nullptr;  // freed by DrainThread::Dispose
  struct perf_buffer* perf_buf_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  std::vector<uint8_t> batch_;
  DrainGaps loop_gaps_;
  DeliveryFigures last_;
};
