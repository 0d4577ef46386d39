// Reclaim (Linux mm/vmscan.c, classic LRU, no memory cgroups): shrink_node
// scans a node's LRU lists (sw/mm/lru) by priority, from DEF_PRIORITY (a
// 4096th of each list) down to 0 (all of it), balancing anonymous and file
// pages by swappiness and the cost of each (get_scan_count); the active
// lists are aged into the inactive ones when these run low
// (inactive_is_low), and pages at the inactive tails are reclaimed unless
// their PTEs' Accessed bits (folio_referenced, through the reverse map)
// say they are in use. Clean page-cache pages are dropped leaving a
// workingset shadow; dirty ones are marked PG_reclaim and left to the
// flusher (6.18's reclaim no longer writes file pages itself); anonymous
// pages go to swap through the swap cache (sw/mm/swap_state) once unmapped
// (try_to_unmap writes swap entries in their PTEs); each round ends with
// the shrinkers (sw/mm/shrinker: shrink_slab). Without swap,
// anonymous pages are not scanned at all, as in Linux. Shared-memory
// pages (on the anonymous lists) go to swap too, through shmem_writeout
// (sw/mm/shmem): the object keeps the swap entry.
//
// kswapd, the per-node background reclaimer (wakeup_kswapd,
// balance_pgdat, kswapd_try_to_sleep): an allocation that finds a zone
// below its low watermark, or a fragmenting fallback that boosted a zone's
// watermarks, wakes its node's kswapd, which reclaims until a usable zone
// meets its high watermark (boosted reclaim: until the boost is reclaimed,
// without swapping or writing), naps 100 ms and sleeps if still balanced
// (kswapd_low/high_wmark_hit_quickly count the naps cut short). After
// MAX_RECLAIM_RETRIES runs without progress the node is hopeless and
// kswapd leaves it alone until reclaim makes progress again. Runs as
// deferred work from a timer tick of a CPU of the node.
//
// Direct reclaim (try_to_free_pages) is what the allocator's slow path
// calls below the min watermark; reclaim_pages serves MADV_PAGEOUT.
// Counters: vmstat's pgscan_*, pgsteal_*, pgrefill, pgactivate,
// pgdeactivate, pgrotated, allocstall_*, pageoutrun,
// kswapd_*_wmark_hit_quickly, nr_isolated_*, nr_vmscan_*.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/swap.h"

namespace fw {

constexpr unsigned MAX_RECLAIM_RETRIES = 16;

struct alloc_context;
struct list_head;

// What one reclaim pass may do and has done (Linux struct scan_control).
struct scan_control {
  uint64_t nr_to_reclaim = 0;
  gfp_t gfp_mask = 0;
  unsigned order = 0;
  int priority = DEF_PRIORITY;
  unsigned reclaim_idx = MAX_NR_ZONES - 1;  // the highest zone whose pages count
  bool kswapd = false;                      // current_is_kswapd(): pgscan_kswapd, dirty-page handling
  bool may_writepage = true;
  bool may_unmap = true;
  bool may_swap = true;
  unsigned may_deactivate = 0;  // DEACTIVATE_ANON | DEACTIVATE_FILE
  bool force_deactivate = false;
  bool skipped_deactivate = false;
  bool cache_trim_mode = false;
  bool cache_trim_mode_failed = false;
  bool no_cache_trim_mode = false;
  bool file_is_tiny = false;
  bool compaction_ready = false;
  uint64_t anon_cost = 0, file_cost = 0;
  uint64_t nr_scanned = 0;
  uint64_t nr_reclaimed = 0;
  struct {
    uint64_t dirty, unqueued_dirty, congested, writeback, immediate, file_taken, taken;
  } nr = {};
};
constexpr unsigned DEACTIVATE_ANON = 1;
constexpr unsigned DEACTIVATE_FILE = 2;

// What shrink_folio_list met (Linux struct reclaim_stat).
struct reclaim_stat {
  uint64_t nr_dirty, nr_unqueued_dirty, nr_congested, nr_writeback, nr_immediate, nr_pageout;
  uint64_t nr_activate[2];
  uint64_t nr_ref_keep, nr_unmap_fail;
};

// Reclaim proper: what the allocator's slow path, madvise and kswapd ask of it.
class Vmscan {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Direct reclaim for an allocation of 2^order pages that failed below
  // the min watermark (Linux try_to_free_pages): SWAP_CLUSTER_MAX pages
  // from the zonelist's nodes, priority by priority; counts allocstall_*.
  // Returns the pages reclaimed.
  uint64_t try_to_free_pages(hal::Hal& h, gfp_t gfp, unsigned order, const alloc_context& ac);
  // MADV_PAGEOUT: reclaims the isolated pages on `pages` (linked by
  // page->lru, each holding the isolation reference: Lru::isolate_lru or
  // Lru::isolate), references ignored, putting back what cannot be
  // reclaimed (Linux reclaim_pages). Returns the pages reclaimed.
  uint64_t reclaim_pages(hal::Hal& h, list_head* pages);
  // Returns the pages of z reclaim could free: file LRU pages, and
  // anonymous ones while swap has room (Linux zone_reclaimable_pages).
  uint64_t zone_reclaimable_pages(const zone* z) const;

