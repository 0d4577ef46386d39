// soft_offline_page() and unpoison_memory() (Linux mm/memory-failure.c,
// second half). See memory_failure.h.
//
// Soft offline takes a page that is still good but going bad (corrected
// errors, MADV_SOFT_OFFLINE) out of use without losing anything: a free page
// is taken off the buddy lists; a clean page-cache page nobody maps is
// dropped (it is re-read on the next access); any other page on the LRU --
// anonymous, shared memory, or a mapped or dirty page-cache page (6.18's
// filemap_migrate_folio: the cache's slot and the dirty state move with
// it) -- is migrated (sw/mm/migrate, MR_MEMORY_FAILURE) to a new page,
// invisibly to its users, and the old page keeps PG_hwpoison with
// refcount 1 owned by nobody. Nothing is killed and nothing counts in the per-node
// memory_failure totals (6.18 calls no action_result here); the page counts
// in num_poisoned_pages and HardwareCorrupted.
//
// A hugetlb page is moved to a new huge page, and the old one dissolved
// minus the bad page: the pool shrinks by one (memory_failure_hugetlb.cpp).
// Departures from 6.18: %pGp prints the flags word in hex, without the
// names; the "Unpoison:" lines are not rate-limited.
#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/lib/list.h"
#include "sw/lib/printk.h"
#include "sw/mm/filemap.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/lru.h"
#include "sw/mm/memory_failure.h"
#include "sw/mm/migrate.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pcp.h"
#include "sw/mm/shmem.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {

constexpr int kGetPageMaxRetry = 3;  // Linux GET_PAGE_MAX_RETRY_NUM

unsigned long ul(uint64_t v) { return static_cast<unsigned long>(v); }

}  // namespace

void MemoryFailure::num_poisoned_pages_add(page* p, int64_t nr) {
  num_poisoned_pages_ += static_cast<uint64_t>(nr);
  ctx_->vmstat->mod(page_to_nid(p), NR_HWPOISON, nr);
}

void MemoryFailure::put_ref_page(hal::Hal& h, page* p, int flags) {
  if ((flags & MF_COUNT_INCREASED) && p) ctx_->page_alloc->put_page(h, p);
}

bool MemoryFailure::hwpoison_handlable(hal::Hal& h, page* p) {
  const page* head = compound_head(p);
  if (PageSlab(head)) return false;
  return PageLRU(head) || ctx_->page_alloc->is_free_buddy_page(h, p);
}

int MemoryFailure::get_any_page(hal::Hal& h, page* p, int flags) {
  page* head = compound_head(p);
  bool counted = flags & MF_COUNT_INCREASED;
  // A page on a per-CPU list is neither on the LRU nor in the buddy lists:
  // shake_page() drains the lists and looks again.
  auto shake = [&] { ctx_->pcp->drain_all_pages(h, ctx_->nodes->page_zone(p)); };
  int ret = -EIO;
  for (int pass = 0;; ++pass) {
    if (!counted) {
      if (ctx_->hugetlb->folio_is_free(h, head)) return 0;  // a free pool page: dissolved
      if (PageHuge(head) || hwpoison_handlable(h, p)) {
        if (get_page_unless_zero(head)) return 1;
        if (ctx_->page_alloc->is_free_buddy_page(h, p)) return 0;
        if (pass < kGetPageMaxRetry) continue;  // raced with an allocation or a free
        return -EBUSY;
      }
      if (pass < kGetPageMaxRetry) {
        shake();
        continue;
      }
      break;
    }
    if (PageHuge(head) || hwpoison_handlable(h, p)) return 1;
    ctx_->page_alloc->put_page(h, head);
    counted = false;
    if (pass >= kGetPageMaxRetry) break;
    shake();
  }
  ctx_->log->printk(h, LOGLEVEL_ERR, "Memory failure: %#lx: unhandlable page.", ul(ctx_->nodes->page_to_pfn(p)));
  return ret;
}

bool MemoryFailure::page_handle_poison(hal::Hal& h, page* p, bool free_page, bool release) {
  if (free_page) {
    // A free hugetlb page is dissolved first (0 for any other page); one
    // promised to a reservation stays.
    if (ctx_->hugetlb->dissolve_free_hugetlb_folio(h, compound_head(p))) return false;
    ctx_->pcp->drain_all_pages(h, ctx_->nodes->page_zone(p));
    // Lost to an allocation meanwhile: fine, the page is not broken yet.
    if (!ctx_->page_alloc->take_page_off_buddy(h, p)) return false;
  }
  SetPageHWPoison(p);
  // The last reference of a poisoned page leaves it with refcount 1, off
  // every list (PageAlloc::free_poisoned).
  if (release) ctx_->page_alloc->put_page(h, p);
  num_poisoned_pages_add(p, 1);
  return true;
}

bool MemoryFailure::mapping_evict_page(hal::Hal& h, page* p) {
  constexpr uint64_t kBusy = (1ull << PG_dirty) | (1ull << PG_writeback) | (1ull << PG_locked);
  if (!page_host(p) || (p->flags & kBusy) || page_mapped(p)) return false;
  if (page_ref_count(p) != 2) return false;  // the cache's and ours only
  ctx_->filemap->delete_from_page_cache(h, p);
  return true;
}

