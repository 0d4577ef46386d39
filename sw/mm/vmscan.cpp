#include "sw/mm/vmscan.h"

#include "sw/kernel/params.h"
#include "sw/mm/compaction.h"
#include "sw/mm/filemap.h"
#include "sw/mm/gup.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/internal.h"
#include "sw/mm/lru.h"
#include "sw/mm/page-writeback.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/rmap.h"
#include "sw/mm/shrinker.h"
#include "sw/mm/shmem.h"
#include "sw/mm/swap_state.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/watermark.h"
#include "sw/mm/workingset.h"

namespace fw {

// ---------------------------------------------------------------- Vmscan

namespace {

bool is_file_lru(lru_list lru) { return lru == LRU_INACTIVE_FILE || lru == LRU_ACTIVE_FILE; }
bool is_active_lru(lru_list lru) { return lru == LRU_ACTIVE_ANON || lru == LRU_ACTIVE_FILE; }
// Returns true when reclaim may compact for this request (Linux gfp_compaction_allowed).
bool gfp_compaction_allowed(gfp_t gfp) { return (gfp & __GFP_IO) != 0; }
uint64_t compact_gap(unsigned order) { return 2ull << order; }
// Returns the pgscan/pgsteal offset of the reclaimer (Linux reclaimer_offset).
unsigned reclaimer_offset(const scan_control& sc) { return sc.kswapd ? 0 : 1; }
// Returns false for a page reclaim must leave on the unevictable list (Linux folio_evictable).
bool folio_evictable(const page* p) { return !PageFlag(p, PG_mlocked); }
// Returns the swappiness as the sysctl sets it.
unsigned swappiness_of(const MmContext* ctx) { return ctx->params ? ctx->params->swappiness : 60; }

}  // namespace

bool Vmscan::can_reclaim_anon_pages() const { return ctx_->swapfile->nr_swap_pages() > 0; }

uint64_t Vmscan::zone_reclaimable_pages(const zone* z) const {
  uint64_t nr = z->vm_stat[NR_ZONE_INACTIVE_FILE] + z->vm_stat[NR_ZONE_ACTIVE_FILE];
  if (can_reclaim_anon_pages()) nr += z->vm_stat[NR_ZONE_INACTIVE_ANON] + z->vm_stat[NR_ZONE_ACTIVE_ANON];
  return nr;
}

void Vmscan::snapshot_refaults(pglist_data& pg) const {
  pg.refaults[0] = static_cast<uint64_t>(ctx_->vmstat->node[pg.node_id][WORKINGSET_ACTIVATE_ANON]);
  pg.refaults[1] = static_cast<uint64_t>(ctx_->vmstat->node[pg.node_id][WORKINGSET_ACTIVATE_FILE]);
}

// ---------------------------------------------------------------- isolation

uint64_t Vmscan::isolate_lru_folios(hal::Hal& h, uint64_t nr_to_scan, pglist_data& pg, list_head* dst,
                                    uint64_t* nr_scanned, const scan_control& sc, lru_list lru) {
  Lru& lrus = *ctx_->lru;
  list_head* src = &pg.lru[lru];
  list_head skipped;
  INIT_LIST_HEAD(&skipped);
  uint64_t nr_skipped[MAX_NR_ZONES] = {};
  uint64_t total_scan = 0, scan = 0, nr_taken = 0, max_nr_skipped = 0;
  LockGuard g(pg.lru_lock, h);
  while (scan < nr_to_scan && !list_empty(src)) {
    page* p = list_entry(src->prev, page, lru);  // the tail: the oldest
    const uint64_t nr = compound_nr(p);
    total_scan += nr;
    // Pages of zones above the request's are of no use to it: set aside
    // (a bounded number, SWAP_CLUSTER_MAX_SKIPPED) and put back on top.
    if (max_nr_skipped < (SWAP_CLUSTER_MAX << 10) && page_zonenum(p) > sc.reclaim_idx) {
      nr_skipped[page_zonenum(p)] += nr;
      list_move(&p->lru, &skipped);
      ++max_nr_skipped;
      continue;
    }
    scan += nr;
    if ((!sc.may_unmap && folio_mapped(p)) || !get_page_unless_zero(p)) {
      list_move(&p->lru, src);  // rotated to the head
      continue;
    }
    lrus.del_locked(pg, p);
    list_add(&p->lru, dst);
    nr_taken += nr;
  }
  if (!list_empty(&skipped)) {
    // list_splice at the head of src, keeping their order.
    while (!list_empty(&skipped)) list_move(skipped.prev, src);
    for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi)
      if (nr_skipped[zi]) ctx_->vmstat->count(PGSCAN_SKIP_DMA + zi, nr_skipped[zi]);
  }
  *nr_scanned = total_scan;
  return nr_taken;
}

unsigned Vmscan::move_folios_to_lru(hal::Hal& h, list_head* list) {
  unsigned nr_moved = 0;
  while (!list_empty(list)) {
    page* p = list_entry(list->prev, page, lru);
    list_del(&p->lru);
    pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
    // folio_putback_lru of an mlocked page: culled to the unevictable
    // list, and not one of the pages moved (shrink_active_list counts
    // those as pgdeactivate).
    const bool evictable = folio_evictable(p);
    if (!evictable && !PageFlag(p, PG_unevictable)) {
      ClearPageFlag(p, PG_active);
      SetPageFlag(p, PG_unevictable);
      ctx_->vmstat->count(UNEVICTABLE_PGCULLED, compound_nr(p));
    }
    if (page_ref_count(p) == 1) {
      // Ours was the last reference (unmapped and dropped meanwhile).
      ClearPageFlag(p, PG_active);
      ClearPageFlag(p, PG_unevictable);
      ctx_->page_alloc->put_page(h, p);
      continue;
    }
    {
      LockGuard g(pg.lru_lock, h);
      ctx_->lru->add_locked(pg, p, false);
    }
    --p->_refcount;  // the isolation's reference; others remain
    if (evictable) nr_moved += static_cast<unsigned>(compound_nr(p));
    if (PageFlag(p, PG_active)) pg.nonresident_age += compound_nr(p);  // workingset_age_nonresident
  }
  return nr_moved;
}