  // Reclaims from node pg as sc says (Linux shrink_node): kswapd's and
  // direct reclaim's step.
  void shrink_node(hal::Hal& h, pglist_data& pg, scan_control& sc);
  // Ages the active anonymous list when it outgrows the inactive one and
  // swap could take its pages (Linux kswapd_age_node).
  void age_node(hal::Hal& h, pglist_data& pg, scan_control& sc);
  // Remembers the refault counters reclaim compares against next time
  // (Linux snapshot_refaults).
  void snapshot_refaults(pglist_data& pg) const;
  // Reclaims the isolated pages on `folios` (linked by lru, PG_lru clear,
  // each holding a reference), leaving on the list what it kept (Linux
  // shrink_folio_list). Returns the pages reclaimed.
  uint64_t shrink_folio_list(hal::Hal& h, list_head* folios, pglist_data& pg, scan_control& sc, reclaim_stat* stat,
                             bool ignore_references);
  // Puts isolated pages back on their lists (or frees those whose last
  // reference this was), culling mlocked ones to the unevictable list.
  // Returns the evictable pages put on lists (Linux move_folios_to_lru).
  unsigned move_folios_to_lru(hal::Hal& h, list_head* list);

 private:
  enum class FolioRef { reclaim, reclaim_clean, keep, activate };
  enum class Verdict { freed, keep, activate };
  // shrink_folio_list's decisions for one isolated page, in Linux's order.
  Verdict shrink_one(hal::Hal& h, page* p, pglist_data& pg, scan_control& sc, reclaim_stat* stat,
                     bool ignore_references);
  // The part after references and unmapping: writing and freeing.
  Verdict shrink_unmapped(hal::Hal& h, page* p, pglist_data& pg, scan_control& sc, reclaim_stat* stat, FolioRef ref);
  // pageout() of a swap-cache page. Returns the verdict it leads to.
  Verdict pageout(hal::Hal& h, page* p, reclaim_stat* stat);
  bool can_reclaim_anon_pages() const;
  void prepare_scan_control(pglist_data& pg, scan_control& sc);
  void get_scan_count(pglist_data& pg, const scan_control& sc, uint64_t* nr);
  void shrink_lruvec(hal::Hal& h, pglist_data& pg, scan_control& sc);
  uint64_t shrink_list(hal::Hal& h, lru_list lru, uint64_t nr_to_scan, pglist_data& pg, scan_control& sc);
  void shrink_active_list(hal::Hal& h, uint64_t nr_to_scan, pglist_data& pg, scan_control& sc, lru_list lru);
  uint64_t shrink_inactive_list(hal::Hal& h, uint64_t nr_to_scan, pglist_data& pg, scan_control& sc, lru_list lru);
  uint64_t isolate_lru_folios(hal::Hal& h, uint64_t nr_to_scan, pglist_data& pg, list_head* dst,
                              uint64_t* nr_scanned, const scan_control& sc, lru_list lru);
  FolioRef folio_check_references(hal::Hal& h, page* p);
  // Gives anonymous p a swap slot, splitting a THP first (Linux
  // folio_alloc_swap with its split fallback). False: keep it.
  bool folio_alloc_swap(hal::Hal& h, page* p, pglist_data& pg);
  // The last step for a clean, unmapped page: out of the page or swap
  // cache with a shadow (Linux __remove_mapping). False when someone else
  // still holds it.
  bool remove_mapping(hal::Hal& h, page* p);
  bool should_continue_reclaim(const pglist_data& pg, uint64_t nr_reclaimed, const scan_control& sc) const;
  bool compaction_ready(const zone* z, const scan_control& sc) const;
  void shrink_zones(hal::Hal& h, const alloc_context& ac, scan_control& sc);
  uint64_t do_try_to_free_pages(hal::Hal& h, const alloc_context& ac, scan_control& sc);

