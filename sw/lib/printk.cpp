#include "sw/lib/printk.h"

#include "sw/lib/format.h"
#include "sw/lib/string.h"

namespace fw {

void Log::append(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) buf_[(head_ + i) % kBufSize] = s[i];
  head_ += n;
}

void Log::vprintk(hal::Hal& h, int level, const char* fmt, va_list ap) {
  // "[seconds.micros] message\n" with simulated time, like Linux's printk.time.
  char line[kLineMax];
  const uint64_t ns = h.now_ns();
  int n = fw::snprintf(line, sizeof line, "[%5lu.%06lu] ", static_cast<unsigned long>(ns / 1000000000u),
                       static_cast<unsigned long>((ns / 1000u) % 1000000u));
  int m = fw::vsnprintf(line + n, sizeof line - static_cast<size_t>(n), fmt, ap);
  size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
  if (len > sizeof line - 2) len = sizeof line - 2;  // truncated: keep room for the newline
  if (len == 0 || line[len - 1] != '\n') line[len++] = '\n';
  line[len] = '\0';
  append(line, len);
  ++lines_;
  if (level < static_cast<int>(console_level_)) h.console(line, len);
}

void Log::printk(hal::Hal& h, int level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintk(h, level, fmt, ap);
  va_end(ap);
}

void Log::panic(hal::Hal& h, const char* fmt, ...) {
  char msg[kLineMax];
  va_list ap;
  va_start(ap, fmt);
  fw::vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  // A panic always reaches the console, whatever the level.
  const unsigned saved = console_level_;
  console_level_ = LOGLEVEL_DEBUG + 1;
  printk(h, LOGLEVEL_EMERG, "Kernel panic - not syncing: %s", msg);
  console_level_ = saved;
  h.halt(msg);
  __builtin_unreachable();  // halt() is [[noreturn]], but calls through a vtable are not assumed so
}

void Log::dump(TextSink& sink) const {
  uint64_t start = head_ > kBufSize ? head_ - kBufSize : 0;
  if (start > 0) {
    // The oldest line was partly overwritten: start at the next whole line.
    while (start < head_ && buf_[start % kBufSize] != '\n') ++start;
    ++start;
  }
  char chunk[256];
  size_t n = 0;
  for (uint64_t i = start; i < head_; ++i) {
    chunk[n++] = buf_[i % kBufSize];
    if (n == sizeof chunk) {
      sink.write(chunk, n);
      n = 0;
    }
  }
  if (n) sink.write(chunk, n);
}


void Log::visit_stats(StatVisitor& v, const char* prefix) const {
  StatEmitter(v, prefix)("lines", lines(), "kernel log lines", "count");
}

}  // namespace fw