// ---------------------------------------------------------------- the active lists

void Vmscan::shrink_active_list(hal::Hal& h, uint64_t nr_to_scan, pglist_data& pg, scan_control& sc, lru_list lru) {
  const bool file = is_file_lru(lru);
  list_head hold, active, inactive;
  INIT_LIST_HEAD(&hold);
  INIT_LIST_HEAD(&active);
  INIT_LIST_HEAD(&inactive);
  uint64_t nr_scanned = 0;
  const uint64_t nr_taken = isolate_lru_folios(h, nr_to_scan, pg, &hold, &nr_scanned, sc, lru);
  ctx_->vmstat->mod(pg.node_id, NR_ISOLATED_ANON + file, static_cast<int64_t>(nr_taken));
  ctx_->vmstat->count(PGREFILL, nr_scanned);
  unsigned nr_rotated = 0;
  while (!list_empty(&hold)) {
    page* p = list_entry(hold.prev, page, lru);
    list_del(&p->lru);
    if (!folio_evictable(p)) {
      list_add(&p->lru, &inactive);  // move_folios_to_lru culls it
      continue;
    }
    uint64_t vm_flags = 0;
    // Executable file pages in use stay active (the rest is deactivated
    // whatever its references: the inactive list gives a second chance).
    if (ctx_->rmap->folio_referenced(h, p, &vm_flags) && (vm_flags & VM_EXEC) && file) {
      nr_rotated += static_cast<unsigned>(compound_nr(p));
      list_add(&p->lru, &active);
      continue;
    }
    ClearPageFlag(p, PG_active);
    SetPageFlag(p, PG_workingset);
    list_add(&p->lru, &inactive);
  }
  move_folios_to_lru(h, &active);
  const unsigned nr_deactivate = move_folios_to_lru(h, &inactive);
  ctx_->vmstat->count(PGDEACTIVATE, nr_deactivate);
  ctx_->vmstat->mod(pg.node_id, NR_ISOLATED_ANON + file, -static_cast<int64_t>(nr_taken));
  ctx_->lru->note_cost(pg, file, 0, nr_rotated);
}

// ---------------------------------------------------------------- the inactive lists

uint64_t Vmscan::shrink_inactive_list(hal::Hal& h, uint64_t nr_to_scan, pglist_data& pg, scan_control& sc,
                                      lru_list lru) {
  const bool file = is_file_lru(lru);
  list_head folios;
  INIT_LIST_HEAD(&folios);
  uint64_t nr_scanned = 0;
  const uint64_t nr_taken = isolate_lru_folios(h, nr_to_scan, pg, &folios, &nr_scanned, sc, lru);
  VmStat& vs = *ctx_->vmstat;
  vs.mod(pg.node_id, NR_ISOLATED_ANON + file, static_cast<int64_t>(nr_taken));
  vs.count(PGSCAN_KSWAPD + reclaimer_offset(sc), nr_scanned);
  vs.count(PGSCAN_ANON + file, nr_scanned);
  if (!nr_taken) return 0;
  reclaim_stat stat{};
  const uint64_t nr_reclaimed = shrink_folio_list(h, &folios, pg, sc, &stat, false);
  move_folios_to_lru(h, &folios);
  vs.mod(pg.node_id, NR_ISOLATED_ANON + file, -static_cast<int64_t>(nr_taken));
  vs.count(PGSTEAL_KSWAPD + reclaimer_offset(sc), nr_reclaimed);
  vs.count(PGSTEAL_ANON + file, nr_reclaimed);
  ctx_->lru->note_cost(pg, file, static_cast<unsigned>(stat.nr_pageout),
                       static_cast<unsigned>(nr_scanned - nr_reclaimed));
  // Only dirty pages at the tail: the flusher must clean them.
  if (stat.nr_unqueued_dirty == nr_taken) ctx_->writeback->wakeup_flusher_threads(h);
  sc.nr.dirty += stat.nr_dirty;
  sc.nr.congested += stat.nr_congested;
  sc.nr.unqueued_dirty += stat.nr_unqueued_dirty;
  sc.nr.writeback += stat.nr_writeback;
  sc.nr.immediate += stat.nr_immediate;
  sc.nr.taken += nr_taken;
  if (file) sc.nr.file_taken += nr_taken;
  return nr_reclaimed;
}

Vmscan::FolioRef Vmscan::folio_check_references(hal::Hal& h, page* p) {
  uint64_t vm_flags = 0;
  const int referenced_ptes = ctx_->rmap->folio_referenced(h, p, &vm_flags);
  if (vm_flags & VM_LOCKED) return FolioRef::activate;
  const bool referenced_folio = PageFlag(p, PG_referenced);
  ClearPageFlag(p, PG_referenced);
  if (referenced_ptes) {
    SetPageFlag(p, PG_referenced);
    // A second use (the flag from an earlier pass, or several mappings),
    // or an executable file page: activate. One use: another round.
    if (referenced_folio || referenced_ptes > 1) return FolioRef::activate;
    if ((vm_flags & VM_EXEC) && page_is_file_lru(p)) return FolioRef::activate;
    return FolioRef::keep;
  }
  // Used once through read(): reclaim it, but not by writing it.
  if (referenced_folio && page_is_file_lru(p)) return FolioRef::reclaim_clean;
  return FolioRef::reclaim;
}

