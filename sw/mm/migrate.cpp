#include "sw/mm/migrate.h"

#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/mm/gup.h"
#include "sw/mm/lru.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/shmem.h"
#include "sw/mm/swap_state.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {

// Finds the PTE of `address` in vma's page tables (0: none, or a huge leaf).
uint64_t pte_of(hal::Hal& h, MmContext* ctx, vm_area_struct* vma, uint64_t address) {
  uint64_t epa = 0;
  if (!vma->vm_mm || !vma->vm_mm->pgd) return 0;
  if (ctx->pgtable->walk_to(h, vma->vm_mm->pgd, address, x86::LEVEL_PT, false, 0, false, &epa)) return 0;
  return epa;
}

struct Unmapper final : RmapVisitor {
  MmContext* ctx;
  page* src;
  uint64_t pfn;
  Unmapper(MmContext* c, page* s) : ctx(c), src(s), pfn(c->nodes->page_to_pfn(s)) {}
  bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) override {
    const uint64_t epa = pte_of(h, ctx, vma, address);
    if (!epa) return true;
    mm_struct* mm = vma->vm_mm;
    LockGuard g(mm->page_table_lock, h);
    uint64_t pte = 0;
    if (!ctx->pgtable->read_entry(h, epa, &pte) || !pte_maps_page(pte) ||
        ((pte & ctx->pgtable->phys_mask()) >> PAGE_SHIFT) != pfn)
      return true;
    const uint64_t present = (pte & x86::PTE_P) ? SWP_MIGRATION_PRESENT : 0;
    ctx->pgtable->write_entry(h, epa, (pte & ~x86::PTE_P) | SWP_MIGRATION_MARK | present);
    // The old translation must not survive in any TLB: every CPU using
    // the address space flushes before the copy starts.
    ctx->tlb->flush_tlb_page(h, mm, address);
    ctx->rmap->page_remove_rmap(src);
    put_page_testzero(src);  // the mapping's reference (isolation holds another)
    return page_mapped(src);
  }
};

struct Remapper final : RmapVisitor {
  MmContext* ctx;
  uint64_t src_pfn;
  page* dst;
  uint64_t dst_pfn;
  Remapper(MmContext* c, page* s, page* d)
      : ctx(c), src_pfn(c->nodes->page_to_pfn(s)), dst(d), dst_pfn(c->nodes->page_to_pfn(d)) {}
  bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) override {
    const uint64_t epa = pte_of(h, ctx, vma, address);
    if (!epa) return true;
    LockGuard g(vma->vm_mm->page_table_lock, h);
    uint64_t pte = 0;
    if (!ctx->pgtable->read_entry(h, epa, &pte) || !is_migration_entry(pte)) return true;
    const uint64_t mask = ctx->pgtable->phys_mask();
    if (((pte & mask) >> PAGE_SHIFT) != src_pfn) return true;
    const uint64_t p = (pte & SWP_MIGRATION_PRESENT) ? x86::PTE_P : 0;
    const uint64_t npte = (pte & ~mask & ~SWP_MIGRATION_MARK & ~SWP_MIGRATION_PRESENT) | PFN_PHYS(dst_pfn) | p;
    get_page(dst);
    if (PageAnon(dst)) ctx->rmap->page_add_anon_rmap(dst);
    else ctx->rmap->page_add_file_rmap(dst);
    ctx->pgtable->write_entry(h, epa, npte);
    return true;
  }
};

}  // namespace

void Migrate::try_to_migrate(hal::Hal& h, page* src) {
  Unmapper v(ctx_, src);
  ctx_->rmap->rmap_walk(h, src, v);
}

void Migrate::remove_migration_ptes(hal::Hal& h, page* src, page* dst) {
  Remapper v(ctx_, src, dst);
  // Through dst, as Linux does: after a shared-memory page moved, the
  // object's slot (and so the mapping) is dst's, no longer src's.
  ctx_->rmap->rmap_walk(h, dst, v);
}

