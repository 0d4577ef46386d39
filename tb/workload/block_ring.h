// A producer thread a few fixed blocks ahead of its consumer: the thread
// fills block i into slot i % kSlots with a callback, the consumer takes the
// blocks in order and holds the one it was handed until its next call, and
// the thread waits while every other slot is full. No allocation per block;
// an exception in the callback is passed on once the blocks filled before it
// (and the part of its own block it filled) have been handed out. Used by
// the trace input (tb/workload/trace_input.h) to decompress a trace while it
// is parsed. Deterministic by construction: what the consumer sees depends
// on the callback's output alone, not on timing.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>

#include "tb/workload/host_memory.h"

namespace tb {

template <typename T>
class BlockRing {
 public:
  static constexpr size_t kSlots = 4;
  // fill(buf, n, len): items into buf from len up to n (fewer only at the
  // end), with len telling how far it got when it throws. The blocks have
  // `slack` items after their `block` items that may be read.
  using Fill = std::function<void(T* buf, size_t n, size_t& len)>;

  BlockRing(size_t block, size_t slack, Fill fill)
      : block_(block), fill_(std::move(fill)), memory_(kSlots * (block + slack) * sizeof(T)) {
    // Host memory of zeroes, touched as the thread fills it (host_memory.h).
    T* const items = reinterpret_cast<T*>(memory_.data());
    for (size_t i = 0; i < kSlots * (block + slack); ++i) new (items + i) T;
    for (size_t i = 0; i < kSlots; ++i) slots_[i].items = items + i * (block + slack);
    thread_ = std::thread([this] { produce(); });
  }
  // Stops the thread, wherever it is, and joins it.
  ~BlockRing() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    freed_.notify_one();
    thread_.join();
  }
  BlockRing(const BlockRing&) = delete;
  BlockRing& operator=(const BlockRing&) = delete;

  // The next block, `n` items (0 at the end), valid until the next call.
  const T* next(size_t& n) {
    std::unique_lock<std::mutex> lock(m_);
    if (holding_) {
      ++released_;
      holding_ = false;
      freed_.notify_one();
    }
    filled_.wait(lock, [&] { return done_ || produced_ > released_; });
    if (produced_ > released_) {
      holding_ = true;
      const Slot& s = slots_[released_ % kSlots];
      n = s.len;
      return s.items;
    }
    if (error_) std::rethrow_exception(error_);
    n = 0;
    return nullptr;
  }

 private:
  void produce() {
    for (uint64_t i = 0;; ++i) {
      {
        std::unique_lock<std::mutex> lock(m_);
        freed_.wait(lock, [&] { return stop_ || i - released_ < kSlots; });
        if (stop_) return;
      }
      Slot& s = slots_[i % kSlots];
      size_t len = 0;
      std::exception_ptr err;
      try {
        fill_(s.items, block_, len);
      } catch (...) {
        err = std::current_exception();  // what it filled before still goes out
      }
      std::lock_guard<std::mutex> lock(m_);
      s.len = len;
      if (len) ++produced_;
      done_ = len < block_;  // the end, or an error
      error_ = err;
      filled_.notify_one();
      if (done_) return;
    }
  }

  static_assert(std::is_trivially_destructible_v<T>, "the blocks are given back as plain memory");
  struct Slot {
    T* items = nullptr;
    size_t len = 0;
  };
  const size_t block_;
  const Fill fill_;
  HostBuffer memory_;
  Slot slots_[kSlots];
  std::mutex m_;
  std::condition_variable filled_, freed_;
  uint64_t produced_ = 0, released_ = 0;  // blocks, under m_
  bool holding_ = false;                  // the consumer holds block released_
  bool done_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace tb
