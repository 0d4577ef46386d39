// A firmware for in-process system tests: the Kernel, with a test body run
// on the boot CPU once it has booted (the disks probed, swap on), before
// any process. Used by tb/system/blockdev_test.cpp and swap_system_test.cpp.
#pragma once

#include <functional>

#include "sw/hal/firmware.h"
#include "sw/kernel/kernel.h"

namespace tbtest {

struct BootBodyFirmware final : hal::Firmware {
  fw::Kernel& k;
  std::function<void(hal::Hal&)> body;
  explicit BootBodyFirmware(fw::Kernel& kernel) : k(kernel) {}
  bool boot(hal::Hal& h, const hal::BootInfo& bi) override {
    if (!k.boot(h, bi)) return false;
    if (body) body(h);
    return true;
  }
  void start_secondary(hal::Hal& h) override { k.start_secondary(h); }
  int spawn(hal::Hal& h, const char* n, unsigned cpu, void* u) override { return k.spawn(h, n, cpu, u); }
  hal::RunTask schedule(hal::Hal& h) override { return k.schedule(h); }
  void timer_tick(hal::Hal& h) override { k.timer_tick(h); }
  hal::TrapOutcome page_fault(hal::Hal& h, hal::vaddr_t a, uint32_t e) override { return k.page_fault(h, a, e); }
  hal::TrapOutcome machine_check(hal::Hal& h, const hal::MachineCheck& mc) override { return k.machine_check(h, mc); }
  hal::TrapOutcome general_protection(hal::Hal& h, hal::vaddr_t a) override { return k.general_protection(h, a); }
  void interrupt(hal::Hal& h, uint8_t v) override { k.interrupt(h, v); }
  int64_t syscall(hal::Hal& h, const hal::SyscallArgs& a) override { return k.syscall(h, a); }
};

}  // namespace tbtest
