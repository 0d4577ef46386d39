// Debug flags in gem5's style: `--debug-flags=TLB,Walker` turns on one line
// per event from the models that test that flag:
//
//   DPRINTF(TLB, tick_ps, "system.cpu0.mmu.dtlb", "miss va={:#x}", va);
//
// A disabled flag costs one predictable branch on a bool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace sim::debug {

class Flag {
 public:
  Flag(const char* name, const char* desc);
  const char* name() const { return name_; }
  const char* desc() const { return desc_; }
  bool enabled = false;

 private:
  const char* name_;
  const char* desc_;
};

// All flags, in registration order.
const std::vector<Flag*>& all_flags();
// Enables a comma-separated list ("TLB,Walker" or "All"); returns the first
// unknown name, or "" when every name was known.
std::string enable(const std::string& list);
void disable_all();

// Prints "<tick>: <who>: <message>" on the debug stream (stdout).
void vprint(uint64_t tick_ps, const char* who, fmt::string_view format, fmt::format_args args);

template <typename... Args>
void print(uint64_t tick_ps, const char* who, fmt::format_string<Args...> format, Args&&... args) {
  vprint(tick_ps, who, format, fmt::make_format_args(args...));
}

// The flags of the platform's models (defined in debug.cpp).
extern Flag TLB, Walker, PWC, Fault, MMU, DRAM, Core, Firmware, Intc, DMA, Lockstep, Syscall;

}  // namespace sim::debug

#define DPRINTF(flag, tick_ps, who, ...)                                  \
  do {                                                                    \
    if (__builtin_expect(::sim::debug::flag.enabled, 0))                  \
      ::sim::debug::print((tick_ps), (who), __VA_ARGS__);                 \
  } while (0)