bool Vmscan::folio_alloc_swap(hal::Hal& h, page* p, pglist_data& pg) {
  if (PageHead(p)) {
    // No whole-THP swap-out: split it (its tails stay on the LRU for
    // later rounds) and swap its first page.
    {
      LockGuard g(pg.lru_lock, h);
      ctx_->lru->add_locked(pg, p, false);
    }
    const int rc = ctx_->huge_memory->split_huge_page(h, p);
    {
      LockGuard g(pg.lru_lock, h);
      if (PageLRU(p)) ctx_->lru->del_locked(pg, p);
    }
    if (rc) return false;
    ctx_->vmstat->count(THP_SWPOUT_FALLBACK);
  }
  if (!ctx_->swap_cache->add_to_swap(h, p)) return false;
  return true;
}

bool Vmscan::remove_mapping(hal::Hal& h, page* p) {
  // The cache's reference and ours, nothing else (Linux folio_ref_freeze(1 + nr)).
  if (page_ref_count(p) != 2 || PageFlag(p, PG_dirty) || PageFlag(p, PG_writeback)) return false;
  if (PageSwapCache(p)) {
    const uint64_t shadow = ctx_->workingset->eviction(h, p);
    ctx_->swap_cache->delete_from_swap_cache(h, p, shadow);
    ctx_->page_alloc->put_page(h, p);  // the swap cache's reference, handed to us
    return true;
  }
  if (!page_mapping_obj(p)) return false;
  // Shadows only for the file lists (a shmem page has no slot to refault into here).
  const uint64_t shadow = page_is_file_lru(p) ? ctx_->workingset->eviction(h, p) : 0;
  ctx_->filemap->delete_from_page_cache(h, p, shadow);
  return true;
}

Vmscan::Verdict Vmscan::pageout(hal::Hal& h, page* p, reclaim_stat* stat) {
  // 6.18's reclaim writes only swap (and shmem) pages: cleaned for I/O,
  // PG_reclaim so the completion rotates it to the tail. On an error the
  // swap code leaves it dirty and it is kept.
  const uint64_t nr = compound_nr(p);
  ClearPageFlag(p, PG_dirty);
  SetPageFlag(p, PG_reclaim);
  // A write that could not start (no memory for its bio) leaves the slot
  // without a copy: the page stays dirty, or reclaim would free it as clean.
  if (ctx_->swap_cache->swap_writepage(h, p) < 0) SetPageFlag(p, PG_dirty);
  if (!PageFlag(p, PG_writeback)) ClearPageFlag(p, PG_reclaim);
  ctx_->vmstat->mod(page_to_nid(p), NR_VMSCAN_WRITE, static_cast<int64_t>(nr));
  stat->nr_pageout += nr;
  if (PageFlag(p, PG_writeback) || PageFlag(p, PG_dirty)) return Verdict::keep;
  return Verdict::freed;  // written synchronously: free it now
}

Vmscan::Verdict Vmscan::shrink_one(hal::Hal& h, page* p, pglist_data& pg, scan_control& sc, reclaim_stat* stat,
                                   bool ignore_references) {
  const uint64_t nr = compound_nr(p);
  if (PageFlag(p, PG_locked) || PageHWPoison(p)) return Verdict::keep;  // a read in flight; poison is not ours
  sc.nr_scanned += nr;
  if (!folio_evictable(p)) return Verdict::activate;
  if (!sc.may_unmap && folio_mapped(p)) return Verdict::keep;
  const bool dirty = PageFlag(p, PG_dirty), writeback = PageFlag(p, PG_writeback);
  if (dirty || writeback) stat->nr_dirty += nr;
  if (dirty && !writeback) stat->nr_unqueued_dirty += nr;
  if (writeback && PageFlag(p, PG_reclaim)) stat->nr_congested += nr;
  if (writeback) {
    // Met under writeback: kswapd with the node flagged moves on;
    // otherwise it is marked to rotate to the tail when the write ends.
    if (sc.kswapd && PageFlag(p, PG_reclaim) && (pg.flags & (1ull << PGDAT_WRITEBACK))) {
      stat->nr_immediate += nr;
      return Verdict::activate;
    }
    SetPageFlag(p, PG_reclaim);
    stat->nr_writeback += nr;
    return Verdict::activate;
  }
  const FolioRef ref = ignore_references ? FolioRef::reclaim : folio_check_references(h, p);
  if (ref == FolioRef::activate) return Verdict::activate;
  if (ref == FolioRef::keep) {
    stat->nr_ref_keep += nr;
    return Verdict::keep;
  }
  const bool anon = PageAnon(p), shmem = page_is_shmem(p);
  if (anon && PageFlag(p, PG_swapbacked) && !PageSwapCache(p)) {
    if (!(sc.gfp_mask & __GFP_IO) || page_maybe_dma_pinned(p)) return Verdict::keep;
    if (!folio_alloc_swap(h, p, pg)) return Verdict::activate;
    SetPageFlag(p, PG_dirty);  // the swap slot has no copy yet
  }
  if (shmem && (!(sc.gfp_mask & __GFP_IO) || page_maybe_dma_pinned(p))) return Verdict::keep;
  // Anonymous, shared-memory, page-cache and swap-cache pages (those read
  // ahead and not mapped yet) are reclaimable; hugetlb's are not.
  if (!anon && !shmem && !page_is_file_lru(p) && !PageSwapCache(p)) return Verdict::activate;
  if (folio_mapped(p) && !ctx_->rmap->try_to_unmap(h, p)) {
    stat->nr_unmap_fail += nr;
    return Verdict::activate;
  }
  // pageout() of a shared-memory page (shmem_writeout): out of its object
  // into the swap cache, dirty, then written like an anonymous page.
  if (shmem) {
    if (!sc.may_writepage || page_maybe_dma_pinned(p)) return Verdict::keep;
    if (!ctx_->shmem->shmem_writeout(h, p)) return Verdict::activate;
  }
  return shrink_unmapped(h, p, pg, sc, stat, ref);
}

