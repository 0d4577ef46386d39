// A spinlock for firmware data shared between CPUs. In the co-simulation the
// CPUs are SystemC threads: one may yield inside a HAL call (a transaction,
// a quantum sync) while holding a lock, so a waiter spins with cpu_relax(),
// which lets simulated time pass and the holder run.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"

namespace fw {

class SpinLock {
 public:
  void lock(hal::Hal& h) {
    const int me = static_cast<int>(h.cpu());
    while (__atomic_exchange_n(&locked_, static_cast<uint8_t>(1), __ATOMIC_ACQUIRE)) {
      // The holder is this CPU: an interrupt handler re-entered a locked
      // section. Spinning would never end.
      if (owner_ == me) h.halt("spinlock recursion");
      h.cpu_relax();
    }
    owner_ = me;
  }
  // Takes the lock when it is free; false (nothing held) otherwise.
  bool try_lock(hal::Hal& h) {
    if (__atomic_exchange_n(&locked_, static_cast<uint8_t>(1), __ATOMIC_ACQUIRE)) return false;
    owner_ = static_cast<int>(h.cpu());
    return true;
  }
  void unlock() {
    owner_ = -1;
    __atomic_store_n(&locked_, static_cast<uint8_t>(0), __ATOMIC_RELEASE);
  }
  bool is_locked() const { return __atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0; }

 private:
  uint8_t locked_ = 0;
  int owner_ = -1;
};

class LockGuard {
 public:
  LockGuard(SpinLock& l, hal::Hal& h) : l_(l) { l_.lock(h); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  SpinLock& l_;
};

}  // namespace fw

namespace fw {

// A lock for per-CPU data (the per-CPU page lists), Linux's pcp->lock: the
// owning CPU takes it on every use, another CPU only to drain the lists.
// The simulated CPUs are cooperative threads on one host thread: they
// switch only inside HAL calls that let time pass, never between this
// lock's test and set, so no atomic read-modify-write is needed (it cost a
// third of an order-0 allocation). It must not be used for data that real
// host threads share.
class CpuLocalLock {
 public:
  void lock(hal::Hal& h, unsigned me) {
    while (__atomic_load_n(&locked_, __ATOMIC_RELAXED)) {
      if (owner_ == static_cast<int>(me)) h.halt("per-CPU lock recursion");
      h.cpu_relax();
    }
    __atomic_store_n(&locked_, static_cast<uint8_t>(1), __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_ACQUIRE);
    owner_ = static_cast<int>(me);
  }
  void unlock() {
    owner_ = -1;
    __atomic_signal_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&locked_, static_cast<uint8_t>(0), __ATOMIC_RELAXED);
  }

 private:
  uint8_t locked_ = 0;
  int owner_ = -1;
};

class CpuLocalGuard {
 public:
  CpuLocalGuard(CpuLocalLock& l, hal::Hal& h, unsigned me) : l_(l) { l_.lock(h, me); }
  ~CpuLocalGuard() { l_.unlock(); }
  CpuLocalGuard(const CpuLocalGuard&) = delete;
  CpuLocalGuard& operator=(const CpuLocalGuard&) = delete;

 private:
  CpuLocalLock& l_;
};

}  // namespace fw
