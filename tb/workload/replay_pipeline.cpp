#include "tb/workload/replay_pipeline.h"

namespace tb {

namespace {

// A few microseconds of polling before a thread sleeps: the other one is
// usually that close to handing over; longer spins cost the simulation its
// core when the host is busy.
constexpr int kSpins = 200;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

ReplayPipeline::ReplayPipeline(Fill fill, Check check)
    : fill_(std::move(fill)), check_(std::move(check)), worker_([this] { work(); }) {}

ReplayPipeline::~ReplayPipeline() {
  stop_ = true;
  wake(to_worker_);
  worker_.join();
}

template <typename Ready>
void ReplayPipeline::await(std::condition_variable& cv, Ready ready) {
  for (int i = 0; i < kSpins; ++i) {
    if (ready()) return;
    cpu_relax();
  }
  std::unique_lock<std::mutex> lock(m_);
  cv.wait(lock, ready);
}

// The other thread either has not yet looked (and sees the change) or is
// already waiting: taking the lock once orders the notification after it.
void ReplayPipeline::wake(std::condition_variable& cv) {
  { std::lock_guard<std::mutex> lock(m_); }
  cv.notify_one();
}

bool ReplayPipeline::fillable() const {
  const uint64_t f = filled_;
  return !ended_ && f < checked_ + kSlots && fill_claimed_ == f;
}

bool ReplayPipeline::checkable() const {
  const uint64_t c = checked_;
  return c < finished_ && check_claimed_ == c;
}

bool ReplayPipeline::try_fill() {
  uint64_t f = filled_;
  if (ended_ || f >= checked_ + kSlots || !fill_claimed_.compare_exchange_strong(f, f + 1)) return false;
  try {
    const bool more = fill_(static_cast<unsigned>(f % kSlots));
    ++filled_;  // before ended_: the last slot is still taken
    if (!more) ended_ = true;
  } catch (...) {
    fill_error_ = std::current_exception();
    ended_ = true;
  }
  wake(to_sim_);
  return true;
}

bool ReplayPipeline::try_check() {
  uint64_t c = checked_;
  if (c >= finished_ || !check_claimed_.compare_exchange_strong(c, c + 1)) return false;
  if (!failed_) {
    try {
      check_(static_cast<unsigned>(c % kSlots));
    } catch (...) {
      check_error_ = std::current_exception();
      fail_slot_ = c;
      failed_ = true;
    }
  }
  checked_ = c + 1;
  wake(to_worker_);
  wake(to_sim_);
  return true;
}

void ReplayPipeline::work() {
  for (;;) {
    await(to_worker_, [&] { return stop_ || fillable() || checkable(); });
    if (stop_) return;
    if (!try_fill()) try_check();
  }
}

template <typename Ready>
void ReplayPipeline::await_working(Ready ready) {
  for (;;) {
    if (ready()) return;
    if (try_fill() || try_check()) continue;  // rather than wait for the worker to
    await(to_sim_, [&] { return ready() || fillable() || checkable(); });
  }
}

bool ReplayPipeline::take(unsigned& ring) {
  if (taken_ > finished_) {
    ++finished_;
    wake(to_worker_);
  }
  const uint64_t s = taken_;
  // Slots up to s - 2 checked (or one of them failed).
  await_working([&] { return (filled_ > s || ended_) && (checked_ + 1 >= s || failed_); });
  if (failed_ && fail_slot_ + 2 <= s) std::rethrow_exception(check_error_);
  if (filled_ <= s) {
    if (fill_error_) std::rethrow_exception(fill_error_);
    return false;
  }
  ++taken_;
  ring = static_cast<unsigned>(s % kSlots);
  return true;
}

void ReplayPipeline::drain() {
  await_working([&] { return checked_ >= finished_; });
  if (failed_) std::rethrow_exception(check_error_);
}

}  // namespace tb
