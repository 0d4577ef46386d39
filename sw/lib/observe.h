// What the firmware offers observers: the statistics visitor and text sink
// of its debug interface (sw/hal/debug.h), under the firmware's namespace,
// and the helpers every subsystem uses to visit its own statistics
// (Kernel::visit_stats calls each subsystem's visit_stats in turn).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/debug.h"
#include "sw/lib/format.h"

namespace fw {

using StatVisitor = hal::StatVisitor;
using TextSink = hal::TextSink;

// One counter of a subsystem's statistics struct S: its name (relative to
// the subsystem's prefix), the member, what it counts and its unit. A
// subsystem lists its counters in such a table beside its visit_stats, the
// way Linux's mm/vmstat.c names its counters in vmstat_text[].
template <typename S>
struct StatDesc {
  const char* name;
  uint64_t S::*member;
  const char* desc;
  const char* unit;
};

// Returns the number of entries of a statistics table, for the compile-time
// check that it names every counter of its struct:
//   static_assert(stat_table_size(table) == sizeof(S) / sizeof(uint64_t), ...);
template <typename S, size_t N>
constexpr size_t stat_table_size(const StatDesc<S> (&)[N]) {
  return N;
}

// Hands statistics to a visitor under "prefix." ("tlb" + "invlpg" is
// "tlb.invlpg"; an empty prefix adds nothing).
class StatEmitter {
 public:
  static constexpr size_t kNameMax = 128;  // longer names are cut

  StatEmitter(StatVisitor& v, const char* prefix) : v_(v), prefix_(prefix ? prefix : "") {}

  void operator()(const char* name, uint64_t value, const char* desc, const char* unit) const;
  // A name built with printf-style arguments.
  template <typename... A>
  void fmt(uint64_t value, const char* desc, const char* unit, const char* name_fmt, A... args) const {
    char name[kNameMax];
    const size_t n = start_name(name);
    fw::snprintf(name + n, sizeof name - n, name_fmt, args...);
    v_.scalar(name, value, desc, unit);
  }
  // Every counter of a table, in the table's order.
  template <typename S, size_t N>
  void table(const S& s, const StatDesc<S> (&t)[N]) const {
    for (size_t i = 0; i < N; ++i) (*this)(t[i].name, s.*(t[i].member), t[i].desc, t[i].unit);
  }

 private:
  // Writes "prefix." into name; returns its length.
  size_t start_name(char* name) const;

  StatVisitor& v_;
  const char* prefix_;
};

}  // namespace fw
