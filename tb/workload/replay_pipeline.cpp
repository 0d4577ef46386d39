#include "tb/workload/replay_pipeline.h"

#include <stdexcept>
#include <system_error>

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

ReplayPipeline::ReplayPipeline(Fill fill, Check check, bool worker) : fill_(std::move(fill)), check_(std::move(check)) {
  if (!worker) return;
  try {
    worker_ = std::thread([this] { work(); });
  } catch (const std::system_error&) {
    // No thread to be had: the simulation's thread does it all.
  }
}

ReplayPipeline::~ReplayPipeline() {
  if (!worker_.joinable()) return;
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
  return !no_more_ && f < checked_ + kSlots && fill_claimed_ == f;
}

bool ReplayPipeline::checkable() const {
  const uint64_t c = checked_;
  return c < finished_ && check_claimed_ == c;
}

bool ReplayPipeline::try_fill() {
  uint64_t f = filled_;
  if (no_more_ || f >= checked_ + kSlots || !fill_claimed_.compare_exchange_strong(f, f + 1)) return false;
  try {
    const bool more = fill_(static_cast<unsigned>(f % kSlots));
    if (!more) no_more_ = true;  // before filled_ moves: nobody claims slot f + 1
    ++filled_;
  } catch (...) {
    fill_error_ = std::current_exception();
    no_more_ = true;
  }
  if (no_more_) ended_ = true;  // last: filled_ and fill_error_ are final
  wake(to_worker_);
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
void ReplayPipeline::await_working(Ready ready, bool fills, bool checks_first) {
  for (;;) {
    if (ready()) return;
    const bool did = checks_first ? try_check() || (fills && try_fill()) : (fills && try_fill()) || try_check();
    if (did) continue;
    // Nothing to do here: the worker holds the claim the wait is for (without
    // one, nothing does and `ready` holds: fills and checks go in order).
    if (!worker_.joinable()) throw std::logic_error("replay pipeline: waiting with no worker");
    await(to_sim_, [&] { return ready() || (fills && fillable()) || checkable(); });
  }
}

bool ReplayPipeline::take(unsigned& ring) {
  if (taken_ > finished_) {
    ++finished_;
    wake(to_worker_);
  }
  const uint64_t s = taken_;
  // Slot s filled (or the end), and those up to s - 2 checked (or one failed).
  const auto checked = [&] { return checked_ + 1 >= s || failed_; };
  await_working([&] { return (filled_ > s || ended_) && checked(); }, true, !checked());
  if (failed_ && fail_slot_ + 2 <= s) std::rethrow_exception(check_error_);
  if (filled_ <= s) {
    if (fill_error_) {
      drain();  // an earlier slot's failure comes first, as on one thread
      std::rethrow_exception(fill_error_);
    }
    return false;
  }
  ++taken_;
  ring = static_cast<unsigned>(s % kSlots);
  return true;
}

void ReplayPipeline::drain() {
  await_working([&] { return checked_ >= finished_; }, false, true);
  if (failed_) std::rethrow_exception(check_error_);
}

}  // namespace tb