Vmscan::Verdict Vmscan::shrink_unmapped(hal::Hal& h, page* p, pglist_data& pg, scan_control& sc, reclaim_stat* stat,
                                        FolioRef ref) {
  if (page_maybe_dma_pinned(p)) return Verdict::activate;
  if (PageFlag(p, PG_dirty)) {
    if (page_is_file_lru(p)) {
      // Dirty file pages are the flusher's: marked PG_reclaim (rotated to
      // the tail once written) and activated meanwhile. 6.18's pageout()
      // writes no regular file pages, so even kswapd ends here.
      if (!sc.kswapd || !PageFlag(p, PG_reclaim) || !(pg.flags & (1ull << PGDAT_DIRTY))) {
        ctx_->vmstat->mod(pg.node_id, NR_VMSCAN_IMMEDIATE, static_cast<int64_t>(compound_nr(p)));
        SetPageFlag(p, PG_reclaim);
        return Verdict::activate;
      }
      if (ref == FolioRef::reclaim_clean || !sc.may_writepage) return Verdict::keep;
      return Verdict::activate;  // pageout: PAGE_ACTIVATE
    }
    if (ref == FolioRef::reclaim_clean || !sc.may_writepage) return Verdict::keep;
    const Verdict v = pageout(h, p, stat);
    if (v != Verdict::freed) return v;
  }
  return remove_mapping(h, p) ? Verdict::freed : Verdict::keep;
}

uint64_t Vmscan::shrink_folio_list(hal::Hal& h, list_head* folios, pglist_data& pg, scan_control& sc,
                                   reclaim_stat* stat, bool ignore_references) {
  *stat = reclaim_stat{};
  list_head ret;
  INIT_LIST_HEAD(&ret);
  uint64_t nr_reclaimed = 0;
  while (!list_empty(folios)) {
    page* p = list_entry(folios->prev, page, lru);
    list_del(&p->lru);
    switch (shrink_one(h, p, pg, sc, stat, ignore_references)) {
      case Verdict::freed:
        nr_reclaimed += compound_nr(p);
        ctx_->page_alloc->put_page(h, p);  // the isolation's reference, the last
        continue;
      case Verdict::activate:
        // Swap space held by an mlocked page is of no use (folio_free_swap): left to the swap code.
        if (folio_evictable(p)) {
          SetPageFlag(p, PG_active);
          stat->nr_activate[page_is_file_lru(p)] += compound_nr(p);
        }
        break;
      case Verdict::keep:
        break;
    }
    list_add(&p->lru, &ret);
  }
  while (!list_empty(&ret)) list_move(ret.prev, folios);
  ctx_->vmstat->count(PGACTIVATE, stat->nr_activate[0] + stat->nr_activate[1]);
  return nr_reclaimed;
}

// ---------------------------------------------------------------- scanning a node

uint64_t Vmscan::shrink_list(hal::Hal& h, lru_list lru, uint64_t nr_to_scan, pglist_data& pg, scan_control& sc) {
  if (is_active_lru(lru)) {
    if (sc.may_deactivate & (1u << is_file_lru(lru))) shrink_active_list(h, nr_to_scan, pg, sc, lru);
    else sc.skipped_deactivate = true;
    return 0;
  }
  return shrink_inactive_list(h, nr_to_scan, pg, sc, lru);
}

void Vmscan::prepare_scan_control(pglist_data& pg, scan_control& sc) {
  const Lru& lru = *ctx_->lru;
  const VmStat& vs = *ctx_->vmstat;
  sc.anon_cost = pg.anon_cost;
  sc.file_cost = pg.file_cost;
  // Deactivate a type when its inactive list is low, or when its pages
  // refaulted since the last round (the workingset is moving).
  if (!sc.force_deactivate) {
    sc.may_deactivate = 0;
    if (static_cast<uint64_t>(vs.node[pg.node_id][WORKINGSET_ACTIVATE_ANON]) != pg.refaults[0] ||
        lru.inactive_is_low(pg, LRU_INACTIVE_ANON))
      sc.may_deactivate |= DEACTIVATE_ANON;
    if (static_cast<uint64_t>(vs.node[pg.node_id][WORKINGSET_ACTIVATE_FILE]) != pg.refaults[1] ||
        lru.inactive_is_low(pg, LRU_INACTIVE_FILE))
      sc.may_deactivate |= DEACTIVATE_FILE;
  } else {
    sc.may_deactivate = DEACTIVATE_ANON | DEACTIVATE_FILE;
  }
  // Plenty of inactive file pages and no refaults: trim the cache alone.
  const uint64_t inactive_file = lru.lru_size(pg, LRU_INACTIVE_FILE);
  sc.cache_trim_mode =
      (inactive_file >> sc.priority) && !(sc.may_deactivate & DEACTIVATE_FILE) && !sc.no_cache_trim_mode;
  // Almost no file pages left: force anonymous scanning.
  uint64_t free = 0, total_high_wmark = 0;
  for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
    const zone* z = &pg.node_zones[zi];
    free += z->free_pages();
    if (z->managed_pages) total_high_wmark += Watermark::high_wmark_pages(z);
  }
  const uint64_t file = lru.lru_size(pg, LRU_ACTIVE_FILE) + inactive_file;
  const uint64_t anon = lru.lru_size(pg, LRU_INACTIVE_ANON);
  sc.file_is_tiny = file + free <= total_high_wmark && !(sc.may_deactivate & DEACTIVATE_ANON) && (anon >> sc.priority);
}

