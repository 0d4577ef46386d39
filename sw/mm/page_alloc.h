// The page allocator's front end (Linux mm/page_alloc.c: __alloc_pages,
// get_page_from_freelist, rmqueue, __alloc_pages_slowpath, __free_pages,
// prep_new_page, compound pages; mm/mm_init.c: memblock_free_all).
//
// An allocation walks the preferred node's zonelist from the highest zone
// its GFP flags allow, taking the first zone whose low watermark (with the
// lowmem reserve for the request's highest zone) holds, first with
// ALLOC_NOFRAGMENT (when the local zones include ZONE_NORMAL and DMA32) and
// then without. Orders up to 3 and pageblock order come from the per-CPU
// lists. Failing that, the slow path wakes the per-node kswapd hook,
// retries at the min watermark, and below it enters the direct path: drain
// the per-CPU lists and high-atomic reserves, compact (async first, then
// sync), retry as Linux's should_compact_retry allows, and fail cleanly.
// __GFP_NOFAIL never fails: it dips into the reserves and, when even they
// are gone, panics like an OOM with nothing to kill.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"
#include "sw/mm/internal.h"
#include "sw/mm/compaction.h"
#include "sw/mm/mmzone.h"

namespace fw {

class Memblock;

struct PageAllocStats {
  uint64_t alloc_calls = 0;     // successful allocations
  uint64_t alloc_failed = 0;
  uint64_t free_calls = 0;      // blocks given back
  uint64_t slowpath = 0;        // allocations that entered the slow path
  uint64_t direct_path = 0;     // ... and went below the min watermark into the direct path
  uint64_t boot_free_pages = 0; // free pages (per-CPU lists included) when boot finished
  uint64_t alloc_order[NR_PAGE_ORDERS] = {};
};

class PageAlloc {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Boot: gives every free memblock range to the buddy allocator in the
  // largest aligned blocks, cut at zone boundaries (Linux memblock_free_all).
  void free_bootmem(hal::Hal& h, const Memblock& mb);
  void free_boot_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn);
  // Boot finished: the free count now is the reference for leaks.
  void boot_done();

  // nid: preferred node, NUMA_NO_NODE (-1) for the calling CPU's node.
  // Returns the first page of a 2^order block with refcount 1, or nullptr.
  page* alloc_pages(hal::Hal& h, gfp_t gfp, unsigned order, int nid = -1);
  // Drops the reference of a block from alloc_pages; frees it at zero.
  void free_pages(hal::Hal& h, page* p, unsigned order);
  // Drops a reference of a (possibly compound) page: Linux put_page.
  void put_page(hal::Hal& h, page* p);
  // Frees a block whose references are already gone (migration, compaction).
  void free_frozen_pages(hal::Hal& h, page* p, unsigned order);

  // Physical-address conveniences: 0 on failure.
  uint64_t alloc_phys(hal::Hal& h, gfp_t gfp, unsigned order, int nid = -1);
  void free_phys(hal::Hal& h, uint64_t pa, unsigned order);

  // The allocator's own steps, for compaction and CMA.
  // get_page_from_freelist: returns a block from the first zone of ac's
  // zonelist that passes its watermark check under alloc_flags, or nullptr.
  page* get_page_from_freelist(hal::Hal& h, gfp_t gfp, unsigned order, unsigned alloc_flags,
                               const alloc_context& ac);
  // Fills *ac for a request (Linux prepare_alloc_pages). Returns false when
  // the gfp flags name no valid zone or migrate type, or no zone qualifies.
  bool prepare_alloc(hal::Hal& h, gfp_t gfp, int nid, alloc_context* ac) const;
  void prep_new_page(hal::Hal& h, page* p, unsigned order, gfp_t gfp);
  static void prep_compound_page(page* p, unsigned order);
  // Takes a free block out of the buddy lists as an allocated page of
  // refcount 0 (Linux __isolate_free_page); false when it would break the
  // min watermark.
  bool isolate_free_page(zone* z, page* p, uint64_t pfn, unsigned order, bool check_wmark);
  // Memory failure (Linux take_page_off_buddy / put_page_back_buddy /
  // is_free_buddy_page): returns true when p is in a free buddy block now
  // (zone lock taken here); takes p alone out of its free block, the rest of
  // the block going back as smaller free blocks, leaving p with refcount 1
  // owned by nobody (how this allocator keeps a poisoned page: see
  // free_poisoned); returns false when p is not free in the buddy lists.
  bool is_free_buddy_page(hal::Hal& h, page* p);
  bool take_page_off_buddy(hal::Hal& h, page* p);
  // Reserves / unreserves high-atomic pageblocks (Linux
  // reserve_highatomic_pageblock / unreserve_highatomic_pageblock).
  void reserve_highatomic_pageblock(hal::Hal& h, page* p, zone* z);
  // Unreserve: returns true when a high-atomic pageblock went back to ac's
  // migrate type (force: even the last one of a zone).
  bool unreserve_highatomic_pageblock(hal::Hal& h, const alloc_context& ac, bool force);

