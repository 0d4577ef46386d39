// A printf-style formatter into a fixed buffer: there is no libc printf in
// the firmware. Supports flags - 0 + space #, width and precision (also *),
// length modifiers hh h l ll z j t, and conversions d i u x X o c s p %.
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "sw/lib/compiler.h"

namespace fw {

// Like vsnprintf: writes at most n-1 characters and a terminator, returns the
// length the full output would have had.
int vsnprintf(char* buf, size_t n, const char* fmt, va_list ap);
int snprintf(char* buf, size_t n, const char* fmt, ...) FW_PRINTF(3, 4);

// Appends formatted text to a fixed buffer, truncating quietly.
class StrBuf {
 public:
  StrBuf(char* buf, size_t cap) : buf_(buf), cap_(cap) {
    if (cap_) buf_[0] = '\0';
  }
  void printf(const char* fmt, ...) FW_PRINTF(2, 3);
  void vprintf(const char* fmt, va_list ap);
  const char* c_str() const { return buf_; }
  size_t len() const { return len_; }
  void clear() {
    len_ = 0;
    if (cap_) buf_[0] = '\0';
  }

 private:
  char* buf_;
  size_t cap_;
  size_t len_ = 0;
};

}  // namespace fw
