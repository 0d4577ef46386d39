// fw::Kernel's debug interface (hal::FirmwareDebug, sw/hal/debug.h): its
// statistics, each subsystem visiting its own in a fixed order; /proc
// through the table of sw/fs/proc; tasks and page tables. stats.txt's
// meminfo.*, vmstat.*, zone.* and node*.* come from the same walkers as
// proc/meminfo, proc/vmstat, proc/zoneinfo, proc/buddyinfo and
// proc/pagetypeinfo, so they always agree.
#include "sw/fs/proc/proc_fs.h"
#include "sw/kernel/kernel.h"
#include "sw/lib/seq_file.h"
#include "sw/lib/string.h"
#include "sw/mm/rmap.h"

namespace fw {

namespace {

// Returns the pid at the start of s (setting *rest past it), or -1 when s
// does not start with a digit.
int parse_pid(const char* s, const char** rest) {
  int v = 0;
  if (*s < '0' || *s > '9') return -1;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  *rest = s;
  return v;
}

// Looks for a page-table entry with its Dirty bit among those mapping the
// page frame `pfn`, the `index`th page of its folio (a THP mapped by a PMD
// or by PTEs): the walk gives the folio's address in each VMA.
struct PteDirtyVisitor final : RmapVisitor {
  PteDirtyVisitor(PgTable& t, uint64_t f, uint64_t i) : pt(t), pfn(f), index(i) {}
  bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) override {
    const uint64_t va = address + index * PAGE_SIZE;
    PteLookup e;
    if (va >= vma->vm_end || !pt.lookup(h, vma->vm_mm->pgd, va, &e) || !e.present) return true;
    const uint64_t size = x86::level_size(e.level ? e.level : x86::LEVEL_PT);
    const uint64_t mapped = (((e.entry & pt.phys_mask()) & ~(size - 1)) + (va & (size - 1))) >> PAGE_SHIFT;
    if (mapped == pfn && (e.entry & x86::PTE_D)) dirty = true;
    return !dirty;
  }
  PgTable& pt;
  uint64_t pfn, index;
  bool dirty = false;
};

// Returns true when the page at pfn (struct p) is on the page allocator's
// free lists: in a buddy free block or on a CPU's per-CPU list.
bool on_free_lists(const MmNodes& nodes, Buddy& buddy, uint64_t pfn, const page* p) {
  zone* z = const_cast<MmNodes&>(nodes).page_zone(p);
  uint64_t head_pfn;
  if (PageBuddy(p) || buddy.find_free_block(z, pfn, &head_pfn)) return true;
  if (!z->per_cpu_pageset) return false;
  for (unsigned c = 0; c < nodes.nr_cpus(); ++c)
    for (list_head& l : z->per_cpu_pageset[c].lists)
      for (list_head* e = l.next; e != &l; e = e->next) {
        const page* q = list_entry(e, page, lru);
        const uint64_t first = nodes.page_to_pfn(q);
        if (pfn >= first && pfn < first + (1ull << q->private_)) return true;
      }
  return false;
}

}  // namespace

