// Progress lines on long runs: every few seconds of host time, one line on
// stderr with the simulated time reached and the live processes. Wakes on
// simulated time only, so it never changes what is simulated.
#pragma once

#include <chrono>
#include <ostream>

#include <systemc>

#include "hw/cpu/core.h"

namespace sim {

class Progress : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Progress);
  Progress(sc_core::sc_module_name name, hw::CoreComplex& cx, std::ostream& os,
           double every_host_seconds = 5.0)
      : sc_module(name), cx_(cx), os_(os), every_(every_host_seconds), start_(std::chrono::steady_clock::now()),
        last_(start_) {
    SC_THREAD(run);
  }

 private:
  void run() {
    for (;;) {
      sc_core::wait(sc_core::sc_time(100, sc_core::SC_US));
      const auto now = std::chrono::steady_clock::now();
      if (std::chrono::duration<double>(now - last_).count() < every_) continue;
      last_ = now;
      os_ << "mmcosim: simulated " << sc_core::sc_time_stamp().to_seconds() * 1e3 << " ms in "
          << std::chrono::duration<double>(now - start_).count() << " s; " << cx_.live_programs()
          << " process(es) running\n";
      os_.flush();
    }
  }
  hw::CoreComplex& cx_;
  std::ostream& os_;
  double every_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace sim