  // Free pages: buddy lists plus per-CPU lists (the page allocator's
  // whole free memory; MemFree in meminfo counts the buddy lists only).
  uint64_t nr_free_pages() const;
  uint64_t nr_free_blocks(unsigned order) const;
  const PageAllocStats& stats() const { return stats_; }
  uint64_t min_free_pages() const;
  // The page allocator as a whole under "<prefix>.": free pages (buddy
  // and per-CPU lists), its calls, the buddy lists' counters, per order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Returns a block after waking kswapd, retrying below the low watermark,
  // compacting and using the reserves as gfp allows, or nullptr (mirrors
  // Linux's __alloc_pages_slowpath).
  page* alloc_slowpath(hal::Hal& h, gfp_t gfp, unsigned order, alloc_context& ac);
  // Direct reclaim, then the per-CPU lists and high-atomic reserves given
  // back (Linux __alloc_pages_direct_reclaim). Returns a block or nullptr;
  // *progress: the pages reclaimed; *drained: the lists were given back.
  page* direct_reclaim(hal::Hal& h, gfp_t gfp, unsigned order, unsigned alloc_flags, const alloc_context& ac,
                       bool* drained, uint64_t* progress);
  // Direct reclaim that freed nothing while pages of the request's nodes
  // are under writeback waits for a batch of them to complete, or HZ/10 of
  // simulated time (Linux reclaim_throttle, VMSCAN_THROTTLE_WRITEBACK,
  // which 6.18 calls inside vmscan).
  void reclaim_throttle(hal::Hal& h, const alloc_context& ac);
  // Returns true when another round of reclaim may let the request pass
  // the min watermark of a zone: reclaimable plus free pages would, and
  // fewer than MAX_RECLAIM_RETRIES rounds in a row freed nothing (else
  // the last high-atomic reserve is given back first; true if one was).
  // Linux should_reclaim_retry.
  bool should_reclaim_retry(hal::Hal& h, unsigned order, const alloc_context& ac, unsigned alloc_flags,
                            bool did_some_progress, int* no_progress_loops);
  // Returns true when another compaction round (possibly at a stronger
  // priority, *prio lowered) is worth it (Linux should_compact_retry).
  bool should_compact_retry(unsigned order, compact_result cresult, compact_priority* prio,
                            int* compaction_retries) const;
  // The OOM killer's turn (Linux __alloc_pages_may_oom). Returns a block
  // (high watermark, or the reserves for __GFP_NOFAIL after a kill) or
  // nullptr; *progress: a process was killed or a victim is dying.
  page* may_oom(hal::Hal& h, gfp_t gfp, unsigned order, const alloc_context& ac, bool* progress);
  // __GFP_NOFAIL after everything failed: the reserves, drains and full
  // compaction; panics when even that finds nothing. Returns a block.
  page* nofail_fallback(hal::Hal& h, gfp_t gfp, unsigned order, const alloc_context& ac);
  // Returns a block of z from the per-CPU lists or the buddy lists, counted
  // in the zone's statistics, or nullptr (Linux rmqueue).
  page* rmqueue(hal::Hal& h, const alloc_context& ac, zone* z, unsigned order, gfp_t gfp, unsigned alloc_flags);
  // Returns a block from z's buddy lists, using the high-atomic reserve when
  // the flags allow, or nullptr (Linux rmqueue_buddy).
  page* rmqueue_buddy(hal::Hal& h, zone* z, unsigned order, unsigned alloc_flags, unsigned mt);
  // Returns the ALLOC_* flags of a request (Linux gfp_to_alloc_flags).
  unsigned gfp_to_alloc_flags(gfp_t gfp, unsigned order) const;
  // Returns ALLOC_KSWAPD when the request may wake kswapd, plus
  // ALLOC_NOFRAGMENT when z is a Normal zone whose fallbacks should take
  // whole pageblocks (Linux alloc_flags_nofragment).
  unsigned alloc_flags_nofragment(const zone* z, gfp_t gfp) const;
  // Checks a block being freed and clears its state (Linux
  // free_pages_prepare). Returns false when it holds poison and was taken out
  // of use instead.
  bool free_pages_prepare(hal::Hal& h, page* p, unsigned order);
  void free_poisoned(hal::Hal& h, page* p, unsigned order);
  void zone_statistics(const zone* preferred, zone* z, unsigned cpu_nid);
  void warn_alloc(hal::Hal& h, gfp_t gfp, unsigned order, int nid);
  void wake_all_kswapds(hal::Hal& h, unsigned order, gfp_t gfp, const alloc_context& ac);

  MmContext* ctx_ = nullptr;
  bool booted_ = false;
  unsigned fail_reports_ = 0;
  bool in_reclaim_[hal::kMaxCpus] = {};  // the CPU is in direct reclaim (Linux PF_MEMALLOC)
  PageAllocStats stats_;
};

}  // namespace fw
