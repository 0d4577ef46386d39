// Watermarks and reserves (Linux mm/page_alloc.c: calculate_min_free_kbytes,
// __setup_per_zone_wmarks, setup_per_zone_lowmem_reserve,
// calculate_totalreserve_pages, __zone_watermark_ok, zone_watermark_fast).
//
//   min_free_kbytes = clamp(int_sqrt(lowmem_kbytes * 16), 128, 262144)
//     lowmem_kbytes: managed pages of every zone but ZONE_MOVABLE, in KiB
//   with THP enabled (always, madvise), raised as khugepaged's
//   set_recommended_min_free_kbytes does to at least
//     min(pageblock_nr_pages * nr_zones * (2 + MIGRATE_PCPTYPES^2),
//         nr_free_buffer_pages / 20) pages
//     nr_zones: populated zones up to ZONE_NORMAL (8 GiB, 3 zones: 67584 KiB)
//   per zone: min  = pages_min * managed / lowmem_pages  (pages_min = min_free_kbytes / 4)
//             (ZONE_MOVABLE: clamp(managed / 1024, 32, 128))
//             gap  = max(min_share / 4, managed * watermark_scale_factor / 10000)
//             low  = min + gap, high = low + gap, promo = high + gap
//   lowmem_reserve[j] of zone i < j = sum of managed(i+1..j) / ratio[i]
//   a request of order o with highest zone c may use zone z when
//     free - (2^o - 1) - unusable > mark + lowmem_reserve[c]
//   and, for o > 0, a free block of order >= o exists in a usable list.
#pragma once

#include <stdint.h>

#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"
#include "sw/mm/mmzone.h"

namespace fw {

// Returns the integer square root of x, rounded down (Linux int_sqrt).
uint64_t int_sqrt(uint64_t x);

class Watermark {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Linux init_per_zone_wmark_min: min_free_kbytes, the watermarks, the
  // lowmem reserves and totalreserve_pages, then khugepaged's raise. After
  // boot frees the memory; the caller updates the per-CPU lists.
  void init_per_zone_wmark_min();
  // Returns khugepaged's recommended min_free_kbytes for THP (Linux
  // set_recommended_min_free_kbytes before the comparison).
  uint64_t recommended_min_free_kbytes() const;
  // Raises min_free_kbytes to that value when THP is enabled and it is
  // larger, and sets the watermarks again.
  void set_recommended_min_free_kbytes();
  void setup_per_zone_wmarks();
  void setup_per_zone_lowmem_reserve();
  void calculate_totalreserve_pages();

  // Returns the managed pages usable by GFP_USER, less each zone's high
  // watermark (Linux nr_free_buffer_pages).
  uint64_t nr_free_buffer_pages() const;
  uint64_t min_free_kbytes() const { return min_free_kbytes_; }
  uint64_t totalreserve_pages() const { return totalreserve_pages_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

  // The watermark checks. mark: a watermark in pages (boost included by the
  // caller through wmark_pages()). Returns true when z's free pages
  // (free_pages, default NR_FREE_PAGES) less what alloc_flags may not use
  // exceed mark (lowered for reserve rights) plus the lowmem reserve for
  // highest_zoneidx, and, for order > 0, a free block of at least that
  // order sits on a list the request may use (Linux __zone_watermark_ok).
  bool zone_watermark_ok(const zone* z, unsigned order, uint64_t mark, unsigned highest_zoneidx,
                         unsigned alloc_flags, int64_t free_pages) const;
  bool zone_watermark_ok(const zone* z, unsigned order, uint64_t mark, unsigned highest_zoneidx,
                         unsigned alloc_flags) const {
    return zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags, z->vm_stat[NR_FREE_PAGES]);
  }
  // zone_watermark_ok with an order-0 shortcut, letting __GFP_HIGH order-0
  // requests ignore the boost at the min watermark. Returns as
  // zone_watermark_ok (Linux zone_watermark_fast).
  bool zone_watermark_fast(const zone* z, unsigned order, uint64_t mark, unsigned highest_zoneidx,
                           unsigned alloc_flags, gfp_t gfp) const;

  // Return a zone's watermarks in pages, boost included.
  static uint64_t wmark_pages(const zone* z, unsigned i) { return z->_watermark[i] + z->watermark_boost; }
  static uint64_t min_wmark_pages(const zone* z) { return wmark_pages(z, WMARK_MIN); }
  static uint64_t low_wmark_pages(const zone* z) { return wmark_pages(z, WMARK_LOW); }
  static uint64_t high_wmark_pages(const zone* z) { return wmark_pages(z, WMARK_HIGH); }

 private:
  // Returns the free pages of z a request with alloc_flags may not count:
  // the order's own tail, free high-atomic pages without reserve rights,
  // free CMA pages without ALLOC_CMA (Linux __zone_watermark_unusable_free).
  int64_t unusable_free(const zone* z, unsigned order, unsigned alloc_flags) const;

  MmContext* ctx_ = nullptr;
  uint64_t min_free_kbytes_ = 0;
  uint64_t totalreserve_pages_ = 0;
};

}  // namespace fw