  MmContext* ctx_ = nullptr;
};

struct KswapdStats {
  uint64_t wakeups = 0;
  uint64_t runs = 0;
  uint64_t boosts_cleared = 0;
};

class Kswapd {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  void wakeup_kswapd(hal::Hal& h, zone* z, gfp_t gfp, unsigned order, unsigned highest_zoneidx);
  // The node's kswapd at a timer tick: ends a nap that is over (asleep if
  // still balanced, back to work if not), and runs if woken.
  void tick(hal::Hal& h, pglist_data& pg);
  // The kswapd loop: balance_pgdat for the order and zone the wakeups
  // asked for, then kswapd_try_to_sleep, again while the node is neither
  // balanced nor hopeless (up to kRoundsPerTick rounds a tick).
  void run(hal::Hal& h, pglist_data& pg);
  // Returns true when a usable zone of the node up to highest_zoneidx meets
  // its high watermark for order (or none is usable) (Linux pgdat_balanced).
  bool pgdat_balanced(const pglist_data& pg, unsigned order, unsigned highest_zoneidx) const;
  // The direct path's share of kswapd's work: Linux's direct reclaim would
  // reclaim up to the boosted watermarks; with nothing to reclaim the boost
  // ends at once (and kcompactd is asked for pageblocks). True when a
  // boost was cleared.
  bool end_boost(hal::Hal& h, pglist_data& pg);

  const KswapdStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Reclaims until the node is balanced at order (Linux balance_pgdat).
  // Returns the order it ended at (0 once enough was reclaimed for compaction).
  unsigned balance_pgdat(hal::Hal& h, pglist_data& pg, unsigned order, unsigned highest_zoneidx);
  // One priority round's reclaim; true when it reclaimed (or scanned) its
  // target (Linux kswapd_shrink_node).
  bool kswapd_shrink_node(hal::Hal& h, pglist_data& pg, scan_control& sc);
  // Returns true when kswapd may sleep: the node is balanced or hopeless
  // (Linux prepare_kswapd_sleep).
  bool prepare_kswapd_sleep(pglist_data& pg, unsigned order, unsigned highest_zoneidx) const;
  // Naps when the node may sleep; otherwise counts the premature wakeup.
  // Returns true when napping (Linux kswapd_try_to_sleep).
  bool try_to_sleep(hal::Hal& h, pglist_data& pg, unsigned alloc_order, unsigned reclaim_order,
                    unsigned highest_zoneidx);
  static constexpr unsigned kRoundsPerTick = 64;

  MmContext* ctx_ = nullptr;
  KswapdStats stats_;
  // What a napping kswapd checks when the nap ends, per node.
  unsigned nap_order_[hal::kMaxNodes] = {};
  unsigned nap_zoneidx_[hal::kMaxNodes] = {};
};

}  // namespace fw
