// Debug flags in gem5's style: `--debug-flags=TLB,Walker` turns on one line
// per event from the models that test that flag. Each model defines its
// flags in the .cpp that prints them (as gem5's DebugFlag beside the code),
// and declares in its header those that other files print:
//
//   SIM_DEBUG_FLAG(TLB, "TLB lookups that miss, fills, evictions and invalidations");  // tlb.cpp
//   SIM_DECLARE_DEBUG_FLAG(TLB)                                                         // tlb.h
//   DPRINTF(TLB, sim::now_ps(delay), name(), "miss va={:#x}", va);
//
// The name a line gives (`who`) is the model's as stats.txt has it: its
// statistics group's path(), which is its SystemC name() only where the two
// trees agree (a DRAM node is system.mem.node0 in both, not system.node0).
//
// `mmcosim debug-flags` lists every flag linked into the program, by name.
// A disabled flag costs one predictable branch on a bool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace sim::trace {
class Sink;
}

namespace sim::debug {

class Flag {
 public:
  Flag(const char* name, const char* desc);
  const char* name() const { return name_; }
  const char* desc() const { return desc_; }
  bool enabled = false;
  // The timeline recording this flag's events (hw/base/trace.h); null when
  // not recorded, so a model's test of it is one pointer test.
  trace::Sink* trace = nullptr;

 private:
  const char* name_;
  const char* desc_;
};

// All flags, sorted by name.
const std::vector<Flag*>& all_flags();
// Enables a comma-separated list ("TLB,Walker" or "All"); returns the first
// unknown name, or "" when every name was known.
std::string enable(const std::string& list);
// Calls fn(flag) for every flag a comma-separated list names ("All": every
// flag). Returns the first unknown name, or "" when every name was known.
template <typename Fn>
std::string for_each_named(const std::string& list, Fn&& fn);
void disable_all();

// Prints "<tick>: <who>: <message>" on the debug stream (stdout).
void vprint(uint64_t tick_ps, const char* who, fmt::string_view format, fmt::format_args args);

template <typename... Args>
void print(uint64_t tick_ps, const char* who, fmt::format_string<Args...> format, Args&&... args) {
  vprint(tick_ps, who, format, fmt::make_format_args(args...));
}

// Returns the flags a comma-separated list names, or the first unknown name
// in `unknown`.
std::vector<Flag*> named(const std::string& list, std::string& unknown);

template <typename Fn>
std::string for_each_named(const std::string& list, Fn&& fn) {
  std::string unknown;
  for (Flag* f : named(list, unknown)) fn(*f);
  return unknown;
}

}  // namespace sim::debug

// Defines the flag `name` (sim::debug::name), at file scope in a model's .cpp.
#define SIM_DEBUG_FLAG(name, desc) \
  namespace sim::debug {           \
  Flag name(#name, desc);          \
  }
// Declares a flag defined in another file (at file scope, in the header of
// the model that defines it).
#define SIM_DECLARE_DEBUG_FLAG(name) \
  namespace sim::debug {             \
  extern Flag name;                  \
  }

#define DPRINTF(flag, tick_ps, who, ...)                                  \
  do {                                                                    \
    if (__builtin_expect(::sim::debug::flag.enabled, 0))                  \
      ::sim::debug::print((tick_ps), (who), __VA_ARGS__);                 \
  } while (0)
