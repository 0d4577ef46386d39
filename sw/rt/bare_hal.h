// A bare-metal HAL for the freestanding proof: physical memory is a static
// array, TLB maintenance only records CR3, time is a counter, the console is
// stdout through a raw write system call.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/hal.h"

namespace rt {

class BareHal final : public hal::Hal {
 public:
  static constexpr uint64_t kMemBytes = 32ull << 20;

  unsigned cpu() const override { return 0; }
  void* direct_map(hal::paddr_t pa, uint64_t len) override;
  hal::MemStatus phys_read(hal::paddr_t pa, void* dst, uint64_t len) override;
  hal::MemStatus phys_write(hal::paddr_t pa, const void* src, uint64_t len) override;
  hal::MemStatus phys_fill(hal::paddr_t pa, uint8_t value, uint64_t len) override;
  hal::MemStatus phys_copy(hal::paddr_t dst, hal::paddr_t src, uint64_t len) override;
  void set_paging_control(const hal::PagingControl& ctl) override { ctl_ = ctl; }
  void write_cr3(uint64_t value) override {
    cr3_ = value & ~x86::CR3_NOFLUSH;
    ++cr3_writes_;
  }
  uint64_t read_cr3() const override { return cr3_; }
  void invlpg(hal::vaddr_t) override { ++invlpg_; }
  void invpcid(x86::InvpcidType, uint16_t, hal::vaddr_t) override { ++invpcid_; }
  void send_ipi(unsigned, uint8_t) override {}
  hal::MemStatus mmio_read(hal::paddr_t, uint64_t& value, unsigned) override {
    value = ~0ull;
    return hal::MemStatus::address_error;
  }
  hal::MemStatus mmio_write(hal::paddr_t, uint64_t, unsigned) override { return hal::MemStatus::address_error; }
  uint64_t now_ns() const override { return now_; }
  void charge_ns(uint64_t ns) override { now_ += ns; }
  void cpu_relax() override { now_ += 10; }
  void console(const char* text, size_t len) override;
  [[noreturn]] void halt(const char* reason) override;

  uint8_t* mem(uint64_t pa) { return pa < kMemBytes ? memory_ + pa : nullptr; }
  const hal::PagingControl& paging_control() const { return ctl_; }
  uint64_t invlpg_count() const { return invlpg_; }

 private:
  bool in_range(uint64_t pa, uint64_t len) const { return pa <= kMemBytes && len <= kMemBytes - pa; }

  alignas(x86::PAGE_SIZE) static uint8_t memory_[kMemBytes];
  uint64_t cr3_ = 0;
  hal::PagingControl ctl_{};
  uint64_t now_ = 0;
  uint64_t cr3_writes_ = 0;
  uint64_t invlpg_ = 0;
  uint64_t invpcid_ = 0;
};

}  // namespace rt
