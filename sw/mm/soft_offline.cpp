// soft_offline_page() and unpoison_memory() (Linux mm/memory-failure.c,
// second half). See memory_failure.h.
//
// Interim body (the contract's "nothing handled yet" state): neither is
// supported.
#include "sw/lib/errno.h"
#include "sw/mm/memory_failure.h"

namespace fw {

int MemoryFailure::soft_offline_page(hal::Hal& h, uint64_t pfn, int flags) {
  (void)h, (void)pfn, (void)flags;
  return -EOPNOTSUPP;
}

int MemoryFailure::unpoison_memory(hal::Hal& h, uint64_t pfn) {
  (void)h, (void)pfn;
  return -EOPNOTSUPP;
}

}  // namespace fw