void Migrate::move_dirty_accounting(page* src, page* dst) {
  // A dirty page-cache page stays dirty where it goes (Linux
  // __folio_migrate_mapping moves the counters between zones and nodes).
  --ctx_->nodes->page_zone(src)->vm_stat[NR_ZONE_WRITE_PENDING];
  ++ctx_->nodes->page_zone(dst)->vm_stat[NR_ZONE_WRITE_PENDING];
  if (page_to_nid(src) == page_to_nid(dst)) return;
  ctx_->vmstat->mod(page_to_nid(src), NR_FILE_DIRTY, -1);
  ctx_->vmstat->mod(page_to_nid(dst), NR_FILE_DIRTY, 1);
}

int Migrate::move_to_new_page(hal::Hal& h, page* src, page* dst) {
  address_space* obj = page_mapping_obj(src);
  if (!PageAnon(src) && !obj) return -EAGAIN;
  if (PageAnon(src) && !page_mapped(src)) return -EAGAIN;
  // A page being written to swap or read from it stays where its I/O is.
  if (PageFlag(src, PG_writeback) || PageFlag(src, PG_locked)) return -EAGAIN;
  if (obj) ctx_->shmem->get(obj);  // the object outlives this migration
  int rc = 0;
  MmNodes& nodes = *ctx_->nodes;
  try_to_migrate(h, src);
  if (page_mapped(src)) {
    remove_migration_ptes(h, src, src);
    rc = -EAGAIN;
  } else if (h.phys_copy(nodes.page_to_phys(dst), nodes.page_to_phys(src), PAGE_SIZE) != hal::MemStatus::ok) {
    ++stats_.copy_errors;
    remove_migration_ptes(h, src, src);
    rc = -EIO;
  } else if (obj && !ctx_->shmem->replace_page(h, obj, src->index, src, dst)) {
    remove_migration_ptes(h, src, src);  // dropped from the object meanwhile
    rc = -EAGAIN;
  } else {
    if (obj) {
      // The object's reference moves with its slot.
      get_page(dst);
      put_page_testzero(src);
      if (obj->kind == MappingKind::file && PageFlag(src, PG_dirty)) move_dirty_accounting(src, dst);
    } else {
      dst->mapping = src->mapping;
      dst->index = src->index;
      if (PageSwapCache(src)) ctx_->swap_cache->replace_page(h, src, dst);
    }
    constexpr uint64_t kept = (1ull << PG_swapbacked) | (1ull << PG_dirty) | (1ull << PG_uptodate) |
                              (1ull << PG_referenced) | (1ull << PG_active);
    dst->flags |= src->flags & kept;
    remove_migration_ptes(h, src, dst);
    src->flags &= ~kept;
    src->mapping = 0;
    src->index = 0;
    ctx_->charge(h, ctx_->params->cost_migrate_page_ns);
  }
  if (obj) ctx_->shmem->put(h, obj);
  return rc;
}

int Migrate::unmap_and_move(hal::Hal& h, page* src, new_page_t get_new, free_page_t put_new, void* priv,
                            migrate_mode mode, migrate_reason reason) {
  (void)mode;
  Lru& lru = *ctx_->lru;
  PageAlloc& pa = *ctx_->page_alloc;
  if (page_ref_count(src) == 1) {
    // Unmapped while isolated: ours is the last reference. Done.
    ++stats_.freed_under_us;
    list_del(&src->lru);
    lru.isolation_done(src, page_is_file_lru(src));
    if (reason != MR_MEMORY_FAILURE) pa.put_page(h, src);
    return 0;
  }
  // A page pinned for DMA must stay where the device reaches it (Linux:
  // the reference count does not match what migration expects).
  if (page_maybe_dma_pinned(src)) return -EAGAIN;
  page* dst = get_new(h, src, priv);
  if (!dst) return -ENOMEM;
  const bool file = page_is_file_lru(src);  // the move takes src's mapping away
  const int rc = move_to_new_page(h, src, dst);
  if (rc) {
    put_new(h, dst, priv);
    return rc;
  }
  list_del(&src->lru);
  lru.isolation_done(src, file);
  if (reason != MR_MEMORY_FAILURE) pa.put_page(h, src);  // the isolation reference: frees the old page
  lru.add(h, dst);
  pa.put_page(h, dst);  // the allocation reference: the PTEs hold theirs
  return 0;
}

