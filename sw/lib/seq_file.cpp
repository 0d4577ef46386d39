#include "sw/lib/seq_file.h"

#include "sw/lib/format.h"
#include "sw/lib/string.h"

namespace fw {

void seq_vprintf(seq_file* m, const char* fmt, va_list ap) {
  char line[seq_file::kLineMax];
  int n = fw::vsnprintf(line, sizeof line, fmt, ap);
  if (n > static_cast<int>(sizeof line) - 1) n = sizeof line - 1;
  if (n > 0) m->sink.write(line, static_cast<size_t>(n));
}

void seq_printf(seq_file* m, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  seq_vprintf(m, fmt, ap);
  va_end(ap);
}

void seq_puts(seq_file* m, const char* s) {
  const size_t n = str_len(s);
  if (n) m->sink.write(s, n);
}

}  // namespace fw
