// memory_failure() and the kill (Linux mm/memory-failure.c, first half).
// See memory_failure.h.
//
// The flow follows 6.18: the page is marked poisoned first (a page already
// marked is "already poisoned"); a free page is taken off the buddy lists;
// a page the kernel owns (slab, page table, reserved, anything not on an
// LRU list) cannot be handled ("get hwpoison page": Ignored); a THP is split
// first; a user page loses its mappings (hwpoison_user_mappings: the PTEs
// become hwpoison entries, processes that asked for it are signalled now),
// then its state picks the row of error_states[] and the row's action.
// Departures: the per-CPU lists are drained before the free-page test
// (zone_pcp_disable's effect), and the page walk of kill_accessing_process
// reads the task's VMAs one leaf at a time.
#include "sw/mm/memory_failure.h"

#include "sw/fs/proc/proc_fs.h"
#include "sw/hal/uapi.h"
#include "sw/kernel/params.h"
#include "sw/kernel/task.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/lib/seq_file.h"
#include "sw/mm/buddy.h"
#include "sw/mm/filemap.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/lru.h"
#include "sw/mm/mlock.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page-writeback.h"
#include "sw/mm/page.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pcp.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/shmem.h"
#include "sw/mm/swap.h"
#include "sw/mm/swap_state.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {

// Linux's action_page_types[] (and two rows of this firmware), in
// MfPageType order.
const char* const kPageTypeNames[] = {
    "reserved kernel page",
    "high-order kernel page",
    "different compound page after locking",
    "huge page",
    "free huge page",
    "get hwpoison page",
    "unmapping failed page",
    "dirty swapcache page",
    "clean swapcache page",
    "dirty mlocked LRU page",
    "clean mlocked LRU page",
    "dirty unevictable LRU page",
    "clean unevictable LRU page",
    "dirty LRU page",
    "clean LRU page",
    "already truncated LRU page",
    "free buddy page",
    "dax page",
    "unsplit thp",
    "already poisoned page",
    "unknown page",
    "slab page",
    "page table page",
};
static_assert(sizeof(kPageTypeNames) / sizeof(kPageTypeNames[0]) == static_cast<size_t>(MfPageType::pgtable) + 1,
              "one name per page type");

// Linux's action_name[].
const char* const kResultNames[] = {"Ignored", "Failed", "Delayed", "Recovered"};

bool PageDirty(const page* p) { return PageFlag(p, PG_dirty); }

}  // namespace

const char* mf_page_type_name(MfPageType t) { return kPageTypeNames[static_cast<unsigned>(t)]; }
const char* mf_result_name(MfResult r) { return kResultNames[static_cast<unsigned>(r)]; }

void MemoryFailure::pr_err(hal::Hal& h, const char* fmt, uint64_t pfn, const char* what) {
  // Every line of mm/memory-failure.c carries its pr_fmt prefix.
  char line[160];
  fw::snprintf(line, sizeof line, fmt, static_cast<unsigned long>(pfn), what);
  ctx_->log->printk(h, LOGLEVEL_ERR, "Memory failure: %s", line);
}

int MemoryFailure::action_result(hal::Hal& h, uint64_t pfn, MfPageType type, MfResult result) {
  if (type != MfPageType::already_poisoned) {
    ++num_poisoned_pages_;
    MemoryFailureStats& s = node_stats_[page_to_nid(ctx_->nodes->pfn_to_page(pfn))];
    ++s.total;
    switch (result) {
      case MfResult::ignored: ++s.ignored; break;
      case MfResult::failed: ++s.failed; break;
      case MfResult::delayed: ++s.delayed; break;
      case MfResult::recovered: ++s.recovered; break;
    }
  }
  ctx_->log->printk(h, LOGLEVEL_ERR, "Memory failure: %#lx: recovery action for %s: %s",
                    static_cast<unsigned long>(pfn), mf_page_type_name(type), mf_result_name(result));
  return (result == MfResult::recovered || result == MfResult::delayed) ? 0 : -EBUSY;
}

bool MemoryFailure::set_hwpoison(page* p) {
  if (PageHWPoison(p)) return false;
  SetPageHWPoison(p);
  ctx_->vmstat->mod(page_to_nid(p), NR_HWPOISON, 1);
  return true;
}

