#include "sw/mm/lru.h"

#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/shmem.h"
#include "sw/mm/vmstat.h"

namespace fw {

void Lru::add(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  const int64_t nr = static_cast<int64_t>(compound_nr(p));  // a THP counts its pages
  LockGuard g(pg.lru_lock, h);
  SetPageFlag(p, PG_lru);
  list_add(&p->lru, &pg.lru[LRU_INACTIVE_ANON]);
  ctx_->vmstat->mod(pg.node_id, NR_INACTIVE_ANON, nr);
  ctx_->nodes->page_zone(p)->vm_stat[NR_ZONE_INACTIVE_ANON] += nr;
}

bool page_is_file_lru(const page* p) {
  const address_space* obj = page_mapping_obj(p);
  return obj && obj->kind == MappingKind::file;
}

void Lru::add_file(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  SetPageFlag(p, PG_lru);
  list_add(&p->lru, &pg.lru[LRU_INACTIVE_FILE]);
  ctx_->vmstat->mod(pg.node_id, NR_INACTIVE_FILE, 1);
  ++ctx_->nodes->page_zone(p)->vm_stat[NR_ZONE_INACTIVE_FILE];
}

void Lru::activate_file(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  if (!PageLRU(p) || PageFlag(p, PG_active)) return;
  SetPageFlag(p, PG_active);
  list_del(&p->lru);
  list_add(&p->lru, &pg.lru[LRU_ACTIVE_FILE]);
  ctx_->vmstat->mod(pg.node_id, NR_INACTIVE_FILE, -1);
  ctx_->vmstat->mod(pg.node_id, NR_ACTIVE_FILE, 1);
  --ctx_->nodes->page_zone(p)->vm_stat[NR_ZONE_INACTIVE_FILE];
  ++ctx_->nodes->page_zone(p)->vm_stat[NR_ZONE_ACTIVE_FILE];
  ctx_->vmstat->count(PGACTIVATE);
}

void Lru::del(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  if (!PageLRU(p)) return;
  const int64_t nr = static_cast<int64_t>(compound_nr(p));
  ClearPageFlag(p, PG_lru);
  list_del(&p->lru);
  if (page_is_file_lru(p)) {
    const bool active = PageFlag(p, PG_active);
    ClearPageFlag(p, PG_active);
    ctx_->vmstat->mod(pg.node_id, active ? NR_ACTIVE_FILE : NR_INACTIVE_FILE, -nr);
    ctx_->nodes->page_zone(p)->vm_stat[active ? NR_ZONE_ACTIVE_FILE : NR_ZONE_INACTIVE_FILE] -= nr;
    return;
  }
  ctx_->vmstat->mod(pg.node_id, NR_INACTIVE_ANON, -nr);
  ctx_->nodes->page_zone(p)->vm_stat[NR_ZONE_INACTIVE_ANON] -= nr;
}

bool Lru::isolate(hal::Hal& h, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  // Huge pages are not migrated (compaction leaves them alone), nor yet
  // page-cache pages.
  if (!PageLRU(p) || PageCompound(p) || page_is_file_lru(p) || !get_page_unless_zero(p)) return false;
  ClearPageFlag(p, PG_lru);
  list_del(&p->lru);
  SetPageFlag(p, PG_isolated);
  ctx_->vmstat->mod(pg.node_id, NR_INACTIVE_ANON, -1);
  --ctx_->nodes->page_zone(p)->vm_stat[NR_ZONE_INACTIVE_ANON];
  ctx_->vmstat->mod(pg.node_id, NR_ISOLATED_ANON, 1);
  return true;
}

void Lru::isolation_done(page* p) {
  if (!PageIsolated(p)) return;
  ClearPageFlag(p, PG_isolated);
  ctx_->vmstat->mod(page_to_nid(p), NR_ISOLATED_ANON, -1);
}

void Lru::putback(hal::Hal& h, page* p) {
  isolation_done(p);
  // Unmapped meanwhile (and not held by a shared-memory object): the
  // reference we hold is the last, nothing to keep.
  if (page_mapped(p) || page_ref_count(p) > 1) add(h, p);
  ctx_->page_alloc->put_page(h, p);
}

}  // namespace fw