void Kernel::visit_stats(StatVisitor& v) const {
  StatEmitter(v, "time")("charged_ns", ctx_.charged_ns, "simulated time charged for firmware work", "ns");
  log_.visit_stats(v, "log");
  memblock_.visit_stats(v, "memblock");
  nodes_.visit_stats(v, "mem");
  watermark_.visit_stats(v, "mem");
  pcp_.visit_stats(v, "mem");
  page_alloc_.visit_stats(v, "buddy");
  zoneinfo_visit_stats(ctx_, v);
  meminfo_visit_stats(ctx_, v, "meminfo");
  vmstat_visit_stats(ctx_, v, "vmstat");
  pgtable_.visit_stats(v, "pgtable");
  tlb_.visit_stats(v, "tlb");
  memory_.visit_stats(v, "fault");
  mmap_.visit_stats(v, "mmap");
  mprotect_.visit_stats(v, "mprotect");
  madvise_.visit_stats(v, "madvise");
  fork_.visit_stats(v, "fork");
  shmem_.visit_stats(v, "shmem");
  huge_memory_.visit_stats(v, "thp");
  khugepaged_.visit_stats(v, "khugepaged");
  hugetlb_.visit_stats(v, "hugetlb");
  slab_.visit_stats(v, "slab");
  vmalloc_.visit_stats(v, "vmalloc");
  cma_.visit_stats(v, "cma");
  compaction_.visit_stats(v, "compaction");
  migrate_.visit_stats(v, "migrate");
  isolation_.visit_stats(v, "isolation");
  rmap_.visit_stats(v, "rmap");
  kswapd_.visit_stats(v, "kswapd");
  oom_.visit_stats(v, "oom");
  gup_.visit_stats(v, "gup");
  dma_.visit_stats(v);
  dma_driver_.visit_stats(v, "dmaengine");
  blk_driver_.visit_stats(v, "blk");
  // Storage: only on machines with block devices (the others' statistics
  // stay as they were).
  if (blockdevs_.count) {
    mmfs_.visit_stats(v, "mmfs");
    filemap_.visit_stats(v, "filemap");
    readahead_.visit_stats(v, "readahead");
    writeback_.visit_stats(v, "writeback");
  }
  // Swap: only on machines with swap areas.
  if (swapfile_.nr_areas()) swapfile_.visit_stats(v, "swap");
  task_stats_.visit(v, "task");
  sched_.visit_stats(v, "sched");
  syscall_stats_.visit(v, "syscall", blockdevs_.count != 0);
  mce_.stats().visit(v, "mce");
  cec_.visit_stats(v, "cec");
  memory_failure_.visit_stats(v, "memory_failure");
  irq_stats_.visit(v, "irq");
}

const char* Kernel::proc_file(unsigned index) const {
  const proc_entry* e = proc_root_entry(index);
  return e ? e->name : nullptr;
}

bool Kernel::proc_show(const char* name, TextSink& sink) const {
  seq_file m(sink);
  if (const proc_entry* e = proc_root_lookup(name)) {
    if (e->present && !e->present(ctx_)) return false;
    e->show(&m, ctx_);
    return true;
  }
  // "<pid>/<file>"
  const char* rest = nullptr;
  const int pid = parse_pid(name, &rest);
  if (pid <= 0 || *rest != '/') return false;
  const pid_entry* e = proc_pid_lookup(rest + 1);
  if (e && e->show_task) {
    const task_struct* t = find_task(pid);
    if (!t) return false;
    e->show_task(&m, ctx_, *t);
    return true;
  }
  const mm_struct* mm = e ? mm_of(pid) : nullptr;
  if (!mm) return false;
  e->show(&m, *mm);
  return true;
}

void Kernel::visit_tasks(hal::TaskVisitor& v) const {
  // The task list is in creation order, which is pid order.
  for (const list_head* p = tasks_.next; p != &tasks_; p = p->next) {
    const task_struct* t = list_entry(const_cast<list_head*>(p), task_struct, tasks);
    hal::TaskInfo info{};
    info.pid = t->pid;
    info.tgid = t->tgid;
    info.cpu = t->cpu;
    info.running = t->state == TaskState::running;
    static_assert(sizeof info.comm >= TASK_COMM_LEN, "comm fits");
    for (unsigned i = 0; i < TASK_COMM_LEN; ++i) info.comm[i] = t->comm[i];
    v.task(info);
  }
}

bool Kernel::page_table_root(int pid, hal::paddr_t& root) const {
  if (pid == 0) {
    root = kernel_root_;
    return root != 0;
  }
  const mm_struct* mm = mm_of(pid);
  if (!mm) return false;
  root = mm->pgd;
  return true;
}

