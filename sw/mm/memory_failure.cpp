// memory_failure() and the kill (Linux mm/memory-failure.c, first half).
// See memory_failure.h.
//
// Interim body (the contract's "nothing handled yet" state): the page is
// marked poisoned and counted in HardwareCorrupted, so it never returns to
// the allocator; no page state is handled and nobody is signalled.
#include "sw/mm/memory_failure.h"

#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page.h"
#include "sw/mm/vmstat.h"

namespace fw {

int MemoryFailure::memory_failure(hal::Hal& h, uint64_t pfn, int flags) {
  (void)h;
  page* p = ctx_->nodes->pfn_to_page_init(pfn);
  if (!p) return -ENXIO;
  if (PageHWPoison(p)) return -EHWPOISON;
  SetPageHWPoison(p);
  ++num_poisoned_pages_;
  ctx_->vmstat->mod(page_to_nid(p), NR_HWPOISON, 1);
  if (!(flags & MF_SW_SIMULATED)) hw_memory_failure_ = true;
  return 0;
}

void MemoryFailure::visit_stats(StatVisitor& v, const char* prefix) const { (void)v, (void)prefix; }

}  // namespace fw