int Migrate::migrate_pages(hal::Hal& h, list_head* from, new_page_t get_new, free_page_t put_new, void* priv,
                           migrate_mode mode, unsigned* nr_succeeded, migrate_reason reason) {
  const int passes = mode == MIGRATE_ASYNC ? 3 : 10;
  unsigned succeeded = 0;
  int failed = 0;
  list_head ret;  // pages that failed for good
  INIT_LIST_HEAD(&ret);
  bool retry = true, nomem = false;
  for (int pass = 0; pass < passes && retry && !nomem; ++pass) {
    retry = false;
    for (list_head* l = from->next; l != from;) {
      list_head* next = l->next;
      page* p = list_entry(l, page, lru);
      const int rc = unmap_and_move(h, p, get_new, put_new, priv, mode, reason);
      if (rc == 0) {
        ++succeeded;
      } else if (rc == -EAGAIN) {
        retry = true;
      } else if (rc == -ENOMEM) {
        nomem = true;  // no more targets: what is left fails
        break;
      } else {
        list_del(&p->lru);
        list_add_tail(&p->lru, &ret);
        ++failed;
      }
      l = next;
    }
  }
  for (list_head* q = from->next; q != from; q = q->next) ++failed;  // still -EAGAIN, or no target
  while (!list_empty(&ret)) {
    page* p = list_first_entry(&ret, page, lru);
    list_del(&p->lru);
    list_add_tail(&p->lru, from);
  }
  stats_.succeeded += succeeded;
  stats_.failed += static_cast<uint64_t>(failed);
  ctx_->vmstat->count(PGMIGRATE_SUCCESS, succeeded);
  ctx_->vmstat->count(PGMIGRATE_FAIL, static_cast<uint64_t>(failed));
  if (nr_succeeded) *nr_succeeded = succeeded;
  return nomem ? -ENOMEM : failed;
}

void Migrate::putback_movable_pages(hal::Hal& h, list_head* l) {
  while (!list_empty(l)) {
    page* p = list_first_entry(l, page, lru);
    list_del(&p->lru);
    ctx_->lru->putback(h, p);
  }
}

page* Migrate::alloc_migration_target(hal::Hal& h, page* src, void* priv) {
  MmContext* ctx = static_cast<MmContext*>(priv);
  // Same node, a movable page; never from the range being emptied (its
  // pageblocks are isolated: their free pages are on no usable list).
  // No direct path: migration must not recurse into compaction.
  return ctx->page_alloc->alloc_pages(h, (GFP_HIGHUSER_MOVABLE & ~__GFP_DIRECT_RECLAIM) | __GFP_NOWARN, 0,
                                      page_to_nid(src));
}

void Migrate::free_migration_target(hal::Hal& h, page* dst, void* priv) {
  MmContext* ctx = static_cast<MmContext*>(priv);
  ctx->page_alloc->free_pages(h, dst, 0);
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<MigrateStats> migrate_stat_table[] = {
    {"succeeded", &MigrateStats::succeeded, "pages migrated", "count"},
    {"failed", &MigrateStats::failed, "pages not migrated", "count"},
    {"freed_under_us", &MigrateStats::freed_under_us, "isolated pages unmapped before migration", "count"},
    {"copy_errors", &MigrateStats::copy_errors, "pages whose contents could not be read (poison)", "count"},
};
static_assert(stat_table_size(migrate_stat_table) == sizeof(MigrateStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Migrate::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, migrate_stat_table);
}

}  // namespace fw