// ---------------------------------------------------------------- free pages

int MemoryFailure::get_hwpoison_page(hal::Hal& h, page* p) {
  // Pages on the per-CPU lists count as free: give them back to the buddy
  // lists first (zone_pcp_disable).
  if (page_ref_count(compound_head(p)) == 0) ctx_->pcp->drain_all_pages(h, ctx_->nodes->page_zone(p));
  page* head = compound_head(p);
  if (page_ref_count(head) == 0) return 0;
  // HWPoisonHandlable: only LRU pages (and free ones) can be handled.
  if (PageSlab(head) || !PageLRU(head)) {
    pr_err(h, "%#lx: unhandlable page.%s", ctx_->nodes->page_to_pfn(p), "");
    return -EIO;
  }
  get_page(head);
  return 1;
}

// ---------------------------------------------------------------- who is signalled

task_struct* MemoryFailure::task_early_kill(hal::Hal& h, task_struct* tsk, bool force_early) {
  if (!tsk->mm) return nullptr;
  task_struct* cur = tasks_ ? tasks_->mf_current(h) : nullptr;
  if (force_early && cur && tsk->mm == cur->mm) return cur;
  // find_early_kill_thread: the first thread whose policy (its own, or the
  // system's) is early kill.
  for (list_head* l = ctx_->tasks->next; l != ctx_->tasks; l = l->next) {
    task_struct* t = list_entry(l, task_struct, tasks);
    if (t->tgid != tsk->tgid || t->exit_pending) continue;
    if (t->mce_kill & PF_MCE_PROCESS) {
      if (t->mce_kill & PF_MCE_EARLY) return t;
    } else if (ctx_->params->memory_failure_early_kill) {
      return t;
    }
  }
  return nullptr;
}

namespace {

// collect_procs_anon/file: the VMAs mapping the page, each of the process
// that takes the early signal.
struct CollectVisitor final : RmapVisitor {
  CollectVisitor(MemoryFailure* m, const list_head* t, MfKillList* l, bool f) : mf(m), tasks(t), list(l), force(f) {}
  bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) override {
    for (list_head* l = tasks->next; l != tasks; l = l->next) {
      task_struct* tsk = list_entry(l, task_struct, tasks);
      if (tsk->pid != tsk->tgid || tsk->mm != vma->vm_mm) continue;  // for_each_process: group leaders
      task_struct* t = mf->task_early_kill(h, tsk, force);
      if (t) list->add(t, address, shift);
    }
    return true;
  }
  MemoryFailure* mf;
  const list_head* tasks;
  MfKillList* list;
  bool force;
  uint8_t shift = PAGE_SHIFT;
};

}  // namespace

void MfKillList::add(task_struct* t, uint64_t addr, uint8_t shift) {
  for (unsigned i = 0; i < n; ++i)
    if (tk[i].tsk == t && tk[i].addr == addr) return;
  if (n == kMax) return;  // (Linux's kmalloc failure: "Out of memory while machine check handling")
  tk[n++] = {t, addr, shift};
}

void MemoryFailure::collect_procs(hal::Hal& h, page* p, MfKillList* list, bool force_early) {
  page* head = compound_head(p);
  CollectVisitor v(this, ctx_->tasks, list, force_early);
  v.shift = static_cast<uint8_t>(PAGE_SHIFT + compound_order(head));
  // The address of the bad page itself within a folio mapped whole.
  ctx_->rmap->rmap_walk(h, head, v);
  if (head != p)
    for (unsigned i = 0; i < list->n; ++i) list->tk[i].addr += (p - head) * PAGE_SIZE;
}

void MemoryFailure::kill_proc(hal::Hal& h, const MfToKill& tk, uint64_t pfn, int flags) {
  task_struct* t = tk.tsk;
  char who[48];
  fw::snprintf(who, sizeof who, "%s:%d", t->comm, t->pid);
  pr_err(h, "%#lx: Sending SIGBUS to %s due to hardware memory corruption", pfn, who);
  const bool ar = (flags & MF_ACTION_REQUIRED) && t == tasks_->mf_current(h);
  ++stats_.signals;
  tasks_->mf_send_sigbus(h, t, ar ? uapi::kBusMceerrAr : uapi::kBusMceerrAo, tk.addr, tk.size_shift);
}

