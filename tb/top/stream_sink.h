// The firmware's text (/proc files, its log) written to a C++ stream: the
// outputs writer and the monitor hand it to hal::FirmwareDebug.
#pragma once

#include <cstddef>
#include <ostream>

#include "sw/hal/debug.h"

namespace sim {

class StreamSink final : public hal::TextSink {
 public:
  explicit StreamSink(std::ostream& os) : os_(os) {}
  void write(const char* text, size_t len) override { os_.write(text, static_cast<std::streamsize>(len)); }

 private:
  std::ostream& os_;
};

}  // namespace sim
