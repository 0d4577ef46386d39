// Pinning user pages for DMA (Linux mm/gup.c: pin_user_pages,
// unpin_user_pages; FOLL_PIN). A pin adds GUP_PIN_COUNTING_BIAS to the
// page's (its folio head's) reference count, so page_maybe_dma_pinned()
// sees it; compaction does not isolate, and migration does not move, a
// pinned page until it is unpinned (Linux's folio_maybe_dma_pinned checks).
// Departure: large folios are counted on the head's refcount too (Linux
// keeps a separate _pincount for them).
//
// Users: the DMA engine driver (sw/drivers/dma) for dma_copy on user
// buffers; compaction and migration (the pinned check).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/page.h"

namespace fw {

struct mm_struct;

constexpr int GUP_PIN_COUNTING_BIAS = 1024;
constexpr unsigned FOLL_WRITE = 0x01;  // the device will write the pages

// Returns true when the page may be pinned for DMA (folio_maybe_dma_pinned).
inline bool page_maybe_dma_pinned(const page* p) { return page_ref_count(compound_head(p)) >= GUP_PIN_COUNTING_BIAS; }

struct GupStats {
  uint64_t pin_acquired = 0;  // nr_foll_pin_acquired
  uint64_t pin_released = 0;  // nr_foll_pin_released
  uint64_t pin_failed = 0;    // pin_user_pages calls that failed
};

class Gup {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }
  // Pins the nr_pages pages from `start` (page aligned) of mm, faulting in
  // what is not present (for writing with FOLL_WRITE). Returns nr_pages
  // with pages[] filled, or -EFAULT (an address is not mapped with the
  // access asked) or -ENOMEM; on failure nothing stays pinned.
  long pin_user_pages(hal::Hal& h, mm_struct* mm, uint64_t start, unsigned long nr_pages, unsigned gup_flags,
                      page** pages);
  // Drops the pins; `dirty` marks the pages dirty (the device wrote them).
  void unpin_user_pages(hal::Hal& h, page** pages, unsigned long nr_pages, bool dirty);

  // The page mapped at va, faulted in first when needed (for writing with
  // write); nullptr on failure (*err set). No reference is taken: the
  // caller holds mmap_lock (also the page cache's user copies).
  page* follow_page(hal::Hal& h, mm_struct* mm, uint64_t va, bool write, int* err);

  const GupStats& stats() const { return stats_; }
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:

  MmContext* ctx_ = nullptr;
  GupStats stats_;
};

}  // namespace fw