void MemoryFailure::kill_procs(hal::Hal& h, const MfKillList& list, bool forcekill, uint64_t pfn, int flags) {
  if (!forcekill || !tasks_) return;
  for (unsigned i = 0; i < list.n; ++i) kill_proc(h, list.tk[i], pfn, flags);
}

int MemoryFailure::kill_accessing_process(hal::Hal& h, task_struct* t, uint64_t pfn, int flags) {
  if (!t || !t->mm) return -EFAULT;
  mm_struct* mm = t->mm;
  PgTable& pt = *ctx_->pgtable;
  LockGuard g(mm->mmap_lock, h);
  for (list_head* l = mm->mmap.next; l != &mm->mmap; l = l->next) {
    const vm_area_struct* vma = list_entry(l, vm_area_struct, vm_list);
    for (uint64_t addr = vma->vm_start; addr < vma->vm_end;) {
      PteLookup e;
      pt.lookup(h, mm->pgd, addr, &e);
      const unsigned level = e.level ? e.level : x86::LEVEL_PT;
      const uint64_t size = x86::level_size(level);
      const uint64_t base = addr & ~(size - 1);
      uint64_t hit = ~0ull;
      if (e.present) {
        const uint64_t first = ((e.entry & pt.phys_mask()) & ~(size - 1)) >> PAGE_SHIFT;
        if (pfn >= first && pfn < first + (size >> PAGE_SHIFT)) hit = base + (pfn - first) * PAGE_SIZE;
      } else if (is_swap_pte(e.entry) && is_hwpoison_entry(pte_to_swp_entry(e.entry)) &&
                 swp_offset(pte_to_swp_entry(e.entry)) == pfn) {
        hit = base;
      }
      if (hit != ~0ull) {
        // check_hwpoisoned_entry found it: SIGBUS at the page of the entry.
        kill_proc(h, MfToKill{t, hit & PAGE_MASK, static_cast<uint8_t>(x86::level_shift(level))}, pfn, flags);
        return -EHWPOISON;
      }
      addr = base + size;
    }
  }
  return 0;
}

// ---------------------------------------------------------------- unmapping

bool MemoryFailure::hwpoison_user_mappings(hal::Hal& h, page* p, uint64_t pfn, int flags) {
  // Only user-mapped pages: kernel pages and unmapped pages are left as they are.
  if (PageReserved(p) || PageSlab(p) || PageTable(p)) return true;
  if (!PageLRU(p) || !page_mapped(p)) return true;
  const bool mlocked = PageFlag(p, PG_mlocked);
  MfKillList tokill;
  collect_procs(h, p, &tokill, flags & MF_ACTION_REQUIRED);
  // unmap_poisoned_folio.
  unsigned ttu = TTU_IGNORE_MLOCK | TTU_HWPOISON;
  if (PageSwapCache(p)) {
    pr_err(h, "%#lx: keeping poisoned page in swap cache%s", pfn, "");
    ttu &= ~TTU_HWPOISON;
  }
  // A clean page of a file that can be written back: its data is on disk.
  // Look at the PTEs' dirty bits first; none set: the page is just dropped.
  if (!(flags & MF_MUST_KILL) && !PageDirty(p) && page_host(p)) {
    if (ctx_->writeback->folio_mkclean(h, p)) {
      ctx_->filemap->folio_mark_dirty(h, p);
    } else {
      ttu &= ~TTU_HWPOISON;
      ctx_->log->printk(h, LOGLEVEL_INFO, "Memory failure: %#lx: corrupted page was clean: dropped without side effects",
                        static_cast<unsigned long>(pfn));
    }
  }
  ctx_->rmap->try_to_unmap(h, p, ttu);
  const bool unmap_success = !page_mapped(p);
  if (!unmap_success)
    ctx_->log->printk(h, LOGLEVEL_ERR, "Memory failure: %#lx: failed to unmap page (folio mapcount=%d)",
                      static_cast<unsigned long>(pfn), page_mapcount(p));
  // The last locked mapping went: the page is no longer mlocked
  // (folio_remove_rmap's munlock in Linux).
  if (mlocked && unmap_success) munlock_folio(h, ctx_, p);
  // Kill only when the data was dirty (lost), the task cannot restart, or
  // the page is still mapped.
  const bool forcekill = PageDirty(p) || (flags & MF_MUST_KILL) || !unmap_success;
  kill_procs(h, tokill, forcekill, pfn, flags);
  return unmap_success;
}

