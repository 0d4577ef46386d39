// The Kernel's observation side: statistics for the simulator and
// Linux-format /proc text.
#include "sw/kernel/kernel.h"
#include "sw/lib/format.h"
#include "sw/lib/string.h"

namespace fw {

namespace {

class Emit {
 public:
  explicit Emit(StatVisitor& v) : v_(v) {}
  void operator()(const char* name, uint64_t value, const char* desc, const char* unit) { v_.scalar(name, value, desc, unit); }
  // A name built with printf-style arguments.
  template <typename... A>
  void fmt(uint64_t value, const char* desc, const char* unit, const char* name_fmt, A... args) {
    char name[96];
    fw::snprintf(name, sizeof name, name_fmt, args...);
    v_.scalar(name, value, desc, unit);
  }

 private:
  StatVisitor& v_;
};

class Out {
 public:
  explicit Out(TextSink& s) : s_(s) {}
  void printf(const char* fmt, ...) FW_PRINTF(2, 3) {
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = fw::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > static_cast<int>(sizeof line) - 1) n = sizeof line - 1;
    if (n > 0) s_.write(line, static_cast<size_t>(n));
  }
  // A /proc/meminfo line: label padded to 16 columns, value in kB width 8.
  void kb(const char* label, uint64_t kb) {
    char l[32];
    fw::snprintf(l, sizeof l, "%s:", label);
    printf("%-*s%8lu kB\n", str_len(l) < 16 ? 16 : static_cast<int>(str_len(l)) + 1, l, static_cast<unsigned long>(kb));
  }

 private:
  TextSink& s_;
};

uint64_t pages_kb(uint64_t pages) { return pages << (PAGE_SHIFT - 10); }

int parse_pid(const char* s, const char** rest) {
  int v = 0;
  if (*s < '0' || *s > '9') return -1;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  *rest = s;
  return v;
}

}  // namespace

