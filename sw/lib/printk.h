// The kernel log: printk with Linux's levels into a ring buffer (dmesg) and,
// below the console level, onto the HAL console; panic prints and halts the
// machine through the HAL.
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/compiler.h"
#include "sw/lib/observe.h"

namespace fw {

enum LogLevel : int {
  LOGLEVEL_EMERG = 0,
  LOGLEVEL_ALERT = 1,
  LOGLEVEL_CRIT = 2,
  LOGLEVEL_ERR = 3,
  LOGLEVEL_WARNING = 4,
  LOGLEVEL_NOTICE = 5,
  LOGLEVEL_INFO = 6,
  LOGLEVEL_DEBUG = 7,
};

class Log {
 public:
  static constexpr size_t kBufSize = 32 * 1024;  // Linux's default is 2^17; 32 KiB keeps the Kernel object small
  static constexpr size_t kLineMax = 256;

  // Messages with level < console_level reach the console (Linux's console_loglevel).
  void set_console_level(unsigned level) { console_level_ = level; }
  unsigned console_level() const { return console_level_; }

  void printk(hal::Hal& h, int level, const char* fmt, ...) FW_PRINTF(4, 5);
  void vprintk(hal::Hal& h, int level, const char* fmt, va_list ap);
  [[noreturn]] void panic(hal::Hal& h, const char* fmt, ...) FW_PRINTF(3, 4);

  // The retained log, oldest first (whole lines only).
  void dump(TextSink& sink) const;
  uint64_t lines() const { return lines_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;
  uint64_t bytes_lost() const { return head_ > kBufSize ? head_ - kBufSize : 0; }

 private:
  void append(const char* s, size_t n);

  char buf_[kBufSize];
  uint64_t head_ = 0;  // bytes ever appended; the ring holds the last kBufSize
  uint64_t lines_ = 0;
  unsigned console_level_ = LOGLEVEL_DEBUG;
};

}  // namespace fw

// Invariant checks that must never fail: a failure is a firmware bug, and
// the machine stops with the location (Linux's BUG_ON).
#define FW_BUG_ON(log, hal, cond)                                                        \
  do {                                                                                   \
    if (FW_UNLIKELY(cond)) (log).panic((hal), "BUG at %s:%d: %s", __FILE__, __LINE__, #cond); \
  } while (0)
