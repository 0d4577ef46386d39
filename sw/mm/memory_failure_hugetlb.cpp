// memory_failure() and soft offline of hugetlb pages (Linux
// mm/memory-failure.c: try_memory_failure_hugetlb, __get_huge_page_for_hwpoison,
// folio_set_hugetlb_hwpoison, me_huge_page; soft_offline_in_use_page's
// hugetlb half). See memory_failure.h; the pool side (dissolving, the
// poisoned leaves, moving a huge page) is sw/mm/hugetlb.cpp's.
//
// An error in a free pool page dissolves it into the buddy allocator minus
// the bad 4 KiB page ("free huge page"); an error in a page in use marks
// the folio poisoned, unmaps it from every mapper (each leaf a hwpoison
// entry whose touch is SIGBUS with lsb 21 or 30), kills early or late as
// for small pages, and ("huge page") dissolves a private page at once or
// leaves a shared one in its object, where the next fault finds it.
// Departure: a poisoned folio freed later is dissolved by the pool's free
// path itself (6.18 keeps it on the free list, never handed out).
#include "sw/kernel/task.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/memory_failure.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {
unsigned long ul(uint64_t v) { return static_cast<unsigned long>(v); }
}  // namespace

int MemoryFailure::folio_set_hugetlb_hwpoison(page* head, page* p) {
  const bool was = PageHWPoison(head);
  SetPageHWPoison(head);
  const bool raw_known = p == head ? (head[1].compound_flags & COMPOUND_HWP_RAW_HEAD) != 0 : PageHWPoison(p);
  if (raw_known) return -EHWPOISON;
  if (p == head) head[1].compound_flags |= COMPOUND_HWP_RAW_HEAD;
  else SetPageHWPoison(p);
  // HardwareCorrupted counts the bad 4 KiB page, not the huge page.
  ctx_->vmstat->mod(page_to_nid(head), NR_HWPOISON, 1);
  if (!was) return 0;
  // A second bad page of a poisoned folio: counted here, as action_result
  // counts no already-poisoned page.
  ++num_poisoned_pages_;
  return -EHWPOISON;
}

int MemoryFailure::get_huge_page_for_hwpoison(hal::Hal& h, page* head, page* p, int flags) {
  int ret;
  bool counted = false;
  if (flags & MF_COUNT_INCREASED) {
    ret = 1;
    counted = true;
  } else if (ctx_->hugetlb->folio_is_free(h, head)) {
    ret = 0;
  } else if (get_page_unless_zero(head)) {
    ret = 1;
    counted = true;
  } else {
    ret = -EBUSY;  // neither free nor in use: being allocated or freed
  }
  if (folio_set_hugetlb_hwpoison(head, p) < 0) {
    if (counted) ctx_->page_alloc->put_page(h, head);
    return -EHWPOISON;
  }
  return ret;
}

bool MemoryFailure::hwpoison_hugetlb_mappings(hal::Hal& h, page* head, page* p, uint64_t pfn, int flags) {
  if (!folio_mapped(head)) return true;
  MfKillList tokill;
  collect_procs(h, p, &tokill, flags & MF_ACTION_REQUIRED);
  const bool unmap_success = ctx_->hugetlb->unmap_poisoned_folio(h, head);
  if (!unmap_success)
    ctx_->log->printk(h, LOGLEVEL_ERR, "Memory failure: %#lx: failed to unmap page (folio mapcount=%d)", ul(pfn),
                      folio_entire_mapcount(head));
  // A hugetlbfs page is always dirty (6.18 marks it so when it enters its
  // file); a private one once a leaf was written.
  const bool dirty = PageFlag(head, PG_dirty) || (head->mapping && !PageAnon(head));
  kill_procs(h, tokill, dirty || (flags & MF_MUST_KILL) || !unmap_success, pfn, flags);
  return unmap_success;
}

MfResult MemoryFailure::me_huge_page(hal::Hal& h, page* p) {
  page* head = compound_head(p);
  if (head->mapping && !PageAnon(head)) {
    // hugetlbfs keeps the page in its file (its error_remove_folio does
    // nothing): a later fault of the object finds it poisoned.
    return has_extra_refcount(h, head, MfPageType::huge, true, MfResult::recovered);
  }
  // Nobody maps it now: the last reference dissolves it (free_huge_folio),
  // the bad page kept out with the reference memory_failure() holds.
  ctx_->page_alloc->put_page(h, head);
  if (PageHuge(compound_head(p))) return MfResult::failed;  // still referenced: not dissolved
  return has_extra_refcount(h, p, MfPageType::huge, false, MfResult::recovered);
}

int MemoryFailure::try_memory_failure_hugetlb(hal::Hal& h, page* p, uint64_t pfn, int flags, bool* hugetlb) {
  page* head = compound_head(p);
  *hugetlb = PageHuge(head);
  if (!*hugetlb) return 0;
  const int got = get_huge_page_for_hwpoison(h, head, p, flags);
  if (got == -EHWPOISON) {
    int res = -EHWPOISON;
    if (flags & MF_ACTION_REQUIRED)
      res = kill_accessing_process(h, tasks_ ? tasks_->mf_current(h) : nullptr, ctx_->nodes->page_to_pfn(head), flags);
    action_result(h, pfn, MfPageType::already_poisoned, MfResult::failed);
    return res;
  }
  if (got == -EBUSY) return action_result(h, pfn, MfPageType::get_hwpoison, MfResult::ignored);
  if (got == 0) {
    // Free: dissolved into the buddy allocator minus the bad page (which
    // keeps one reference, memory_failure()'s).
    const bool ok = ctx_->hugetlb->dissolve_free_hugetlb_folio(h, head) == 0;
    return action_result(h, pfn, MfPageType::free_huge, ok ? MfResult::recovered : MfResult::failed);
  }
  if (!hwpoison_hugetlb_mappings(h, head, p, pfn, flags))
    return action_result(h, pfn, MfPageType::unmap_failed, MfResult::failed);
  return action_result(h, pfn, MfPageType::huge, me_huge_page(h, p));
}

int MemoryFailure::soft_offline_hugetlb(hal::Hal& h, page* p) {
  page* head = compound_head(p);
  const unsigned long pfn = ul(ctx_->nodes->page_to_pfn(p));
  Log& log = *ctx_->log;
  if (!PageAnon(head) && !head->mapping) {
    log.printk(h, LOGLEVEL_INFO, "Soft offline: %#lx: hugepage isolation failed, page count %d, type %#lx", pfn,
               page_ref_count(head) - 1, ul(head->flags));
    ctx_->page_alloc->put_page(h, head);
    return -EBUSY;
  }
  const int ret = ctx_->hugetlb->migrate_hugetlb_folio(h, head);
  // Our reference was the last: the old folio goes back to the pool, from
  // where it is dissolved minus the bad page.
  ctx_->page_alloc->put_page(h, head);
  if (ret == 0) return page_handle_poison(h, p, true, false) ? 0 : -EBUSY;
  log.printk(h, LOGLEVEL_INFO, "Soft offline: %#lx: hugepage migration failed %d, type %#lx", pfn, ret,
             ul(head->flags));
  return ret;
}

}  // namespace fw
