// LRU lists (Linux mm/swap.c folio_add_lru, folio_activate,
// folio_deactivate, folio_mark_accessed, folio_rotate_reclaimable, and
// mm/vmscan.c's lruvec helpers, folio_isolate_lru / folio_putback_lru,
// inactive_is_low): each node keeps inactive and active lists of anonymous
// (and shared-memory) pages, of page-cache pages, and an unevictable list
// of mlocked pages, with the classic two-list aging (not MGLRU): new pages
// start inactive (anonymous ones too, as since Linux 5.9), a second
// reference activates them, and reclaim (sw/mm/vmscan) deactivates pages
// from the active lists' tails and reclaims from the inactive ones' tails.
// Users: the fault path and shmem (add), the page cache (add_file,
// folio_mark_accessed), compaction and CMA (isolate/putback for
// migration), reclaim, mlock, MADV_COLD (deactivate) and writeback
// completion (rotate_reclaimable).
#pragma once

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page.h"

namespace fw {

// Returns true for a page of a file's page cache (it goes on the file lists).
bool page_is_file_lru(const page* p);
// Returns the list a page on the LRU belongs to by its flags (Linux folio_lru_list).
lru_list folio_lru_list(const page* p);

class Lru {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // A newly mapped anonymous (or shared-memory) page joins its node's
  // lists: inactive, or active when PG_active is set (a refault).
  void add(hal::Hal& h, page* p);
  // A page-cache page joins its node's file lists (inactive unless PG_active).
  void add_file(hal::Hal& h, page* p) { add(h, p); }
  // An inactive page on an LRU list moves to the active one (Linux
  // folio_activate): pgactivate, and the workingset clock ages.
  void activate(hal::Hal& h, page* p);
  // An active page moves to its inactive list's head, its referenced bit
  // cleared (Linux folio_deactivate, MADV_COLD): pgdeactivate.
  void deactivate(hal::Hal& h, page* p);
  // A page whose writeback reclaim waited for moves to its inactive list's
  // tail, to be reclaimed next (Linux folio_rotate_reclaimable): pgrotated.
  void rotate_reclaimable(hal::Hal& h, page* p);
  // A use of the page (Linux folio_mark_accessed): the first sets
  // PG_referenced, a second activates an inactive page.
  void mark_accessed(hal::Hal& h, page* p);
  // A page being freed leaves it (the last reference is gone).
  void del(hal::Hal& h, page* p);
  // Takes an anonymous page off the list for migration, with a reference;
  // false when it is not on a list (being freed, already isolated), huge
  // or a page-cache page. `file`: a page-cache page is taken too (soft
  // offline's isolate_folio_to_list; compaction leaves them alone here).
  bool isolate(hal::Hal& h, page* p, bool file = false);
  // Takes any page off its LRU list with a reference, for reclaim (Linux
  // folio_isolate_lru: no PG_isolated, no isolation counter); false when
  // it is not on a list.
  bool isolate_lru(hal::Hal& h, page* p);
  // Gives an isolated page back to its list and drops the reference.
  void putback(hal::Hal& h, page* p);
  // An isolated page that will not come back (migrated away or freed
  // meanwhile): drops the isolation state, not the reference. `file`: it
  // was a page-cache page when isolated (its mapping is gone once moved).
  void isolation_done(page* p, bool file);

  // The lruvec primitives reclaim and mlock build on; the caller holds
  // pg.lru_lock. The page's flags say which list (folio_lru_list).
  void add_locked(pglist_data& pg, page* p, bool tail);
  void del_locked(pglist_data& pg, page* p);
  // Pages on list lru of node pg (Linux lruvec_lru_size), all zones, or
  // only zones up to max_zoneidx.
  uint64_t lru_size(const pglist_data& pg, lru_list lru, unsigned max_zoneidx = MAX_NR_ZONES - 1) const;
  // Returns true when the inactive list of that type is small against its
  // active list (Linux inactive_is_low: inactive * int_sqrt(10 * GiB of
  // both) < active, ratio 1 below 1 GiB).
  bool inactive_is_low(const pglist_data& pg, lru_list inactive_lru) const;
  // Reclaim's cost of a type (Linux lru_note_cost): pages written back
  // (nr_io, weighted by SWAP_CLUSTER_MAX) and rotated, decayed by half once
  // both costs pass a quarter of the LRU.
  void note_cost(pglist_data& pg, bool file, unsigned nr_io, unsigned nr_rotated);

 private:
  void update_lru_size(pglist_data& pg, page* p, lru_list lru, int64_t nr);

  MmContext* ctx_ = nullptr;
};

}  // namespace fw