void Vmscan::get_scan_count(pglist_data& pg, const scan_control& sc, uint64_t* nr) {
  enum { SCAN_EQUAL, SCAN_FRACT, SCAN_ANON, SCAN_FILE } balance = SCAN_FRACT;
  const uint64_t swappiness = swappiness_of(ctx_);
  uint64_t fraction[2] = {0, 0}, denominator = 1;
  if (!sc.may_swap || !can_reclaim_anon_pages()) balance = SCAN_FILE;
  else if (!sc.priority && swappiness) balance = SCAN_EQUAL;
  else if (sc.file_is_tiny) balance = SCAN_ANON;
  else if (sc.cache_trim_mode) balance = SCAN_FILE;
  if (balance == SCAN_FRACT) {
    // calculate_pressure_balance: each type's share inversely to its
    // cost, at least a third of the pressure on each before swappiness.
    uint64_t total_cost = sc.anon_cost + sc.file_cost;
    const uint64_t anon_cost = total_cost + sc.anon_cost;
    const uint64_t file_cost = total_cost + sc.file_cost;
    total_cost = anon_cost + file_cost;
    fraction[0] = swappiness * (total_cost + 1) / (anon_cost + 1);
    fraction[1] = (200 - swappiness) * (total_cost + 1) / (file_cost + 1);
    denominator = fraction[0] + fraction[1];
  }
  for (unsigned l = 0; l < LRU_UNEVICTABLE; ++l) {
    const lru_list lru = static_cast<lru_list>(l);
    const bool file = is_file_lru(lru);
    uint64_t scan = ctx_->lru->lru_size(pg, lru, sc.reclaim_idx) >> sc.priority;
    if (balance == SCAN_FRACT) scan = denominator ? scan * fraction[file] / denominator : 0;
    else if ((balance == SCAN_FILE && !file) || (balance == SCAN_ANON && file)) scan = 0;
    nr[l] = scan;
  }
}

void Vmscan::shrink_lruvec(hal::Hal& h, pglist_data& pg, scan_control& sc) {
  uint64_t nr[NR_LRU_LISTS] = {}, targets[NR_LRU_LISTS] = {};
  get_scan_count(pg, sc, nr);
  for (unsigned l = 0; l < NR_LRU_LISTS; ++l) targets[l] = nr[l];
  // Direct reclaim at the first priority scans its whole share even after
  // reaching its target (proportional reclaim).
  const bool proportional_reclaim = !sc.kswapd && sc.priority == DEF_PRIORITY;
  uint64_t nr_reclaimed = 0;
  while (nr[LRU_INACTIVE_ANON] || nr[LRU_ACTIVE_FILE] || nr[LRU_INACTIVE_FILE]) {
    for (unsigned l = 0; l < LRU_UNEVICTABLE; ++l) {
      if (!nr[l]) continue;
      const uint64_t nr_to_scan = min(nr[l], SWAP_CLUSTER_MAX);
      nr[l] -= nr_to_scan;
      nr_reclaimed += shrink_list(h, static_cast<lru_list>(l), nr_to_scan, pg, sc);
    }
    if (nr_reclaimed < sc.nr_to_reclaim || proportional_reclaim) continue;
    // Enough: stop the smaller type, and scan the other only as far as
    // keeps the proportion get_scan_count asked for.
    const uint64_t nr_file = nr[LRU_INACTIVE_FILE] + nr[LRU_ACTIVE_FILE];
    const uint64_t nr_anon = nr[LRU_INACTIVE_ANON] + nr[LRU_ACTIVE_ANON];
    if (!nr_file || !nr_anon) break;
    unsigned lru;
    uint64_t percentage;
    if (nr_file > nr_anon) {
      lru = LRU_INACTIVE_ANON;
      percentage = nr_anon * 100 / (targets[LRU_INACTIVE_ANON] + targets[LRU_ACTIVE_ANON] + 1);
    } else {
      lru = LRU_FILE;
      percentage = nr_file * 100 / (targets[LRU_INACTIVE_FILE] + targets[LRU_ACTIVE_FILE] + 1);
    }
    nr[lru] = nr[lru + LRU_ACTIVE] = 0;
    lru = lru == LRU_FILE ? LRU_INACTIVE_ANON : LRU_FILE;
    for (unsigned l = lru; l <= lru + LRU_ACTIVE; ++l) {
      const uint64_t nr_scanned = targets[l] - nr[l];
      nr[l] = targets[l] * (100 - percentage) / 100;
      nr[l] -= min(nr[l], nr_scanned);
    }
  }
  sc.nr_reclaimed += nr_reclaimed;
  // Keep the inactive anonymous list big enough, when aging it is of use.
  if (ctx_->swapfile->total_swap_pages() && ctx_->lru->inactive_is_low(pg, LRU_INACTIVE_ANON))
    shrink_active_list(h, SWAP_CLUSTER_MAX, pg, sc, LRU_ACTIVE_ANON);
}

bool Vmscan::should_continue_reclaim(const pglist_data& pg, uint64_t nr_reclaimed, const scan_control& sc) const {
  // in_reclaim_compaction: high-order reclaim goes on for compaction's sake.
  if (!gfp_compaction_allowed(sc.gfp_mask) || !sc.order ||
      (sc.order <= PAGE_ALLOC_COSTLY_ORDER && sc.priority >= DEF_PRIORITY - 2))
    return false;
  if (!nr_reclaimed) return false;
  for (unsigned zi = 0; zi <= sc.reclaim_idx && zi < MAX_NR_ZONES; ++zi) {
    const zone* z = &pg.node_zones[zi];
    if (!z->managed_pages) continue;
    const uint64_t wmark = Watermark::min_wmark_pages(z);
    if (ctx_->watermark->zone_watermark_ok(z, sc.order, wmark, sc.reclaim_idx, 0)) return false;
    if (ctx_->compaction->compaction_suitable(z, sc.order, wmark, sc.reclaim_idx)) return false;
  }
  uint64_t inactive = ctx_->lru->lru_size(pg, LRU_INACTIVE_FILE);
  if (can_reclaim_anon_pages()) inactive += ctx_->lru->lru_size(pg, LRU_INACTIVE_ANON);
  return inactive > compact_gap(sc.order);
}