// ---------------------------------------------------------------- the actions

bool MemoryFailure::delete_from_lru_cache(hal::Hal& h, page* p) {
  if (!ctx_->lru->isolate_lru(h, p)) return false;
  ClearPageFlag(p, PG_active);
  ClearPageFlag(p, PG_unevictable);
  put_page_testzero(p);  // isolate_lru's reference (memory_failure() holds another)
  return true;
}

MfResult MemoryFailure::has_extra_refcount(hal::Hal& h, page* p, MfPageType type, bool extra_pins, MfResult r) {
  const int count = page_ref_count(p) - 1 - (extra_pins ? 1 : 0);
  if (count <= 0) return r;
  char what[96];
  fw::snprintf(what, sizeof what, "%s still referenced by %d users", mf_page_type_name(type), count);
  pr_err(h, "%#lx: %s", ctx_->nodes->page_to_pfn(p), what);
  return MfResult::failed;
}

MfResult MemoryFailure::me_pagecache_clean(hal::Hal& h, page* p, MfPageType type) {
  delete_from_lru_cache(h, p);
  // An anonymous page: only memory_failure()'s reference is left.
  if (PageAnon(p)) return has_extra_refcount(h, p, type, false, MfResult::recovered);
  address_space* mapping = page_mapping_obj(p);
  if (!mapping) return MfResult::failed;  // torn down meanwhile
  // Shared memory keeps the page in its object (shmem_error_remove_folio):
  // a later fault finds it poisoned. A file's page leaves the cache
  // (generic_error_remove_folio): the next access reads the disk.
  const bool extra_pins = mapping->kind != MappingKind::file;
  if (!extra_pins) ctx_->filemap->delete_from_page_cache(h, p);
  return has_extra_refcount(h, p, type, extra_pins, MfResult::recovered);
}

MfResult MemoryFailure::me_pagecache_dirty(hal::Hal& h, page* p, MfPageType type) {
  // mapping_set_error: the next fsync of the file reports EIO (its data
  // in this page never reaches the disk).
  if (inode* ino = page_host(p)) ino->i_wb_err = -EIO;
  return me_pagecache_clean(h, p, type);
}

MfResult MemoryFailure::me_swapcache_dirty(hal::Hal& h, page* p, MfPageType type) {
  // Kept in the swap cache, clean and not uptodate: a fault on the slot
  // finds it poisoned (do_swap_page) and kills; never written out.
  ClearPageFlag(p, PG_dirty);
  ClearPageFlag(p, PG_uptodate);
  const MfResult r = delete_from_lru_cache(h, p) ? MfResult::delayed : MfResult::failed;
  return has_extra_refcount(h, p, type, r == MfResult::delayed, r);
}

MfResult MemoryFailure::me_swapcache_clean(hal::Hal& h, page* p, MfPageType type) {
  // The slot holds the good data: the page leaves the swap cache and a
  // later fault reads the slot again.
  if (PageSwapCache(p)) {
    ctx_->swap_cache->delete_from_swap_cache(h, p, 0);
    put_page_testzero(p);  // the cache's reference
  }
  const MfResult r = delete_from_lru_cache(h, p) ? MfResult::recovered : MfResult::failed;
  return has_extra_refcount(h, p, type, false, r);
}