int MemoryFailure::soft_offline_in_use_page(hal::Hal& h, page* p) {
  const unsigned long pfn = ul(ctx_->nodes->page_to_pfn(p));
  page* head = compound_head(p);
  const bool huge = PageHuge(head);
  Log& log = *ctx_->log;
  if (!huge && head != p) {
    // A THP is split first; our reference stays with the head.
    if (ctx_->huge_memory->split_huge_page(h, head)) {
      ctx_->page_alloc->put_page(h, head);
      log.printk(h, LOGLEVEL_INFO, "Soft offline: %#lx: thp split failed", pfn);
      return -EBUSY;
    }
    get_page(p);
    ctx_->page_alloc->put_page(h, head);
    head = p;
  }
  // folio_wait_writeback(): the page moves only once its I/O is done.
  while (!huge && PageFlag(p, PG_writeback)) h.cpu_relax();
  if (PageHWPoison(p)) {
    ctx_->page_alloc->put_page(h, head);
    log.printk(h, LOGLEVEL_INFO, "Soft offline: %#lx: page already poisoned", pfn);
    return 0;
  }
  if (!huge && PageLRU(p) && !PageSwapCache(p) && mapping_evict_page(h, p)) {
    log.printk(h, LOGLEVEL_INFO, "Soft offline: %#lx: invalidated", pfn);
    page_handle_poison(h, p, false, true);
    return 0;
  }
  if (huge) return soft_offline_hugetlb(h, p);
  // isolate_folio_to_list(): page-cache pages too.
  const bool isolated = ctx_->lru->isolate(h, p, true);
  ctx_->page_alloc->put_page(h, head);  // isolation holds its own reference
  const char* what = "page";
  if (!isolated) {
    log.printk(h, LOGLEVEL_INFO, "Soft offline: %#lx: %s isolation failed, page count %d, type %#lx", pfn, what,
               page_ref_count(head), ul(head->flags));
    return -EBUSY;
  }
  list_head pages;
  INIT_LIST_HEAD(&pages);
  list_add_tail(&p->lru, &pages);
  int ret = ctx_->migrate->migrate_pages(h, &pages, Migrate::alloc_migration_target, Migrate::free_migration_target,
                                         ctx_, MIGRATE_SYNC, nullptr, MR_MEMORY_FAILURE);
  if (ret == 0) return page_handle_poison(h, p, false, true) ? 0 : -EBUSY;
  if (!list_empty(&pages)) ctx_->migrate->putback_movable_pages(h, &pages);
  log.printk(h, LOGLEVEL_INFO, "Soft offline: %#lx: %s migration failed %d, type %#lx", pfn, what, ret,
             ul(p->flags));
  return ret > 0 ? -EBUSY : ret;
}

int MemoryFailure::soft_offline_page(hal::Hal& h, uint64_t pfn, int flags) {
  page* p = ctx_->nodes->pfn_to_page_init(pfn);
  if (!p) return -ENXIO;
  Log& log = *ctx_->log;
  if (!ctx_->params->enable_soft_offline) {
    if (!soft_offline_disabled_logged_)
      log.printk(h, LOGLEVEL_INFO, "Soft offline: disabled by /proc/sys/vm/enable_soft_offline");
    soft_offline_disabled_logged_ = true;
    put_ref_page(h, compound_head(p), flags);
    return -EOPNOTSUPP;
  }
  if (PageHWPoison(p)) {
    log.printk(h, LOGLEVEL_INFO, "Soft offline: %#lx: page already poisoned", ul(pfn));
    put_ref_page(h, compound_head(p), flags);
    return 0;
  }
  for (bool try_again = true;;) {
    const int ret = get_any_page(h, p, flags | MF_SOFT_OFFLINE);
    if (ret > 0) return soft_offline_in_use_page(h, p);
    if (ret < 0) return ret;
    if (page_handle_poison(h, p, true, false)) return 0;
    if (!try_again) return -EBUSY;
    try_again = false;
    flags &= ~MF_COUNT_INCREASED;
  }
}

int MemoryFailure::unpoison_memory(hal::Hal& h, uint64_t pfn) {
  page* p = ctx_->nodes->pfn_to_page_init(pfn);
  if (!p) return -EIO;
  Log& log = *ctx_->log;
  auto refuse = [&](int err, const char* why) {
    if (why) log.printk(h, LOGLEVEL_INFO, "Unpoison: %#lx: %s", ul(pfn), why);
    return err;
  };
  if (hw_memory_failure_) return refuse(-EOPNOTSUPP, "disabled after HW memory failure");
  if (ctx_->huge_memory->is_huge_zero_pfn(pfn)) return refuse(-EOPNOTSUPP, "huge zero page is not supported");
  if (!PageHWPoison(p)) return refuse(-EBUSY, "page was already unpoisoned");
  const page* head = compound_head(p);
  if (page_ref_count(head) > 1) return refuse(-EBUSY, "someone grabs the hwpoison page");
  if (PageSlab(head) || PageTable(head) || PageReserved(head)) return -EBUSY;
  if (page_mapped(p)) return refuse(-EBUSY, "someone maps the hwpoison page");
  if (head->mapping) return refuse(-EBUSY, "the hwpoison page has non-NULL mapping");
  if (PageHuge(head)) return -EBUSY;  // hugetlb raw-error lists are not kept here
  ClearPageFlag(p, PG_hwpoison);
  // Taken off (refcount 1, owned by nobody): back to the allocator. A page
  // marked while still free (refcount 0) stays where it is.
  if (page_ref_count(p) == 1) ctx_->page_alloc->free_pages(h, p, 0);
  num_poisoned_pages_add(p, -1);
  log.printk(h, LOGLEVEL_INFO, "Unpoison: %#lx: software-unpoisoned page", ul(pfn));
  return 0;
}

}  // namespace fw