void Vmscan::shrink_node(hal::Hal& h, pglist_data& pg, scan_control& sc) {
  bool reclaimable = false;
  for (;;) {
    sc.nr = {};
    const uint64_t nr_reclaimed = sc.nr_reclaimed;
    prepare_scan_control(pg, sc);
    shrink_lruvec(h, pg, sc);
    // Reclaimable slab objects (sw/mm/shrinker): the workingset's shadow nodes.
    ctx_->shrinkers->shrink_slab(h, sc.gfp_mask, pg.node_id, sc.priority);
    const uint64_t nr_node_reclaimed = sc.nr_reclaimed - nr_reclaimed;
    if (nr_node_reclaimed) reclaimable = true;
    if (sc.kswapd) {
      // Everything isolated was under writeback, or every file page dirty
      // and unqueued: flag the node so the next rounds act on it.
      if (sc.nr.writeback && sc.nr.writeback == sc.nr.taken) pg.flags |= 1ull << PGDAT_WRITEBACK;
      if (sc.nr.unqueued_dirty && sc.nr.unqueued_dirty == sc.nr.file_taken) pg.flags |= 1ull << PGDAT_DIRTY;
    }
    if (!should_continue_reclaim(pg, nr_node_reclaimed, sc)) break;
  }
  // Progress revives a node kswapd gave up on.
  if (reclaimable) pg.kswapd_failures = 0;
  else if (sc.cache_trim_mode) sc.cache_trim_mode_failed = true;
}

void Vmscan::age_node(hal::Hal& h, pglist_data& pg, scan_control& sc) {
  if (!ctx_->swapfile->total_swap_pages() || !ctx_->lru->inactive_is_low(pg, LRU_INACTIVE_ANON)) return;
  shrink_active_list(h, SWAP_CLUSTER_MAX, pg, sc, LRU_ACTIVE_ANON);
}

// ---------------------------------------------------------------- direct reclaim

bool Vmscan::compaction_ready(const zone* z, const scan_control& sc) const {
  if (!gfp_compaction_allowed(sc.gfp_mask)) return false;
  const uint64_t min_wmark = Watermark::min_wmark_pages(z);
  if (ctx_->watermark->zone_watermark_ok(z, sc.order, min_wmark, sc.reclaim_idx, 0)) return true;
  if (!ctx_->compaction->compaction_suitable(z, sc.order, min_wmark, sc.reclaim_idx)) return false;
  // Compaction is likely to succeed with a gap above high: stop reclaiming.
  return ctx_->watermark->zone_watermark_ok(z, 0, Watermark::high_wmark_pages(z) + compact_gap(sc.order),
                                            sc.reclaim_idx, 0);
}

void Vmscan::shrink_zones(hal::Hal& h, const alloc_context& ac, scan_control& sc) {
  const pglist_data* last = nullptr;
  for (zone* const* zl = ac.zonelist; *zl; ++zl) {
    zone* z = *zl;
    if (z->idx > sc.reclaim_idx || !z->managed_pages) continue;
    if (sc.order > PAGE_ALLOC_COSTLY_ORDER && compaction_ready(z, sc)) {
      sc.compaction_ready = true;
      continue;
    }
    if (z->zone_pgdat == last) continue;
    last = z->zone_pgdat;
    shrink_node(h, *z->zone_pgdat, sc);
  }
}

uint64_t Vmscan::do_try_to_free_pages(hal::Hal& h, const alloc_context& ac, scan_control& sc) {
  const int initial_priority = sc.priority;
  bool full_walk = false;
  for (;;) {
    ctx_->vmstat->count(ALLOCSTALL_DMA + sc.reclaim_idx);
    do {
      sc.nr_scanned = 0;
      shrink_zones(h, ac, sc);
      if (sc.nr_reclaimed >= sc.nr_to_reclaim || sc.compaction_ready) break;
      if (sc.priority < DEF_PRIORITY - 2) sc.may_writepage = true;
    } while (--sc.priority >= 0);
    const pglist_data* last = nullptr;
    for (zone* const* zl = ac.zonelist; *zl; ++zl) {
      if ((*zl)->idx > sc.reclaim_idx || (*zl)->zone_pgdat == last) continue;
      last = (*zl)->zone_pgdat;
      snapshot_refaults(*(*zl)->zone_pgdat);
    }
    if (sc.nr_reclaimed) return sc.nr_reclaimed;
    if (sc.compaction_ready) return 1;
    // Nothing: once more (6.18's memcg_full_walk retry, a plain repeat
    // without memory cgroups), then deactivating whatever it takes.
    if (!full_walk) {
      sc.priority = initial_priority;
      full_walk = true;
      continue;
    }
    if (sc.skipped_deactivate) {
      sc.priority = initial_priority;
      sc.force_deactivate = true;
      sc.skipped_deactivate = false;
      continue;
    }
    return 0;
  }
}

uint64_t Vmscan::try_to_free_pages(hal::Hal& h, gfp_t gfp, unsigned order, const alloc_context& ac) {
  scan_control sc;
  sc.nr_to_reclaim = SWAP_CLUSTER_MAX;
  sc.gfp_mask = gfp;
  sc.reclaim_idx = ac.highest_zoneidx;
  sc.order = order;
  sc.priority = DEF_PRIORITY;
  return do_try_to_free_pages(h, ac, sc);
}