void Kernel::visit_stats(StatVisitor& vis) const {
  Emit e(vis);
  e("time.charged_ns", ctx_.charged_ns, "simulated time charged for firmware work", "ns");
  e("log.lines", log_.lines(), "kernel log lines", "count");

  e("memblock.memory_bytes", memblock_.memory().total_size, "usable RAM in the boot memory map", "bytes");
  e("memblock.reserved_bytes", memblock_.reserved().total_size, "memory memblock kept from the allocator", "bytes");
  e("mem.memmap_bytes", nodes_.memmap_bytes(), "struct page array (memmap) in simulated DRAM", "bytes");
  e("mem.present_pages", nodes_.total_present_pages(), "usable RAM pages in all zones", "pages");
  e("mem.managed_pages", nodes_.total_managed_pages(), "pages given to the buddy allocator", "pages");

  const BuddyStats& bs = buddy_.stats();
  e("buddy.free_pages", buddy_.nr_free_pages(), "free pages in the buddy allocator", "pages");
  e("buddy.boot_free_pages", bs.boot_free_pages, "free pages when boot finished", "pages");
  e("buddy.min_free_pages", bs.min_free_pages, "lowest free page count since boot", "pages");
  e("buddy.alloc_calls", bs.alloc_calls, "successful block allocations", "count");
  e("buddy.alloc_failed", bs.alloc_failed, "failed block allocations", "count");
  e("buddy.free_calls", bs.free_calls, "blocks freed", "count");
  e("buddy.splits", bs.splits, "blocks split in two on allocation", "count");
  e("buddy.merges", bs.merges, "buddy pairs merged on free", "count");
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
    e.fmt(buddy_.nr_free_blocks(o), "free blocks of this order, all zones", "count", "buddy.order%u.free_blocks", o);
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
    e.fmt(bs.alloc_order[o], "allocations of this order", "count", "buddy.order%u.allocs", o);

  for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
    const pglist_data& pg = nodes_.node(static_cast<int>(n));
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
      const zone& zn = pg.node_zones[z];
      if (!zn.spanned_pages) continue;
      e.fmt(zn.spanned_pages, "pfns the zone spans, holes included", "pages", "zone.node%u.%s.spanned_pages", n, zn.name);
      e.fmt(zn.present_pages, "usable RAM pages in the zone", "pages", "zone.node%u.%s.present_pages", n, zn.name);
      e.fmt(zn.managed_pages, "pages of the zone given to the buddy allocator", "pages", "zone.node%u.%s.managed_pages", n,
            zn.name);
      e.fmt(zn.free_pages, "free pages in the zone", "pages", "zone.node%u.%s.free_pages", n, zn.name);
      e.fmt(zn.min_free_pages, "lowest free page count of the zone since boot", "pages", "zone.node%u.%s.min_free_pages", n,
            zn.name);
    }
  }

  const PgTableStats& ps = pgtable_.stats();
  e("pgtable.pages", ps.pages, "page-table pages in use (kernel and processes)", "pages");
  e("pgtable.kernel_pages", ps.kernel_pages, "page-table pages of the kernel's own tables", "pages");
  e("pgtable.allocs", ps.allocs, "page-table pages allocated", "count");
  e("pgtable.frees", ps.frees, "page-table pages freed", "count");
  e("pgtable.updates", ps.updates, "page-table entry writes", "count");
  e("pgtable.read_errors", ps.read_errors, "page-table reads that hit poison or an error", "count");
  e("pgtable.direct_map_4k_bytes", ps.direct_map_bytes[1], "direct map covered by 4 KiB pages", "bytes");
  e("pgtable.direct_map_2m_bytes", ps.direct_map_bytes[2], "direct map covered by 2 MiB pages", "bytes");
  e("pgtable.direct_map_1g_bytes", ps.direct_map_bytes[3], "direct map covered by 1 GiB pages", "bytes");

  const TlbStats& ts = tlb_.stats();
  e("tlb.cr3_writes", ts.cr3_writes, "CR3 writes", "count");
  e("tlb.cr3_noflush", ts.cr3_noflush, "address-space switches that kept the TLB (PCID, NOFLUSH)", "count");
  e("tlb.invlpg", ts.invlpg, "INVLPG instructions", "count");
  e("tlb.invpcid", ts.invpcid, "INVPCID instructions", "count");
  e("tlb.full_flushes", ts.full_flushes, "flushes of a whole address space", "count");
  e("tlb.pages_flushed", ts.pages_flushed, "pages invalidated one by one", "count");
  e("tlb.pcid_exhausted", ts.pcid_exhausted, "address spaces created without a PCID of their own", "count");

  for (unsigned i = 0; i < NR_VM_GAUGES; ++i)
    e.fmt(static_cast<uint64_t>(vmstat_.gauge[i]), vm_gauge_desc(i), "pages", "vmstat.%s", vm_gauge_name(i));
  for (unsigned i = 0; i < NR_VM_EVENTS; ++i)
    e.fmt(vmstat_.event[i], vm_event_desc(i), i <= PGFREE ? "pages" : "count", "vmstat.%s", vm_event_name(i));

  const FaultStats& fs = memory_.stats();
  e("fault.total", fs.faults, "page faults taken", "count");
  e("fault.anon", fs.anon, "faults that mapped a new anonymous page", "count");
  e("fault.spurious", fs.spurious, "faults whose entry already allowed the access", "count");
  e("fault.write_upgrade", fs.write_upgrade, "write faults that made a present page writable", "count");
  e("fault.maperr", fs.maperr, "faults outside any mapping (SIGSEGV)", "count");
  e("fault.accerr", fs.accerr, "faults against a mapping's protection (SIGSEGV)", "count");
  e("fault.sigbus", fs.sigbus, "faults with unreadable page tables (SIGBUS)", "count");
  e("fault.oom", fs.oom, "faults that found no memory", "count");
  e("fault.bad_pgtable", fs.bad_pgtable, "faults on reserved bits", "count");
  e("fault.kernel_mode", fs.kernel_mode, "supervisor-mode faults", "count");

  const MmapStats& ms = mmap_.stats();
  e("mmap.mmap_ok", ms.mmap_ok, "successful mmap calls", "count");
  e("mmap.mmap_failed", ms.mmap_failed, "failed mmap calls", "count");
  e("mmap.munmap_ok", ms.munmap_ok, "successful munmap calls", "count");
  e("mmap.munmap_failed", ms.munmap_failed, "failed munmap calls", "count");
  e("mmap.vma_merges", ms.vma_merges, "mappings merged into a neighbouring VMA", "count");
  e("mmap.vma_splits", ms.vma_splits, "VMAs split", "count");
  e("mmap.mm_created", ms.mm_created, "address spaces created", "count");
  e("mmap.mm_destroyed", ms.mm_destroyed, "address spaces destroyed", "count");

  const ObjCache* caches[] = {&task_cache_, &mm_cache_, &vma_cache_};
  for (const ObjCache* c : caches) {
    e.fmt(c->active_objs(), "objects in use", "count", "slab.%s.active_objs", c->name());
    e.fmt(c->nr_slabs(), "pages holding objects", "pages", "slab.%s.slabs", c->name());
  }

  e("task.spawned", kstats_.spawned, "processes created", "count");
  e("task.spawn_failed", kstats_.spawn_failed, "process creations that failed", "count");
  e("task.exited", kstats_.exited, "processes that called exit", "count");
  e("task.killed", kstats_.killed, "processes killed by a signal", "count");
  e("task.sigsegv", kstats_.sigsegv, "processes killed by SIGSEGV", "count");
  e("task.sigbus", kstats_.sigbus, "processes killed by SIGBUS", "count");
  e("task.sigkill", kstats_.sigkill, "processes killed by SIGKILL", "count");
  e("task.live", nr_tasks_, "processes alive", "count");

  const SchedStats ss = sched_.stats();
  e("sched.switches", ss.switches, "task switches", "count");
  e("sched.preemptions", ss.preemptions, "switches away from a task still runnable", "count");
  e("sched.ticks", ss.ticks, "timer ticks", "count");

  e("syscall.total", kstats_.sys_total, "system calls", "count");
  e("syscall.mmap", kstats_.sys_mmap, "mmap system calls", "count");
  e("syscall.munmap", kstats_.sys_munmap, "munmap system calls", "count");
  e("syscall.getpid", kstats_.sys_getpid, "getpid system calls", "count");
  e("syscall.exit", kstats_.sys_exit, "exit system calls", "count");
  e("syscall.enosys", kstats_.sys_enosys, "system calls not implemented (ENOSYS)", "count");

  e("mce.total", kstats_.mce_total, "machine checks", "count");
  e("mce.action_required", kstats_.mce_action_required, "machine checks consumed by an access (SRAR)", "count");
  e("mce.action_optional", kstats_.mce_action_optional, "machine checks found by a scrub (SRAO)", "count");
  e("mce.in_page_walk", kstats_.mce_in_page_walk, "machine checks in a page-table read", "count");

  e("irq.total", kstats_.irq_total, "interrupts", "count");
  e("irq.resched", kstats_.irq_resched, "reschedule IPIs", "count");
  e("irq.tlb_shootdown", kstats_.irq_tlb, "TLB shootdown IPIs", "count");
  e("irq.timer", kstats_.irq_timer, "timer interrupts", "count");
  e("irq.other", kstats_.irq_other, "other interrupts", "count");
}

