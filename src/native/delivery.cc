#include "delivery.h"

#include "../../bpf/tcptrace.h"

BatchDelivery::BatchDelivery(const DeliveryOptions& options, Deliver deliver)
    : options_(options), deliver_(std::move(deliver)) {
  batch_.reserve(options_.batch_bytes + sizeof(tcptrace_event));
  last_.thread = options_.drain_thread && !options_.perf_mode;
}

std::string BatchDelivery::Start(uv_loop_t* loop, int ring_fd, int perf_fd, int* err) {
  int fd;
  if (options_.perf_mode) {
    perf_buf_ = perf_buffer__new(perf_fd, options_.perf_pages, OnPerfSample, nullptr, this, nullptr);
    if (!perf_buf_) return *err = errno, "perf buffer setup failed";
    fd = perf_buffer__epoll_fd(perf_buf_);
  } else {
    ring_ = std::make_unique<RingReader>();
    *err = ring_->Open(ring_fd);
    if (*err) return "ring buffer setup failed";
    fd = ring_->fd();
  }
  if (ring_ && options_.drain_thread) {
    drain_ = new DrainThread(ring_.get(), sizeof(tcptrace_event), options_.batch_bytes, options_.backlog_bytes,
                             options_.flush_ms, options_.drain_boost);
    *err = drain_->Start(loop, deliver_);
    return *err ? "cannot start the drain thread" : "";
  }
  poll_ = new uv_poll_t;
  poll_->data = this;
  uv_poll_init(loop, poll_, fd);
  uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* h, int, int) { static_cast<BatchDelivery*>(h->data)->DrainFromLoop(); });
  timer_ = new uv_timer_t;
  timer_->data = this;
  uv_timer_init(loop, timer_);
  // Batched wakeups leave a lone event queued: this flush bounds its latency.
  uv_timer_start(timer_, OnFlushTimer, options_.flush_ms, options_.flush_ms);
  return "";
}

void BatchDelivery::OnPerfSample(void* ctx, int, void* data, __u32 size) {
  auto* self = static_cast<BatchDelivery*>(ctx);
  if (size < sizeof(tcptrace_event)) return;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  self->batch_.insert(self->batch_.end(), p, p + sizeof(tcptrace_event));
}

void BatchDelivery::OnFlushTimer(uv_timer_t* h) { static_cast<BatchDelivery*>(h->data)->DrainFromLoop(); }

// From the loop (ring readable, or the flush timer): one batch per call keeps the loop
// responsive. A full batch means a backlog; the kernel may send no further wakeup for it
// (it wakes the reader when the queue crosses wakeup_bytes, not while it stays above), so the
// timer is re-armed to fire on the next loop iteration, and the backlog drains continuously
// instead of one batch per flush interval.
void BatchDelivery::DrainFromLoop() {
  size_t bytes = Drain(true);
  if (timer_ && bytes >= options_.batch_bytes) uv_timer_start(timer_, OnFlushTimer, 0, options_.flush_ms);
}

// Reads what is queued (at most one batch from the ring) and hands it to JS.
size_t BatchDelivery::Drain(bool from_loop) {
  loop_gaps_.Note(MonotonicNs());
  if (perf_buf_) perf_buffer__consume(perf_buf_);
  if (ring_) ring_->Consume(batch_, sizeof(tcptrace_event), options_.batch_bytes);
  size_t bytes = batch_.size();
  if (bytes == 0) return 0;
  deliver_(batch_.data(), bytes, from_loop);
  batch_.clear();
  return bytes;
}

bool BatchDelivery::Flush(const std::function<bool()>& js_threw) {
  if (drain_) {
    drain_->Stop();
    Figures();  // keep the final figures past Stop()
    drain_->DeliverAll();
  } else {
    while (Drain(false) > 0 && !js_threw()) {
    }
  }
  Figures();
  return !js_threw();
}

DeliveryFigures BatchDelivery::Figures() {
  if (ring_) {
    last_.ring_bytes = ring_->size();
    last_.ring_peak_bytes = ring_->peak();
  }
  if (drain_) {
    last_.backlog_peak_bytes = drain_->backlog_peak();
    last_.backlog_full = drain_->throttled();
    last_.max_gap_ns = drain_->max_gap_ns();
    last_.priority = drain_->priority();
  }
  last_.backlog_limit_bytes = options_.backlog_bytes;
  if (!last_.thread) last_.max_gap_ns = loop_gaps_.max_ns;
  return last_;
}

void BatchDelivery::Stop() {
  DrainThread::Dispose(drain_);
  drain_ = nullptr;
  if (poll_) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (timer_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  ring_.reset();
  if (perf_buf_) perf_buffer__free(perf_buf_);
  perf_buf_ = nullptr;
}