uint64_t Vmscan::reclaim_pages(hal::Hal& h, list_head* pages) {
  uint64_t nr_reclaimed = 0;
  list_head node_list;
  INIT_LIST_HEAD(&node_list);
  while (!list_empty(pages)) {
    // One node at a time (reclaim_folio_list), references ignored.
    const int nid = page_to_nid(list_first_entry(pages, page, lru));
    for (list_head* l = pages->next; l != pages;) {
      page* p = list_entry(l, page, lru);
      l = l->next;
      if (page_to_nid(p) != nid) continue;
      ctx_->lru->isolation_done(p, page_is_file_lru(p));  // isolated for migration-style callers: now reclaim's
      ClearPageFlag(p, PG_active);
      list_move(&p->lru, &node_list);
    }
    scan_control sc;
    sc.gfp_mask = GFP_KERNEL;
    reclaim_stat stat{};
    nr_reclaimed += shrink_folio_list(h, &node_list, ctx_->nodes->node(nid), sc, &stat, true);
    move_folios_to_lru(h, &node_list);
  }
  return nr_reclaimed;
}

// ---------------------------------------------------------------- kswapd

bool Kswapd::pgdat_balanced(const pglist_data& pg, unsigned order, unsigned highest_zoneidx) const {
  // Balanced when any usable zone meets its high watermark (boost included).
  bool any = false;
  for (unsigned zi = 0; zi <= highest_zoneidx && zi < MAX_NR_ZONES; ++zi) {
    const zone* z = &pg.node_zones[zi];
    if (!z->managed_pages) continue;
    any = true;
    if (ctx_->watermark->zone_watermark_ok(z, order, Watermark::high_wmark_pages(z), highest_zoneidx, 0)) return true;
  }
  return !any;
}

void Kswapd::wakeup_kswapd(hal::Hal& h, zone* z, gfp_t gfp, unsigned order, unsigned highest_zoneidx) {
  if (!z->managed_pages) return;
  pglist_data& pg = *z->zone_pgdat;
  pg.kswapd_highest_zoneidx = pg.kswapd_wait ? max(pg.kswapd_highest_zoneidx, highest_zoneidx) : highest_zoneidx;
  if (pg.kswapd_order < order) pg.kswapd_order = order;
  if (pg.kswapd_wait) return;  // already woken (or working): not on the wait queue
  bool boosted = false;
  for (unsigned zi = 0; zi <= highest_zoneidx && zi < MAX_NR_ZONES; ++zi)
    if (pg.node_zones[zi].watermark_boost) boosted = true;
  // A hopeless or balanced node: maybe memory is just fragmented, which
  // is kcompactd's business (only for requests that cannot compact themselves).
  const bool balanced = pgdat_balanced(pg, order, highest_zoneidx);
  if (pg.kswapd_failures >= MAX_RECLAIM_RETRIES || (balanced && !boosted)) {
    if (!(gfp & __GFP_DIRECT_RECLAIM)) ctx_->compaction->wakeup_kcompactd(h, pg, order, highest_zoneidx);
    return;
  }
  // Woken during its nap: the node went below low again quickly.
  if (pg.kswapd_nap_until) {
    pg.kswapd_nap_until = 0;
    ctx_->vmstat->count(KSWAPD_LOW_WMARK_HIT_QUICKLY);
  }
  pg.kswapd_wait = true;
  ++stats_.wakeups;
  ctx_->vmstat->count(KSWAPD_WAKE);
}

bool Kswapd::end_boost(hal::Hal& h, pglist_data& pg) {
  bool boosted = false;
  for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
    zone& z = pg.node_zones[zi];
    if (!z.watermark_boost) continue;
    boosted = true;
    z.watermark_boost = 0;
    ++stats_.boosts_cleared;
  }
  if (boosted) ctx_->compaction->wakeup_kcompactd(h, pg, pageblock_order, pg.nr_zones ? pg.nr_zones - 1 : 0);
  return boosted;
}

bool Kswapd::kswapd_shrink_node(hal::Hal& h, pglist_data& pg, scan_control& sc) {
  const uint64_t nr_reclaimed = sc.nr_reclaimed;
  // A target proportional to the zones: each one's high watermark.
  sc.nr_to_reclaim = 0;
  for (unsigned zi = 0; zi <= sc.reclaim_idx && zi < MAX_NR_ZONES; ++zi) {
    const zone* z = &pg.node_zones[zi];
    if (z->managed_pages) sc.nr_to_reclaim += max(Watermark::high_wmark_pages(z), SWAP_CLUSTER_MAX);
  }
  ctx_->vmscan->shrink_node(h, pg, sc);
  // Twice the request reclaimed: fragmentation is compaction's problem,
  // check the watermarks at order 0 from now on.
  if (sc.order && sc.nr_reclaimed >= (2ull << sc.order)) sc.order = 0;
  return max(sc.nr_scanned, sc.nr_reclaimed - nr_reclaimed) >= sc.nr_to_reclaim;
}