bool Kernel::proc_show(const char* name, TextSink& sink) const {
  Out out(sink);
  if (str_eq(name, "buddyinfo")) {
    for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
      const pglist_data& pg = nodes_.node(static_cast<int>(n));
      for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
        const zone& zn = pg.node_zones[z];
        if (!zn.populated()) continue;
        out.printf("Node %u, zone %8s ", n, zn.name);
        for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
          out.printf("%6lu ", static_cast<unsigned long>(zn.free_area[o].nr_free));
        out.printf("\n");
      }
    }
    return true;
  }
  if (str_eq(name, "meminfo")) {
    uint64_t committed = 0;
    for (const list_head* p = tasks_.next; p != &tasks_; p = p->next) {
      const task_struct* t = list_entry(const_cast<list_head*>(p), task_struct, tasks);
      if (t->mm) committed += t->mm->committed;
    }
    const uint64_t total = nodes_.total_managed_pages();
    const uint64_t free = buddy_.nr_free_pages();
    const uint64_t slab = static_cast<uint64_t>(vmstat_.gauge[NR_SLAB_UNRECLAIMABLE]);
    const PgTableStats& ps = pgtable_.stats();
    out.kb("MemTotal", pages_kb(total));
    out.kb("MemFree", pages_kb(free));
    out.kb("MemAvailable", pages_kb(free));  // no page cache or reserves yet (issue 3)
    out.kb("Buffers", 0);
    out.kb("Cached", 0);
    out.kb("SwapCached", 0);
    out.kb("AnonPages", pages_kb(static_cast<uint64_t>(vmstat_.gauge[NR_ANON_PAGES])));
    out.kb("Mapped", 0);
    out.kb("Shmem", 0);
    out.kb("KReclaimable", 0);
    out.kb("Slab", pages_kb(slab));
    out.kb("SReclaimable", 0);
    out.kb("SUnreclaim", pages_kb(slab));
    out.kb("PageTables", pages_kb(static_cast<uint64_t>(vmstat_.gauge[NR_PAGETABLE])));
    out.kb("SwapTotal", 0);
    out.kb("SwapFree", 0);
    out.kb("CommitLimit", pages_kb(total / 2));  // overcommit_ratio 50, no swap
    out.kb("Committed_AS", pages_kb(committed));
    out.kb("VmallocTotal", boot_.paging_levels == 5 ? (12800ull << 30) - 1 : (32ull << 30) - 1);
    out.kb("VmallocUsed", 0);
    out.kb("VmallocChunk", 0);
    out.kb("HardwareCorrupted", pages_kb(static_cast<uint64_t>(vmstat_.gauge[NR_HWPOISON])));
    out.kb("DirectMap4k", ps.direct_map_bytes[1] >> 10);
    out.kb("DirectMap2M", ps.direct_map_bytes[2] >> 10);
    out.kb("DirectMap1G", ps.direct_map_bytes[3] >> 10);
    return true;
  }
  if (str_eq(name, "vmstat")) {
    out.printf("nr_free_pages %lu\n", static_cast<unsigned long>(buddy_.nr_free_pages()));
    for (unsigned i = 0; i < NR_VM_GAUGES; ++i)
      out.printf("%s %ld\n", vm_gauge_name(i), static_cast<long>(vmstat_.gauge[i]));
    for (unsigned i = 0; i < NR_VM_EVENTS; ++i)
      out.printf("%s %lu\n", vm_event_name(i), static_cast<unsigned long>(vmstat_.event[i]));
    return true;
  }
  if (str_eq(name, "zoneinfo")) {
    for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
      const pglist_data& pg = nodes_.node(static_cast<int>(n));
      for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
        const zone& zn = pg.node_zones[z];
        out.printf("Node %u, zone %8s", n, zn.name);
        if (!zn.populated()) {
          out.printf("\n  pages free     0\n        min      0\n        low      0\n        high     0\n"
                     "        spanned  0\n        present  0\n        managed  0\n");
          continue;
        }
        out.printf("\n  pages free     %lu", static_cast<unsigned long>(zn.free_pages));
        out.printf("\n        boost    %lu", static_cast<unsigned long>(zn.watermark_boost));
        out.printf("\n        min      %lu", static_cast<unsigned long>(zn._watermark[WMARK_MIN]));
        out.printf("\n        low      %lu", static_cast<unsigned long>(zn._watermark[WMARK_LOW]));
        out.printf("\n        high     %lu", static_cast<unsigned long>(zn._watermark[WMARK_HIGH]));
        out.printf("\n        spanned  %lu", static_cast<unsigned long>(zn.spanned_pages));
        out.printf("\n        present  %lu", static_cast<unsigned long>(zn.present_pages));
        out.printf("\n        managed  %lu", static_cast<unsigned long>(zn.managed_pages));
        out.printf("\n        protection: (%lu, %lu, %lu, %lu)", static_cast<unsigned long>(zn.lowmem_reserve[0]),
                   static_cast<unsigned long>(zn.lowmem_reserve[1]), static_cast<unsigned long>(zn.lowmem_reserve[2]),
                   static_cast<unsigned long>(zn.lowmem_reserve[3]));
        out.printf("\n  start_pfn:           %lu\n", static_cast<unsigned long>(zn.zone_start_pfn));
      }
    }
    return true;
  }
  // "<pid>/maps"
  const char* rest = nullptr;
  const int pid = parse_pid(name, &rest);
  if (pid > 0 && str_eq(rest, "/maps")) {
    const mm_struct* mm = mm_of(pid);
    if (!mm) return false;
    for (const list_head* p = mm->mmap.next; p != &mm->mmap; p = p->next) {
      const vm_area_struct* v = list_entry(const_cast<list_head*>(p), vm_area_struct, vm_list);
      out.printf("%08lx-%08lx %c%c%c%c %08lx %02x:%02x %lu \n", static_cast<unsigned long>(v->vm_start),
                 static_cast<unsigned long>(v->vm_end), (v->vm_flags & VM_READ) ? 'r' : '-',
                 (v->vm_flags & VM_WRITE) ? 'w' : '-', (v->vm_flags & VM_EXEC) ? 'x' : '-',
                 (v->vm_flags & VM_MAYSHARE) ? 's' : 'p', 0ul, 0u, 0u, 0ul);
    }
    return true;
  }
  return false;
}

}  // namespace fw
