// Linux's seq_file, reduced: where a /proc show function writes its text
// (seq_printf, seq_puts). Each show function (zoneinfo_show, meminfo_proc_show,
// ...) lives in the file of the subsystem whose data it shows; the /proc
// table (sw/fs/proc/root.cpp) hands it a seq_file over the observer's sink.
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "sw/lib/compiler.h"
#include "sw/lib/observe.h"

namespace fw {

struct seq_file {
  static constexpr size_t kLineMax = 512;  // one seq_printf call writes at most kLineMax - 1 characters

  explicit seq_file(TextSink& s) : sink(s) {}
  TextSink& sink;
};

void seq_printf(seq_file* m, const char* fmt, ...) FW_PRINTF(2, 3);
void seq_vprintf(seq_file* m, const char* fmt, va_list ap);
void seq_puts(seq_file* m, const char* s);

}  // namespace fw