unsigned Kswapd::balance_pgdat(hal::Hal& h, pglist_data& pg, unsigned order, unsigned highest_zoneidx) {
  scan_control sc;
  sc.gfp_mask = GFP_KERNEL;
  sc.order = order;
  sc.kswapd = true;
  ctx_->vmstat->count(PAGEOUTRUN);
  // Boosted reclaim: only the boosts' worth, no swap, no writing.
  uint64_t zone_boosts[MAX_NR_ZONES] = {}, nr_boost_reclaim = 0;
  for (unsigned zi = 0; zi <= highest_zoneidx; ++zi) {
    if (!pg.node_zones[zi].managed_pages) continue;
    zone_boosts[zi] = pg.node_zones[zi].watermark_boost;
    nr_boost_reclaim += zone_boosts[zi];
  }
  const bool boosted = nr_boost_reclaim != 0;
  bool balanced_out = false;
  for (;;) {  // restart
    sc.priority = DEF_PRIORITY;
    bool restart = false;
    do {
      const uint64_t nr_reclaimed = sc.nr_reclaimed;
      bool raise_priority = true;
      sc.reclaim_idx = highest_zoneidx;
      const bool balanced = pgdat_balanced(pg, sc.order, highest_zoneidx);
      if (!balanced && nr_boost_reclaim) {
        nr_boost_reclaim = 0;  // really short of memory: a full reclaim
        restart = true;
        break;
      }
      if (!nr_boost_reclaim && balanced) {
        balanced_out = true;
        break;
      }
      if (nr_boost_reclaim && sc.priority == DEF_PRIORITY - 2) raise_priority = false;
      sc.may_writepage = !nr_boost_reclaim;
      sc.may_swap = !nr_boost_reclaim;
      ctx_->vmscan->age_node(h, pg, sc);
      if (sc.priority < DEF_PRIORITY - 2) sc.may_writepage = true;
      sc.nr_scanned = 0;
      if (kswapd_shrink_node(h, pg, sc)) raise_priority = false;
      const uint64_t progress = sc.nr_reclaimed - nr_reclaimed;
      nr_boost_reclaim -= min(nr_boost_reclaim, progress);
      if (nr_boost_reclaim && !progress) break;
      if (raise_priority || !progress) --sc.priority;
    } while (sc.priority >= 1);
    if (restart) continue;
    if (balanced_out) break;
    // Nothing in cache-trim mode: once more scanning both types.
    if (!sc.nr_reclaimed && sc.priority < 1 && !sc.no_cache_trim_mode && sc.cache_trim_mode_failed) {
      sc.no_cache_trim_mode = true;
      continue;
    }
    if (!sc.nr_reclaimed) ++pg.kswapd_failures;
    break;
  }
  if (boosted) {
    for (unsigned zi = 0; zi <= highest_zoneidx; ++zi) {
      if (!zone_boosts[zi]) continue;
      zone& z = pg.node_zones[zi];
      z.watermark_boost -= min(z.watermark_boost, zone_boosts[zi]);
      ++stats_.boosts_cleared;
    }
    // Boosted reclaim ends by asking kcompactd for whole pageblocks.
    ctx_->compaction->wakeup_kcompactd(h, pg, pageblock_order, highest_zoneidx);
  }
  ctx_->vmscan->snapshot_refaults(pg);
  return sc.order;
}

bool Kswapd::prepare_kswapd_sleep(pglist_data& pg, unsigned order, unsigned highest_zoneidx) const {
  if (pg.kswapd_failures >= MAX_RECLAIM_RETRIES) return true;  // hopeless: left to direct reclaim
  if (!pgdat_balanced(pg, order, highest_zoneidx)) return false;
  pg.flags &= ~((1ull << PGDAT_DIRTY) | (1ull << PGDAT_WRITEBACK));  // clear_pgdat_congested
  return true;
}

bool Kswapd::try_to_sleep(hal::Hal& h, pglist_data& pg, unsigned alloc_order, unsigned reclaim_order,
                          unsigned highest_zoneidx) {
  if (prepare_kswapd_sleep(pg, reclaim_order, highest_zoneidx)) {
    // Balanced (or hopeless): compaction may build the order asked for; a
    // short nap (HZ/10) before sleeping, to see whether pressure returns.
    ctx_->compaction->wakeup_kcompactd(h, pg, alloc_order, highest_zoneidx);
    pg.kswapd_nap_until = h.now_ns() + 100000000ull;
    nap_order_[pg.node_id] = reclaim_order;
    nap_zoneidx_[pg.node_id] = highest_zoneidx;
    return true;
  }
  ctx_->vmstat->count(KSWAPD_HIGH_WMARK_HIT_QUICKLY);  // not balanced yet: straight back to work
  return false;
}

void Kswapd::run(hal::Hal& h, pglist_data& pg) {
  pg.kswapd_wait = false;
  pg.kswapd_nap_until = 0;
  const unsigned highest = pg.kswapd_highest_zoneidx < MAX_NR_ZONES ? pg.kswapd_highest_zoneidx : MAX_NR_ZONES - 1;
  // The kswapd thread's loop, back to back as Linux runs it: each round
  // either balances the node, makes progress, or counts a failure, so it
  // ends (balanced or hopeless); a bound hands very long work to the
  // next tick.
  for (unsigned round = 0; round < kRoundsPerTick; ++round) {
    const unsigned order = pg.kswapd_order;
    pg.kswapd_order = 0;
    pg.kswapd_highest_zoneidx = 0;
    ++stats_.runs;
    // One span per run on the timeline (its count matches kswapd.runs).
    h.trace({hal::TraceKind::kswapd, true, nullptr, {static_cast<uint64_t>(pg.node_id), 0}, false});
    const unsigned reclaim_order = balance_pgdat(h, pg, order, highest);
    h.trace({hal::TraceKind::kswapd, false, nullptr, {0, 0}, false});
    if (try_to_sleep(h, pg, order, reclaim_order, highest)) return;
  }
  pg.kswapd_wait = true;
}

void Kswapd::tick(hal::Hal& h, pglist_data& pg) {
  if (pg.kswapd_nap_until && h.now_ns() >= pg.kswapd_nap_until) {
    // The nap ran out: asleep for good if still balanced, else work again.
    pg.kswapd_nap_until = 0;
    if (!prepare_kswapd_sleep(pg, nap_order_[pg.node_id], nap_zoneidx_[pg.node_id])) {
      ctx_->vmstat->count(KSWAPD_HIGH_WMARK_HIT_QUICKLY);
      pg.kswapd_wait = true;
    }
  }
  if (pg.kswapd_wait) run(h, pg);
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<KswapdStats> kswapd_stat_table[] = {
    {"wakeups", &KswapdStats::wakeups, "kswapd wakeups", "count"},
    {"runs", &KswapdStats::runs, "kswapd runs", "count"},
    {"boosts_cleared", &KswapdStats::boosts_cleared, "zone watermark boosts cleared by kswapd", "count"},
};
static_assert(stat_table_size(kswapd_stat_table) == sizeof(KswapdStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Kswapd::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, kswapd_stat_table);
}

}  // namespace fw
