// What the firmware offers observers (the simulator's statistics and
// monitor, tests): a visitor for scalar statistics and a text sink for
// Linux-format reports. Plain interfaces, no allocation.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace fw {

struct StatVisitor {
  // name: relative to the firmware's statistics root (the simulator prefixes
  // "system.fw."), dotted, e.g. "vmstat.pgfault". The strings are only valid
  // during the call.
  virtual void scalar(const char* name, uint64_t value, const char* desc, const char* unit) = 0;

 protected:
  ~StatVisitor() = default;
};

struct TextSink {
  virtual void write(const char* text, size_t len) = 0;

 protected:
  ~TextSink() = default;
};

}  // namespace fw
