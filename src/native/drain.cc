#include "drain.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace {
// Chunks kept for reuse: enough for steady streaming without a malloc per batch; a larger
// backlog's chunks are freed once delivered, so its memory goes back to the system.
constexpr size_t kFreeChunks = 4;
// Chunks handed to JS per loop iteration before yielding to other callbacks (timers, I/O).
constexpr int kChunksPerTurn = 4;
}  // namespace

uint64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

DrainThread::DrainThread(RingReader* ring, size_t record_size, size_t chunk_bytes, size_t limit_bytes,
                         uint32_t flush_ms, bool boost)
    : ring_(ring),
      record_size_(record_size),
      chunk_bytes_(chunk_bytes),
      limit_bytes_(limit_bytes),
      flush_ms_(flush_ms ? flush_ms : 1),
      boost_(boost) {}

DrainThread::~DrainThread() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

int DrainThread::Start(uv_loop_t* loop, Deliver deliver) {
  deliver_ = std::move(deliver);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return -errno;
  async_ = new uv_async_t;
  async_->data = this;
  int err = uv_async_init(loop, async_, [](uv_async_t* h) { static_cast<DrainThread*>(h->data)->OnAsync(); });
  if (err) {
    delete async_;
    async_ = nullptr;
    return err;
  }
  thread_ = std::thread([this] { Run(); });
  return 0;
}

void DrainThread::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // the counter cannot overflow with one write; nothing to do
  }
  thread_.join();
}

void DrainThread::Dispose(DrainThread* drain) {
  if (!drain) return;
  drain->Stop();
  drain->delivering_stopped_ = true;
  if (!drain->async_) {
    delete drain;
    return;
  }
  drain->async_->data = drain;
  uv_close(reinterpret_cast<uv_handle_t*>(drain->async_), [](uv_handle_t* h) {
    DrainThread* d = static_cast<DrainThread*>(h->data);
    delete reinterpret_cast<uv_async_t*>(h);
    delete d;
  });
}

void DrainThread::Boost() {
  if (!boost_) return;
  struct sched_param sp = {};
  sp.sched_priority = 1;  // the lowest real-time priority: above every normal task, below others
  if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0) {
    priority_ = 2;
  } else if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), -20) == 0) {
    priority_ = 1;
  }
}

std::string DrainThread::priority() const {
  switch (priority_.load()) {
    case 2: return "SCHED_FIFO 1";
    case 1: return "nice -20";
    default: return "normal priority";
  }
}

std::unique_ptr<DrainThread::Chunk> DrainThread::TakeFree() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_.empty()) {
      std::unique_ptr<Chunk> c = std::move(free_.back());
      free_.pop_back();
      return c;
    }
  }
  auto c = std::make_unique<Chunk>();
  c->reserve(chunk_bytes_ + record_size_);
  return c;
}

void DrainThread::Recycle(std::unique_ptr<Chunk> chunk) {
  chunk->clear();
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.size() < kFreeChunks) free_.push_back(std::move(chunk));
}

void DrainThread::Run() {
  pthread_setname_np(pthread_self(), "tcptrace-drain");
  Boost();
  uint64_t last_read = 0;
  bool backoff = false;  // the ring said readable but its next record was not committed yet
  bool full = false;
  while (!stop_.load()) {
    // While the backlog is full, leave the ring alone (it stays readable) and wait for room.
    bool watch_ring = !full && !backoff;
    struct pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {ring_->fd(), POLLIN, 0}};
    int timeout = backoff ? 1 : static_cast<int>(flush_ms_);
    poll(fds, watch_ring ? 2 : 1, full ? -1 : timeout);
    if (fds[0].revents & POLLIN) {
      uint64_t n;
      if (read(wake_fd_, &n, sizeof(n)) < 0) {
        // EAGAIN: already cleared
      }
    }
    if (stop_.load()) break;
    backoff = false;
    full = false;
    for (;;) {
      if (queued_bytes_.load() >= limit_bytes_) {
        waiting_for_room_.store(true);
        // Room may have been made between the check and the flag: look once more.
        if (queued_bytes_.load() >= limit_bytes_) {
          full = true;
          throttled_.fetch_add(1, std::memory_order_relaxed);
          break;
        }
        waiting_for_room_.store(false);
      }
      uint64_t now = MonotonicNs();
      if (last_read && now - last_read > max_gap_ns_.load(std::memory_order_relaxed))
        max_gap_ns_.store(now - last_read, std::memory_order_relaxed);
      last_read = now;
      std::unique_ptr<Chunk> chunk = TakeFree();
      size_t got = ring_->Consume(*chunk, record_size_, chunk_bytes_);
      if (got == 0) {
        Recycle(std::move(chunk));
        backoff = fds[1].revents & POLLIN;
        break;
      }
      uint64_t queued = queued_bytes_.fetch_add(got) + got;
      if (queued > backlog_peak_.load(std::memory_order_relaxed)) backlog_peak_.store(queued, std::memory_order_relaxed);
      {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(std::move(chunk));
      }
      uv_async_send(async_);
      if (got < chunk_bytes_) break;  // the ring is empty (for now)
    }
  }
}

void DrainThread::OnAsync() {
  for (int i = 0; i < kChunksPerTurn && !delivering_stopped_; i++) {
    std::unique_ptr<Chunk> chunk;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) return;
      chunk = std::move(queue_.front());
      queue_.pop_front();
    }
    bool go_on = deliver_(chunk->data(), chunk->size(), true);
    queued_bytes_.fetch_sub(chunk->size());
    if (waiting_for_room_.exchange(false)) {
      uint64_t one = 1;
      if (write(wake_fd_, &one, sizeof(one)) < 0) {
        // cannot fail short of a closed fd
      }
    }
    Recycle(std::move(chunk));
    if (!go_on) return;
  }
  if (delivering_stopped_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (!queue_.empty()) uv_async_send(async_);  // more next turn: the loop stays responsive
}

void DrainThread::DeliverAll() {
  for (;;) {
    std::unique_ptr<Chunk> chunk;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) break;
      chunk = std::move(queue_.front());
      queue_.pop_front();
    }
    queued_bytes_.fetch_sub(chunk->size());
    if (!deliver_(chunk->data(), chunk->size(), false)) return;
  }
  Chunk rest;
  rest.reserve(chunk_bytes_ + record_size_);
  while (ring_->Consume(rest, record_size_, chunk_bytes_) > 0) {
    if (!deliver_(rest.data(), rest.size(), false)) return;
    rest.clear();
  }
}