int MemoryFailure::identify_page_state(hal::Hal& h, uint64_t pfn, page* p, uint64_t page_flags) {
  // error_states[]: the first row whose mask matches, on the flags now and
  // (when they say nothing) on the flags saved before unmapping.
  struct Row {
    uint64_t mask, res;
    MfPageType type;
  };
  constexpr uint64_t dirty = 1ull << PG_dirty, sc = (1ull << PG_swapcache) | (1ull << PG_swapbacked),
                     unevict = 1ull << PG_unevictable, mlock = 1ull << PG_mlocked, lru = 1ull << PG_lru,
                     reserved = 1ull << PG_reserved;
  static const Row rows[] = {
      {reserved, reserved, MfPageType::kernel},
      {sc | dirty, sc | dirty, MfPageType::dirty_swapcache},
      {sc | dirty, sc, MfPageType::clean_swapcache},
      {mlock | dirty, mlock | dirty, MfPageType::dirty_mlock},
      {mlock | dirty, mlock, MfPageType::clean_mlock},
      {unevict | dirty, unevict | dirty, MfPageType::dirty_unevict},
      {unevict | dirty, unevict, MfPageType::clean_unevict},
      {lru | dirty, lru | dirty, MfPageType::dirty_lru},
      {lru | dirty, lru, MfPageType::clean_lru},
      {0, 0, MfPageType::unknown},
  };
  const Row* row = nullptr;
  for (const Row& r : rows)
    if ((p->flags & r.mask) == r.res) {
      row = &r;
      break;
    }
  page_flags |= p->flags & (1ull << PG_dirty);  // the unmap may have found the page dirty
  if (row->type == MfPageType::unknown)
    for (const Row& r : rows)
      if ((page_flags & r.mask) == r.res) {
        row = &r;
        break;
      }
  MfResult res = MfResult::ignored;
  switch (row->type) {
    case MfPageType::kernel: break;
    case MfPageType::dirty_swapcache: res = me_swapcache_dirty(h, p, row->type); break;
    case MfPageType::clean_swapcache: res = me_swapcache_clean(h, p, row->type); break;
    case MfPageType::dirty_mlock:
    case MfPageType::dirty_unevict:
    case MfPageType::dirty_lru: res = me_pagecache_dirty(h, p, row->type); break;
    case MfPageType::clean_mlock:
    case MfPageType::clean_unevict:
    case MfPageType::clean_lru: res = me_pagecache_clean(h, p, row->type); break;
    default:
      pr_err(h, "%#lx: Unknown page state%s", pfn, "");
      break;
  }
  return action_result(h, pfn, row->type, res);
}

// ---------------------------------------------------------------- memory_failure()

int MemoryFailure::memory_failure(hal::Hal& h, uint64_t pfn, int flags) {
  if (!ctx_->params->memory_failure_recovery) ctx_->log->panic(h, "Memory failure on page %lx", static_cast<unsigned long>(pfn));
  if (!(flags & MF_SW_SIMULATED)) hw_memory_failure_ = true;
  page* p = ctx_->nodes->pfn_to_page_init(pfn);
  if (!p) {
    pr_err(h, "%#lx: memory outside kernel control%s", pfn, "");
    return -ENXIO;
  }
  ++stats_.calls;
  bool hugetlb = false;
  const int hres = try_memory_failure_hugetlb(h, p, pfn, flags, &hugetlb);
  if (hugetlb) return hres;
  if (!set_hwpoison(p)) {
    int res = -EHWPOISON;
    if (flags & MF_ACTION_REQUIRED) res = kill_accessing_process(h, tasks_ ? tasks_->mf_current(h) : nullptr, pfn, flags);
    if (flags & MF_COUNT_INCREASED) ctx_->page_alloc->put_page(h, p);
    action_result(h, pfn, MfPageType::already_poisoned, MfResult::failed);
    return res;
  }
  if (!(flags & MF_COUNT_INCREASED)) {
    const int got = get_hwpoison_page(h, p);
    if (got == 0) {
      if (PageBuddy(p) || ctx_->buddy->find_free_block(ctx_->nodes->page_zone(p), pfn, &scratch_pfn_))
        return action_result(h, pfn, MfPageType::buddy,
                             ctx_->page_alloc->take_page_off_buddy(h, p) ? MfResult::recovered : MfResult::failed);
      return action_result(h, pfn, MfPageType::kernel_high_order, MfResult::ignored);
    }
    if (got < 0) return action_result(h, pfn, MfPageType::get_hwpoison, MfResult::ignored);
  }
  return memory_failure_user(h, p, pfn, flags);
}

