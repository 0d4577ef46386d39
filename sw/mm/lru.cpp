#include "sw/mm/lru.h"

#include "sw/mm/page_alloc.h"
#include "sw/mm/shmem.h"
#include "sw/mm/swap.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/watermark.h"

namespace fw {

bool page_is_file_lru(const page* p) {
  const address_space* obj = page_mapping_obj(p);
  return obj && obj->kind == MappingKind::file;
}

lru_list folio_lru_list(const page* p) {
  if (PageFlag(p, PG_unevictable)) return LRU_UNEVICTABLE;
  unsigned lru = page_is_file_lru(p) ? LRU_INACTIVE_FILE : LRU_INACTIVE_ANON;
  if (PageFlag(p, PG_active)) lru += LRU_ACTIVE;
  return static_cast<lru_list>(lru);
}

// ---------------------------------------------------------------- lruvec primitives

void Lru::update_lru_size(pglist_data& pg, page* p, lru_list lru, int64_t nr) {
  ctx_->vmstat->mod(pg.node_id, NR_INACTIVE_ANON + lru, nr);
  ctx_->nodes->page_zone(p)->vm_stat[NR_ZONE_INACTIVE_ANON + lru] += nr;
}

void Lru::add_locked(pglist_data& pg, page* p, bool tail) {
  const lru_list lru = folio_lru_list(p);
  SetPageFlag(p, PG_lru);
  if (tail) list_add_tail(&p->lru, &pg.lru[lru]);
  else list_add(&p->lru, &pg.lru[lru]);
  update_lru_size(pg, p, lru, static_cast<int64_t>(compound_nr(p)));  // a THP counts its pages
}

void Lru::del_locked(pglist_data& pg, page* p) {
  const lru_list lru = folio_lru_list(p);
  ClearPageFlag(p, PG_lru);
  list_del(&p->lru);
  update_lru_size(pg, p, lru, -static_cast<int64_t>(compound_nr(p)));
}

uint64_t Lru::lru_size(const pglist_data& pg, lru_list lru, unsigned max_zoneidx) const {
  int64_t n = 0;
  for (unsigned zi = 0; zi <= max_zoneidx && zi < MAX_NR_ZONES; ++zi)
    n += pg.node_zones[zi].vm_stat[NR_ZONE_INACTIVE_ANON + lru];
  return n > 0 ? static_cast<uint64_t>(n) : 0;
}

bool Lru::inactive_is_low(const pglist_data& pg, lru_list inactive_lru) const {
  const uint64_t inactive = lru_size(pg, inactive_lru);
  const uint64_t active = lru_size(pg, static_cast<lru_list>(inactive_lru + LRU_ACTIVE));
  const uint64_t gb = (inactive + active) >> (30 - PAGE_SHIFT);
  const uint64_t inactive_ratio = gb ? int_sqrt(10 * gb) : 1;
  return inactive * inactive_ratio < active;
}

void Lru::note_cost(pglist_data& pg, bool file, unsigned nr_io, unsigned nr_rotated) {
  const uint64_t cost = static_cast<uint64_t>(nr_io) * SWAP_CLUSTER_MAX + nr_rotated;
  if (!cost) return;
  (file ? pg.file_cost : pg.anon_cost) += cost;
  const uint64_t lrusize = lru_size(pg, LRU_INACTIVE_ANON) + lru_size(pg, LRU_ACTIVE_ANON) +
                           lru_size(pg, LRU_INACTIVE_FILE) + lru_size(pg, LRU_ACTIVE_FILE);
  if (pg.file_cost + pg.anon_cost > lrusize / 4) {
    pg.file_cost /= 2;
    pg.anon_cost /= 2;
  }
}

// ---------------------------------------------------------------- aging

void Lru::add(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  add_locked(pg, p, false);
}

void Lru::activate(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  if (!PageLRU(p) || PageFlag(p, PG_active) || PageFlag(p, PG_unevictable)) return;
  del_locked(pg, p);
  SetPageFlag(p, PG_active);
  add_locked(pg, p, false);
  ctx_->vmstat->count(PGACTIVATE, compound_nr(p));
}

void Lru::deactivate(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  if (!PageLRU(p) || !PageFlag(p, PG_active) || PageFlag(p, PG_unevictable)) return;
  del_locked(pg, p);
  ClearPageFlag(p, PG_active);
  ClearPageFlag(p, PG_referenced);
  add_locked(pg, p, false);
  ctx_->vmstat->count(PGDEACTIVATE, compound_nr(p));
}

void Lru::rotate_reclaimable(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  if (PageFlag(p, PG_locked) || PageFlag(p, PG_dirty) || PageFlag(p, PG_unevictable) || !PageLRU(p)) return;
  del_locked(pg, p);
  ClearPageFlag(p, PG_active);
  add_locked(pg, p, true);
  ctx_->vmstat->count(PGROTATED, compound_nr(p));
}

void Lru::mark_accessed(hal::Hal& h, page* p) {
  if (!PageFlag(p, PG_referenced)) {
    SetPageFlag(p, PG_referenced);
    return;
  }
  // Unevictable pages sit on a list nobody ages: nothing to do.
  if (PageFlag(p, PG_unevictable) || PageFlag(p, PG_active)) return;
  activate(h, p);
  ClearPageFlag(p, PG_referenced);
  // workingset_activation: the activation ages the non-resident clock.
  ctx_->nodes->node(page_to_nid(p)).nonresident_age += compound_nr(p);
}

void Lru::del(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  if (!PageLRU(p)) return;
  del_locked(pg, p);
  // Linux's __folio_clear_lru_flags: the list state dies with the page.
  ClearPageFlag(p, PG_active);
  ClearPageFlag(p, PG_unevictable);
}

// ---------------------------------------------------------------- isolation for migration

bool Lru::isolate(hal::Hal& h, page* p, bool file) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  // Huge pages are not migrated (compaction leaves them alone), nor are
  // page-cache pages unless the caller takes them.
  const bool is_file = page_is_file_lru(p);
  if (!PageLRU(p) || PageCompound(p) || (is_file && !file) || !get_page_unless_zero(p)) return false;
  del_locked(pg, p);
  SetPageFlag(p, PG_isolated);
  ctx_->vmstat->mod(pg.node_id, is_file ? NR_ISOLATED_FILE : NR_ISOLATED_ANON, 1);
  return true;
}

bool Lru::isolate_lru(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  if (!PageLRU(p) || !get_page_unless_zero(p)) return false;
  del_locked(pg, p);
  return true;
}

void Lru::isolation_done(page* p, bool file) {
  if (!PageIsolated(p)) return;
  ClearPageFlag(p, PG_isolated);
  ctx_->vmstat->mod(page_to_nid(p), file ? NR_ISOLATED_FILE : NR_ISOLATED_ANON, -1);
}

void Lru::putback(hal::Hal& h, page* p) {
  isolation_done(p, page_is_file_lru(p));
  // Unmapped meanwhile (and not held by a shared-memory object): the
  // reference we hold is the last, nothing to keep.
  if (page_mapped(p) || page_ref_count(p) > 1) add(h, p);
  ctx_->page_alloc->put_page(h, p);
}

}  // namespace fw