bool Kernel::translate(hal::Hal& h, int pid, hal::vaddr_t va, hal::Translation& out) {
  PteLookup l;
  const bool ok = translate(h, pid, va, &l);
  out = hal::Translation{ok && l.present, l.level, l.entry, l.entry_pa};
  return out.present;
}

bool Kernel::translate(hal::Hal& h, int pid, uint64_t va, PteLookup* out) {
  uint64_t root = kernel_root_;
  if (pid != 0) {
    mm_struct* mm = mm_of(pid);
    if (!mm) return false;
    root = mm->pgd;
  }
  return root && pgtable_.lookup(h, root, va, out);
}

// ---------------------------------------------------------------- page cache

bool Kernel::fincore(const char* name, TextSink& sink) const {
  const inode* found = nullptr;
  const_cast<Filemap&>(filemap_).for_each_inode([&](inode* ino) {
    if (!found && str_eq(ino->i_name, name)) found = ino;
  });
  if (!found) return false;
  // util-linux fincore's columns, with the dirty and writeback page counts.
  seq_file m(sink);
  const uint64_t res = found->i_mapping->nrpages;
  seq_printf(&m, "%6s %6s %11s %15s %12s %s\n", "RES", "PAGES", "DIRTY_PAGES", "WRITEBACK_PAGES", "SIZE", "FILE");
  seq_printf(&m, "%5luK %6lu %11lu %15lu %12lu %s\n", static_cast<unsigned long>(res << (PAGE_SHIFT - 10)),
             static_cast<unsigned long>(res), static_cast<unsigned long>(found->nr_dirty),
             static_cast<unsigned long>(found->nr_writeback), static_cast<unsigned long>(found->i_size),
             found->i_name);
  return true;
}

void Kernel::hwpoison_show(TextSink& out) const {
  seq_file m(out);
  const auto ull = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  seq_printf(&m, "num_poisoned_pages: %llu\n", ull(memory_failure_.num_poisoned_pages()));
  for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
    const MemoryFailureStats& s = memory_failure_.node_stats(static_cast<int>(n));
    seq_printf(&m, "node%u memory_failure: total %llu ignored %llu failed %llu delayed %llu recovered %llu\n", n,
               ull(s.total), ull(s.ignored), ull(s.failed), ull(s.delayed), ull(s.recovered));
  }
  seq_printf(&m, "Correctable Errors collector (ras/cec/array):\n");
  cec_.show(out);
}

bool Kernel::page_state(uint64_t pfn, TextSink& sink) const {
  const page* p = const_cast<MmNodes&>(nodes_).pfn_to_page(pfn);
  if (!p) return false;
  static constexpr const char* kFlagNames[NR_PAGEFLAGS] = {
      "locked", "referenced", "uptodate", "dirty",   "lru",       "head",     "active",   "slab",  "reserved",
      "private", "writeback", "swapbacked", "unevictable", "mlocked", "hwpoison", "isolated", "readahead"};
  seq_file m(sink);
  seq_printf(&m, "pfn %#lx node %d zone %s refcount %d mapcount %d flags", static_cast<unsigned long>(pfn),
             page_to_nid(p), zone_name(page_zonenum(p)), page_ref_count(p), page_mapcount(p));
  bool any = false;
  for (unsigned b = 0; b < NR_PAGEFLAGS; ++b)
    if (PageFlag(p, b)) {
      seq_printf(&m, "%c%s", any ? '|' : ' ', kFlagNames[b]);
      any = true;
    }
  if (PageBuddy(p)) seq_printf(&m, "%cbuddy", any ? '|' : ' ');
  if (!any && !PageBuddy(p)) seq_printf(&m, " none");
  const address_space* obj = page_mapping_obj(p);
  if (PageAnon(p)) seq_printf(&m, "\nmapping: anonymous, index %#lx", static_cast<unsigned long>(p->index));
  else if (obj && obj->kind == MappingKind::file)
    seq_printf(&m, "\nmapping: file %s (inode %u), index %lu", obj->host->i_name, obj->host->i_ino,
               static_cast<unsigned long>(p->index));
  else if (obj) seq_printf(&m, "\nmapping: shared memory object %lu, index %lu", static_cast<unsigned long>(obj->id),
                           static_cast<unsigned long>(p->index));
  seq_printf(&m, "\n");
  return true;
}