int MemoryFailure::memory_failure_user(hal::Hal& h, page* p, uint64_t pfn, int flags) {
  page* head = compound_head(p);
  if (head != p || PageHead(p)) {
    // A THP is split first; the bad 4 KiB page is handled alone.
    if (!PageTransHuge(head) || ctx_->huge_memory->split_huge_page(h, head) != 0) {
      // kill_procs_now: the mappers hear of it at once, whatever their policy.
      MfKillList tokill;
      collect_procs(h, p, &tokill, flags & MF_ACTION_REQUIRED);
      kill_procs(h, tokill, true, pfn, flags);
      ctx_->page_alloc->put_page(h, head);
      action_result(h, pfn, MfPageType::unsplit_thp, MfResult::failed);
      return -EHWPOISON;
    }
    // The split left our reference on the first page: it belongs to the
    // bad one. A piece nobody mapped was kept off the free lists (it is
    // poisoned) with one reference, which becomes ours.
    if (head != p) {
      const bool in_use = PageLRU(p) || page_mapped(p);
      ctx_->page_alloc->put_page(h, head);
      if (in_use) get_page(p);
    }
  }
  // The flags before the unmap decide the row: unmapping clears mlock.
  const uint64_t page_flags = p->flags;
  if (!PageLRU(p) && !PageFlag(p, PG_writeback)) return identify_page_state(h, pfn, p, page_flags);
  // (folio_wait_writeback: a page under writeback here completes its I/O
  // synchronously in this firmware's model.)
  if (!hwpoison_user_mappings(h, p, pfn, flags))
    return action_result(h, pfn, MfPageType::unmap_failed, MfResult::failed);
  // Torn down by someone else meanwhile?
  if (PageLRU(p) && !PageSwapCache(p) && !p->mapping)
    return action_result(h, pfn, MfPageType::truncated_lru, MfResult::ignored);
  return identify_page_state(h, pfn, p, page_flags);
}

void MemoryFailure::memory_failure_queue(hal::Hal& h, uint64_t pfn, int flags) {
  if (fifo_len_ == kFifoSize) {
    pr_err(h, "buffer overflow when queuing memory failure at %#lx%s", pfn, "");
    return;
  }
  fifo_[(fifo_head_ + fifo_len_++) % kFifoSize] = {pfn, flags};
}

void MemoryFailure::memory_failure_work(hal::Hal& h) {
  while (fifo_len_) {
    const QueuedPfn q = fifo_[fifo_head_];
    fifo_head_ = (fifo_head_ + 1) % kFifoSize;
    --fifo_len_;
    memory_failure(h, q.pfn, q.flags);
  }
}

// ---------------------------------------------------------------- /proc

void memory_failure_stat_show(seq_file* m, const MmContext& ctx, unsigned nid, unsigned field) {
  const MemoryFailureStats& s = ctx.memory_failure->node_stats(static_cast<int>(nid));
  const uint64_t v[] = {s.total, s.ignored, s.failed, s.delayed, s.recovered};
  seq_printf(m, "%lu\n", static_cast<unsigned long>(v[field]));
}

bool memory_failure_stat_present(const MmContext& ctx, unsigned nid) {
  return ctx.memory_failure && ctx.memory_failure->happened() && nid < ctx.nodes->nr_nodes();
}

// ---------------------------------------------------------------- statistics

void MemoryFailure::visit_stats(StatVisitor& v, const char* prefix) const {
  // Only once a memory failure happened: runs without memory errors keep
  // the statistics they had.
  if (!happened()) return;
  const StatEmitter e(v, prefix);
  e("num_poisoned_pages", num_poisoned_pages_, "pages poisoned (Linux num_poisoned_pages)", "pages");
  e("calls", stats_.calls, "memory_failure() calls on pages the kernel manages", "count");
  e("signals", stats_.signals, "SIGBUS sent by memory_failure() (early kill, action required)", "count");
  for (unsigned n = 0; n < ctx_->nodes->nr_nodes(); ++n) {
    const MemoryFailureStats& s = node_stats_[n];
    e.fmt(s.total, "pages handled by memory_failure() on the node (proc/nodeN/memory_failure/total)", "pages",
          "node%u.total", n);
    e.fmt(s.ignored, "... whose result was Ignored", "pages", "node%u.ignored", n);
    e.fmt(s.failed, "... Failed", "pages", "node%u.failed", n);
    e.fmt(s.delayed, "... Delayed", "pages", "node%u.delayed", n);
    e.fmt(s.recovered, "... Recovered", "pages", "node%u.recovered", n);
  }
}

}  // namespace fw
