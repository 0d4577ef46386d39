#include "sw/rt/bare_hal.h"

#include "sw/lib/string.h"
#include "sw/rt/rt.h"

namespace rt {

alignas(x86::PAGE_SIZE) uint8_t BareHal::memory_[BareHal::kMemBytes];

void* BareHal::direct_map(hal::paddr_t pa, uint64_t len) { return in_range(pa, len) ? memory_ + pa : nullptr; }

hal::MemStatus BareHal::phys_read(hal::paddr_t pa, void* dst, uint64_t len) {
  if (!in_range(pa, len)) return hal::MemStatus::address_error;
  fw::mem_copy(dst, memory_ + pa, len);
  return hal::MemStatus::ok;
}

hal::MemStatus BareHal::phys_write(hal::paddr_t pa, const void* src, uint64_t len) {
  if (!in_range(pa, len)) return hal::MemStatus::address_error;
  fw::mem_copy(memory_ + pa, src, len);
  return hal::MemStatus::ok;
}

hal::MemStatus BareHal::phys_fill(hal::paddr_t pa, uint8_t value, uint64_t len) {
  if (!in_range(pa, len)) return hal::MemStatus::address_error;
  fw::mem_set(memory_ + pa, value, len);
  return hal::MemStatus::ok;
}

hal::MemStatus BareHal::phys_copy(hal::paddr_t dst, hal::paddr_t src, uint64_t len) {
  if (!in_range(dst, len) || !in_range(src, len)) return hal::MemStatus::address_error;
  fw::mem_move(memory_ + dst, memory_ + src, len);
  return hal::MemStatus::ok;
}

void BareHal::console(const char* text, size_t len) { rt::write(1, text, len); }

void BareHal::halt(const char* reason) {
  rt::puts("fw_freestanding_boot: halted: ");
  rt::puts(reason ? reason : "");
  rt::puts("\n");
  rt::exit(3);
}

}  // namespace rt