bool Kernel::page_info(uint64_t pfn, hal::PageInfo& out) const {
  const page* p = nodes_.pfn_to_page(pfn);
  if (!p) return false;
  const page* head = compound_head(p);
  using K = hal::PageInfo;
  // Linux's stable_page_flags(): the page's own flags, its compound page's
  // kind on every page of it.
  const struct {
    bool set;
    unsigned kpf;
  } bits[] = {
      {PageFlag(head, PG_dirty), K::kDirty},         {PageLRU(head), K::kLru},
      {PageSlab(head), K::kSlab},                    {PageFlag(head, PG_writeback), K::kWriteback},
      {PageBuddy(p), K::kBuddy},                     {page_mapped(p) || folio_mapped(head), K::kMmap},
      {PageAnon(head), K::kAnon},                    {PageSwapCache(head), K::kSwapCache},
      {PageFlag(head, PG_swapbacked), K::kSwapBacked}, {PageHead(p), K::kCompoundHead},
      {PageTail(p), K::kCompoundTail},               {PageHuge(head), K::kHuge},
      {PageFlag(head, PG_unevictable), K::kUnevictable}, {PageHWPoison(p), K::kHwpoison},
      {PageTransHuge(head), K::kThp},                {PageTable(p), K::kPgtable},
      {PageReserved(p), K::kReserved},               {PageFlag(head, PG_mlocked), K::kMlocked},
  };
  out = hal::PageInfo{};
  // A block whose struct pages are not written yet (deferred memmap init):
  // what its pages will say once initialized.
  if (const zone* z = const_cast<MmNodes&>(nodes_).pfn_zone(pfn)) {
    if (z->pfnblock_deferred(pfn)) {
      out.free = true;
      return true;
    }
    if (z->pfnblock_reserved_deferred(pfn)) {
      out.kpageflags = 1ull << K::kReserved;
      out.refcount = 1;
      return true;
    }
  }
  for (const auto& b : bits)
    if (b.set) out.kpageflags |= 1ull << b.kpf;
  out.refcount = page_ref_count(head);
  // Linux's page_mapcount: its own PTEs plus the mappings of its folio as a whole.
  out.mapcount = page_mapcount(p) + (PageHead(head) ? folio_entire_mapcount(head) : 0);
  out.free = page_ref_count(head) == 0 && on_free_lists(nodes_, const_cast<Buddy&>(buddy_), pfn, p);
  out.folio_hwpoison = PageHWPoison(head);
  if (PageHuge(head)) {
    const hstate* hs = const_cast<Hugetlb&>(hugetlb_).hstate_of(PAGE_SHIFT + compound_order(head));
    out.hugetlb_spare = hs && hs->free_huge_pages > hs->resv_huge_pages;
  }
  const address_space* obj = page_mapping_obj(head);
  out.file = !PageAnon(head) && obj && obj->kind == MappingKind::file;
  return true;
}

bool Kernel::page_pte_dirty(hal::Hal& cpu, uint64_t pfn) {
  page* p = nodes_.pfn_to_page(pfn);
  if (!p) return false;
  page* head = compound_head(p);
  // Only user pages on an LRU list have a reverse map to walk.
  if (!PageLRU(head) || PageSlab(head) || !(page_mapped(p) || folio_mapped(head))) return false;
  PteDirtyVisitor v(pgtable_, pfn, static_cast<uint64_t>(p - head));
  rmap_.rmap_walk(cpu, head, v);
  return v.dirty;
}

}  // namespace fw
