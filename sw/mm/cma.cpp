#include "sw/mm/cma.h"

#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/lib/string.h"
#include "sw/mm/buddy.h"
#include "sw/mm/internal.h"
#include "sw/mm/memblock.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/page_isolation.h"
#include "sw/mm/vmstat.h"

namespace fw {

bool Cma::declare(hal::Hal& h, Memblock& mb, uint64_t bytes) {
  if (!bytes) return true;
  const uint64_t align = PAGE_SIZE * max(MAX_ORDER_NR_PAGES, pageblock_nr_pages);
  const uint64_t size = align_up(bytes, align);
  MmNodes& nodes = *ctx_->nodes;
  // Top-down, and all of it in one zone: try below each zone boundary.
  const uint64_t limits[] = {~0ull, PFN_PHYS(MAX_DMA32_PFN), PFN_PHYS(MAX_DMA_PFN)};
  uint64_t base = 0;
  for (uint64_t lim : limits) {
    base = mb.alloc_range(size, align, 0, lim, NUMA_NO_NODE);
    if (!base) continue;
    zone* z = nodes.pfn_zone(PFN_DOWN(base));
    if (z && z->spans(PFN_DOWN(base + size) - 1)) break;
    mb.free(base, size);
    base = 0;
  }
  if (!base) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "cma: Failed to reserve %lu MiB", static_cast<unsigned long>(size >> 20));
    return false;
  }
  const uint64_t bmbytes = align_up(div_round_up(size >> PAGE_SHIFT, 64) * 8, PAGE_SIZE);
  const uint64_t bmpa = mb.alloc_range(bmbytes, PAGE_SIZE, 0, ~0ull, NUMA_NO_NODE);
  void* bm = bmpa ? h.direct_map(bmpa, bmbytes) : nullptr;
  if (!bm) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "cma: no memory for the bitmap");
    return false;
  }
  mem_set(bm, 0, bmbytes);
  bitmap_ = static_cast<uint64_t*>(bm);
  base_pfn_ = PFN_DOWN(base);
  count_ = size >> PAGE_SHIFT;
  ctx_->log->printk(h, LOGLEVEL_INFO, "cma: Reserved %lu MiB at 0x%016lx", static_cast<unsigned long>(size >> 20),
                    static_cast<unsigned long>(base));
  return true;
}

bool Cma::activate(hal::Hal& h) {
  if (!count_) return true;
  MmNodes& nodes = *ctx_->nodes;
  Buddy& b = *ctx_->buddy;
  zone* z = nodes.pfn_zone(base_pfn_);
  // Linux init_cma_reserved_pageblock: each pageblock becomes CMA and its
  // pages are freed whole.
  for (uint64_t pfn = base_pfn_; pfn < base_pfn_ + count_; pfn += pageblock_nr_pages) {
    z->set_pfnblock_migratetype(pfn, MIGRATE_CMA);
    page* p = nodes.pfn_to_page_init(pfn);  // the area's struct pages may not be written yet (reserved)
    for (uint64_t i = 0; i < pageblock_nr_pages; ++i) {
      ClearPageReserved(p + i);
      set_page_count(p + i, 0);
    }
    z->managed_pages += pageblock_nr_pages;
    z->cma_pages += pageblock_nr_pages;
    LockGuard g(z->lock, h);
    b.free_one_page(z, p, pfn, pageblock_order, MIGRATE_CMA);
  }
  return true;
}

void Cma::set_bits(uint64_t start, uint64_t n, bool v) {
  for (uint64_t i = start; i < start + n; ++i) {
    if (v) bitmap_[i / 64] |= 1ull << (i % 64);
    else bitmap_[i / 64] &= ~(1ull << (i % 64));
  }
}

page* Cma::cma_alloc(hal::Hal& h, uint64_t count, unsigned align_order) {
  if (!count_ || !count || count > count_) {
    ++stats_.alloc_failed;
    ctx_->vmstat->count(CMA_ALLOC_FAIL);
    return nullptr;
  }
  const uint64_t mask = (1ull << align_order) - 1;
  PageIsolation& iso = *ctx_->isolation;
  // First fit in the bitmap; a busy stretch (pages that would not move)
  // moves the search on by the alignment, as Linux does.
  for (uint64_t start = 0; start + count <= count_;) {
    if (((base_pfn_ + start) & mask) != 0) {
      start = ((base_pfn_ + start + mask) & ~mask) - base_pfn_;
      continue;
    }
    uint64_t i = 0;
    while (i < count && !bit(start + i)) ++i;
    if (i < count) {
      start += i + 1;
      continue;
    }
    set_bits(start, count, true);
    const int r = iso.alloc_contig_range(h, base_pfn_ + start, base_pfn_ + start + count, MIGRATE_CMA, GFP_KERNEL);
    if (!r) {
      ++stats_.alloc_success;
      stats_.pages_allocated += count;
      ctx_->vmstat->count(CMA_ALLOC_SUCCESS);
      return ctx_->nodes->pfn_to_page(base_pfn_ + start);
    }
    set_bits(start, count, false);
    if (r != -EBUSY) break;
    ++stats_.alloc_retries;
    start += mask + 1;
  }
  ++stats_.alloc_failed;
  ctx_->vmstat->count(CMA_ALLOC_FAIL);
  ctx_->log->printk(h, LOGLEVEL_WARNING, "cma: cma_alloc: alloc failed, req-size: %lu pages",
                    static_cast<unsigned long>(count));
  return nullptr;
}

bool Cma::cma_release(hal::Hal& h, page* pages, uint64_t count) {
  if (!pages || !count_) return false;
  const uint64_t pfn = ctx_->nodes->page_to_pfn(pages);
  if (!contains(pfn) || !contains(pfn + count - 1)) return false;
  ctx_->isolation->free_contig_range(h, pfn, count);
  set_bits(pfn - base_pfn_, count, false);
  stats_.pages_allocated -= count;
  ++stats_.release;
  return true;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<CmaStats> cma_stat_table[] = {
    {"alloc_success", &CmaStats::alloc_success, "cma_alloc calls that succeeded", "count"},
    {"alloc_failed", &CmaStats::alloc_failed, "cma_alloc calls that failed", "count"},
    {"alloc_retries", &CmaStats::alloc_retries, "busy stretches skipped by cma_alloc", "count"},
    {"pages_allocated", &CmaStats::pages_allocated, "pages handed out by cma_alloc now", "pages"},
};
// release (cma_release calls) is not a statistic.
static_assert(stat_table_size(cma_stat_table) == sizeof(CmaStats) / sizeof(uint64_t) - 1, "one entry per counter");

}  // namespace

void Cma::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e("pages", count(), "pages of the CMA area", "pages");
  e("base_pfn", base_pfn(), "first pfn of the CMA area", "pfn");
  e.table(stats_, cma_stat_table);
}

}  // namespace fw
