// The Kernel's observation side: statistics for the simulator and
// Linux-format /proc text. The /proc files and the statistics are produced
// by the same walkers (meminfo and vmstat lines, zone fields), so
// stats.txt's system.fw.meminfo.*, vmstat.* and zone.* hold exactly what
// proc/meminfo, proc/vmstat, proc/zoneinfo, proc/buddyinfo and
// proc/pagetypeinfo show.
#include "sw/kernel/kernel.h"
#include "sw/lib/bitops.h"
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
    char name[128];
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
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = fw::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > static_cast<int>(sizeof line) - 1) n = sizeof line - 1;
    if (n > 0) s_.write(line, static_cast<size_t>(n));
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

// A meminfo label as a statistic name: "Active(anon)" -> "Active_anon".
void stat_label(const char* label, char* out, size_t n) {
  size_t j = 0;
  for (size_t i = 0; label[i] && j + 1 < n; ++i) {
    const char c = label[i];
    if (c == '(') out[j++] = '_';
    else if (c != ')') out[j++] = c;
  }
  out[j] = '\0';
}

// Linux calculate_normal_threshold: the per-CPU vmstat delta allowed.
int stat_threshold(const zone& z, unsigned cpus) {
  const uint64_t mem = z.managed_pages >> (27 - PAGE_SHIFT);  // in 128 MiB units
  const int fls_cpus = cpus ? static_cast<int>(fls64(cpus)) + 1 : 0;
  const int fls_mem = mem ? static_cast<int>(fls64(mem)) + 1 : 0;
  const int t = 2 * fls_cpus * (1 + fls_mem);
  return t > 125 ? 125 : t;
}

}  // namespace

// Every meminfo line, in Linux's order.
// Lines whose value is a count, not KiB (Linux prints them without " kB").
static bool meminfo_is_count(const char* label) {
  const char* p = "HugePages_";
  for (; *p; ++p, ++label)
    if (*label != *p) return false;
  return true;
}

template <typename F>
static void for_each_meminfo(const Kernel& k, const MmNodes& nodes, const VmStat& vs, const PageAlloc& pa,
                             const Watermark& wm, const Pcp& pcp, const Vmalloc& vm, const Cma& cma,
                             const PgTable& pt, const list_head& tasks, const hal::BootInfo& boot, F&& f) {
  (void)pa;
  uint64_t committed = 0;
  for (const list_head* p = tasks.next; p != &tasks; p = p->next) {
    const task_struct* t = list_entry(const_cast<list_head*>(p), task_struct, tasks);
    if (t->mm) committed += t->mm->committed;
  }
  const uint64_t total = nodes.total_managed_pages();
  const uint64_t free = nodes.total_free_pages();
  uint64_t wmark_low = 0, free_cma = 0;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
      const zone& zn = nodes.node(static_cast<int>(n)).node_zones[z];
      wmark_low += Watermark::low_wmark_pages(&zn);
      free_cma += static_cast<uint64_t>(zn.vm_stat[NR_FREE_CMA_PAGES]);
    }
  const uint64_t srecl = static_cast<uint64_t>(vs.node_total(NR_SLAB_RECLAIMABLE));
  const uint64_t sunrecl = static_cast<uint64_t>(vs.node_total(NR_SLAB_UNRECLAIMABLE));
  // Linux si_mem_available: free memory above the reserves, plus what
  // reclaim could get back without hurting (no page cache yet).
  int64_t avail = static_cast<int64_t>(free) - static_cast<int64_t>(wm.totalreserve_pages());
  avail += static_cast<int64_t>(srecl - min(srecl / 2, wmark_low));
  if (avail < 0) avail = 0;
  const uint64_t inactive_anon = static_cast<uint64_t>(vs.node_total(NR_INACTIVE_ANON));
  const uint64_t active_anon = static_cast<uint64_t>(vs.node_total(NR_ACTIVE_ANON));
  const PgTableStats& ps = pt.stats();
  f("MemTotal", pages_kb(total));
  f("MemFree", pages_kb(free));
  f("MemAvailable", pages_kb(static_cast<uint64_t>(avail)));
  f("Buffers", 0);
  f("Cached", pages_kb(static_cast<uint64_t>(vs.node_total(NR_FILE_PAGES))));  // shared memory lives there
  f("SwapCached", 0);
  f("Active", pages_kb(active_anon));
  f("Inactive", pages_kb(inactive_anon));
  f("Active(anon)", pages_kb(active_anon));
  f("Inactive(anon)", pages_kb(inactive_anon));
  f("Active(file)", 0);
  f("Inactive(file)", 0);
  f("Unevictable", 0);
  f("Mlocked", 0);
  f("SwapTotal", 0);
  f("SwapFree", 0);
  f("Zswap", 0);
  f("Zswapped", 0);
  f("Dirty", 0);
  f("Writeback", 0);
  f("AnonPages", pages_kb(static_cast<uint64_t>(vs.node_total(NR_ANON_MAPPED))));
  f("Mapped", pages_kb(static_cast<uint64_t>(vs.node_total(NR_FILE_MAPPED))));
  f("Shmem", pages_kb(static_cast<uint64_t>(vs.node_total(NR_SHMEM))));
  f("KReclaimable", pages_kb(srecl));
  f("Slab", pages_kb(srecl + sunrecl));
  f("SReclaimable", pages_kb(srecl));
  f("SUnreclaim", pages_kb(sunrecl));
  f("KernelStack", 0);
  f("PageTables", pages_kb(static_cast<uint64_t>(vs.node_total(NR_PAGETABLE))));
  f("SecPageTables", 0);
  f("NFS_Unstable", 0);
  f("Bounce", 0);
  f("WritebackTmp", 0);
  f("CommitLimit", pages_kb(total / 2));  // overcommit_ratio 50, no swap
  f("Committed_AS", pages_kb(committed));
  f("VmallocTotal", (vm.total_bytes() - 1) >> 10);  // Linux: (VMALLOC_END - VMALLOC_START) >> 10
  f("VmallocUsed", pages_kb(vm.stats().pages));
  f("VmallocChunk", 0);
  f("Percpu", pcp.percpu_bytes() >> 10);
  f("HardwareCorrupted", pages_kb(static_cast<uint64_t>(vs.node_total(NR_HWPOISON))));
  f("AnonHugePages", pages_kb(static_cast<uint64_t>(vs.node_total(NR_ANON_THPS)) << HPAGE_PMD_ORDER));
  f("ShmemHugePages", 0);
  f("ShmemPmdMapped", 0);
  f("FileHugePages", 0);
  f("FilePmdMapped", 0);
  f("CmaTotal", pages_kb(cma.count()));
  f("CmaFree", pages_kb(free_cma));
  f("Unaccepted", 0);
  // The default huge page size's pool (Linux hugetlb_report_meminfo), and
  // the memory of every size's pools.
  const hstate* dh = k.hugetlb().default_hstate();
  f("HugePages_Total", dh->nr_huge_pages);
  f("HugePages_Free", dh->free_huge_pages);
  f("HugePages_Rsvd", dh->resv_huge_pages);
  f("HugePages_Surp", dh->surplus_huge_pages);
  f("Hugepagesize", dh->size_kb);
  f("Hugetlb", k.hugetlb().total_kb());
  f("DirectMap4k", ps.direct_map_bytes[1] >> 10);
  f("DirectMap2M", ps.direct_map_bytes[2] >> 10);
  f("DirectMap1G", ps.direct_map_bytes[3] >> 10);
  (void)boot;
}

// Every /proc/vmstat line, in Linux's order (zone items, NUMA events, node
// items, events; our extensions last in their group).
template <typename F>
static void for_each_vmstat(const MmNodes& nodes, const VmStat& vs, F&& f) {
  for (unsigned i = 0; i < NR_VM_ZONE_STAT_ITEMS; ++i) {
    int64_t v = 0;
    for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
      for (unsigned z = 0; z < MAX_NR_ZONES; ++z) v += nodes.node(static_cast<int>(n)).node_zones[z].vm_stat[i];
    f(zone_stat_name(i), static_cast<uint64_t>(v), "zone counter, all zones", "pages");
  }
  for (unsigned i = 0; i < NR_VM_NUMA_EVENT_ITEMS; ++i) {
    uint64_t v = 0;
    for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
      for (unsigned z = 0; z < MAX_NR_ZONES; ++z) v += nodes.node(static_cast<int>(n)).node_zones[z].numa_event[i];
    f(numa_stat_name(i), v, "NUMA allocation event, all zones", "count");
  }
  for (unsigned i = 0; i < NR_VM_NODE_STAT_ITEMS; ++i)
    f(node_stat_name(i), static_cast<uint64_t>(vs.node_total(i)), node_stat_desc(i), i == NR_KERNEL_STACK_KB ? "KiB" : "pages");
  for (unsigned i = 0; i < NR_VM_EVENTS; ++i) f(vm_event_name(i), vs.event[i], vm_event_desc(i), vm_event_in_pages(i) ? "pages" : "count");
}

void Kernel::visit_stats(StatVisitor& vis) const {
  Emit e(vis);
  e("time.charged_ns", ctx_.charged_ns, "simulated time charged for firmware work", "ns");
  e("log.lines", log_.lines(), "kernel log lines", "count");

  e("memblock.memory_bytes", memblock_.memory().total_size, "usable RAM in the boot memory map", "bytes");
  e("memblock.reserved_bytes", memblock_.reserved().total_size, "memory memblock kept from the allocator", "bytes");
  e("mem.memmap_bytes", nodes_.memmap_bytes(), "struct page array (memmap) in simulated DRAM", "bytes");
  e("mem.memmap_pages_initialized", nodes_.memmap_pages_initialized(), "struct pages written so far (deferred init)", "count");
  e("mem.memmap_deferred_blocks", nodes_.memmap_deferred_blocks(), "max-order blocks whose tail struct pages are not initialized yet", "count");
  e("mem.present_pages", nodes_.total_present_pages(), "usable RAM pages in all zones", "pages");
  e("mem.managed_pages", nodes_.total_managed_pages(), "pages given to the buddy allocator", "pages");
  e("mem.min_free_kbytes", watermark_.min_free_kbytes(), "vm.min_free_kbytes in effect", "KiB");
  e("mem.totalreserve_pages", watermark_.totalreserve_pages(), "high watermarks plus the largest lowmem reserves", "pages");
  e("mem.percpu_bytes", pcp_.percpu_bytes(), "per-CPU page list structures", "bytes");

  const PageAllocStats& as = page_alloc_.stats();
  const BuddyStats& bs = buddy_.stats();
  e("buddy.free_pages", page_alloc_.nr_free_pages(), "free pages in the page allocator (buddy and per-CPU lists)", "pages");
  e("buddy.boot_free_pages", as.boot_free_pages, "free pages when boot finished", "pages");
  e("buddy.min_free_pages", buddy_.min_free_pages(), "lowest NR_FREE_PAGES since boot", "pages");
  e("buddy.pcp_pages", pcp_.nr_pcp_pages(), "free pages on per-CPU lists", "pages");
  e("buddy.alloc_calls", as.alloc_calls, "successful block allocations", "count");
  e("buddy.alloc_failed", as.alloc_failed, "failed block allocations", "count");
  e("buddy.free_calls", as.free_calls, "blocks freed", "count");
  e("buddy.slowpath", as.slowpath, "allocations that entered the slow path (below the low watermark)", "count");
  e("buddy.direct_path", as.direct_path, "slow-path rounds below the min watermark (direct path)", "count");
  e("buddy.splits", bs.splits, "blocks split in two on allocation", "count");
  e("buddy.merges", bs.merges, "buddy pairs merged on free", "count");
  e("buddy.moved_blocks", bs.moved_blocks, "pageblocks whose free pages changed migrate type", "count");
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
    e.fmt(page_alloc_.nr_free_blocks(o), "free blocks of this order, all zones", "count", "buddy.order%u.free_blocks", o);
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
    e.fmt(as.alloc_order[o], "allocations of this order", "count", "buddy.order%u.allocs", o);

  // Zones: what zoneinfo, buddyinfo and pagetypeinfo show.
  for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
    const pglist_data& pg = nodes_.node(static_cast<int>(n));
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
      const zone& zn = pg.node_zones[z];
      if (!zn.spanned_pages) continue;
      const char* zname = zn.name;
      e.fmt(zn.zone_start_pfn, "first pfn of the zone", "pfn", "zone.node%u.%s.start_pfn", n, zname);
      e.fmt(zn.spanned_pages, "pfns the zone spans, holes included", "pages", "zone.node%u.%s.spanned_pages", n, zname);
      e.fmt(zn.present_pages, "usable RAM pages in the zone", "pages", "zone.node%u.%s.present_pages", n, zname);
      e.fmt(zn.managed_pages, "pages of the zone given to the buddy allocator", "pages", "zone.node%u.%s.managed_pages", n, zname);
      e.fmt(zn.cma_pages, "managed pages in CMA areas", "pages", "zone.node%u.%s.cma_pages", n, zname);
      e.fmt(zn.free_pages(), "free pages in the zone (NR_FREE_PAGES)", "pages", "zone.node%u.%s.free_pages", n, zname);
      e.fmt(zn.min_free_pages, "lowest free page count of the zone since boot", "pages", "zone.node%u.%s.min_free_pages", n, zname);
      e.fmt(Watermark::min_wmark_pages(&zn), "min watermark (boost included)", "pages", "zone.node%u.%s.wmark_min", n, zname);
      e.fmt(Watermark::low_wmark_pages(&zn), "low watermark (boost included)", "pages", "zone.node%u.%s.wmark_low", n, zname);
      e.fmt(Watermark::high_wmark_pages(&zn), "high watermark (boost included)", "pages", "zone.node%u.%s.wmark_high", n, zname);
      e.fmt(Watermark::wmark_pages(&zn, WMARK_PROMO), "promo watermark", "pages", "zone.node%u.%s.wmark_promo", n, zname);
      e.fmt(zn.watermark_boost, "watermark boost", "pages", "zone.node%u.%s.boost", n, zname);
      for (unsigned j = 0; j < MAX_NR_ZONES; ++j)
        e.fmt(static_cast<uint64_t>(zn.lowmem_reserve[j]), "lowmem reserve against requests whose highest zone is this",
              "pages", "zone.node%u.%s.protection.%s", n, zname, zone_name(j));
      e.fmt(zn.nr_reserved_highatomic, "pages in high-atomic reserve pageblocks", "pages", "zone.node%u.%s.reserved_highatomic",
            n, zname);
      if (zn.per_cpu_pageset) {
        const per_cpu_pages& p0 = zn.per_cpu_pageset[0];
        uint64_t count = 0;
        for (unsigned c = 0; c < nodes_.nr_cpus(); ++c) count += static_cast<uint64_t>(zn.per_cpu_pageset[c].count);
        e.fmt(count, "pages on the per-CPU lists of all CPUs", "pages", "zone.node%u.%s.pcp_count", n, zname);
        e.fmt(static_cast<uint64_t>(p0.high), "per-CPU list high", "pages", "zone.node%u.%s.pcp_high", n, zname);
        e.fmt(static_cast<uint64_t>(p0.high_min), "per-CPU list high_min", "pages", "zone.node%u.%s.pcp_high_min", n, zname);
        e.fmt(static_cast<uint64_t>(p0.high_max), "per-CPU list high_max", "pages", "zone.node%u.%s.pcp_high_max", n, zname);
        e.fmt(static_cast<uint64_t>(p0.batch), "per-CPU list batch", "pages", "zone.node%u.%s.pcp_batch", n, zname);
      }
      if (!zn.populated()) continue;
      for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
        e.fmt(zn.free_area[o].nr_free, "free blocks of this order (buddyinfo)", "count", "zone.node%u.%s.free_blocks.order%u", n,
              zname, o);
      for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt)
        for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
          e.fmt(zn.free_area[o].nr_free_mt[mt], "free blocks of this order and migrate type (pagetypeinfo)", "count",
                "zone.node%u.%s.free_blocks.%s.order%u", n, zname, migratetype_name(mt), o);
      uint64_t blocks[MIGRATE_TYPES] = {};
      for (uint64_t pfn = zn.zone_start_pfn; pfn < zn.zone_end_pfn(); pfn = pageblock_end_pfn(pfn))
        ++blocks[zn.get_pfnblock_migratetype(pfn)];
      for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt)
        e.fmt(blocks[mt], "pageblocks of this migrate type (pagetypeinfo)", "count", "zone.node%u.%s.pageblocks.%s", n, zname,
              migratetype_name(mt));
    }
    e.fmt(pg.kswapd_failures, "kswapd runs that left the node below its high watermarks", "count", "node%u.kswapd_failures", n);
    e.fmt(pg.totalreserve_pages, "reserved pages of the node", "pages", "node%u.totalreserve_pages", n);
    e.fmt(Compaction::fragmentation_score_node(pg), "fragmentation score (compaction_proactiveness)", "percent",
          "node%u.fragmentation_score", n);
  }

  for_each_meminfo(*this, nodes_, vmstat_, page_alloc_, watermark_, pcp_, vmalloc_, cma_, pgtable_, tasks_, boot_,
                   [&](const char* label, uint64_t kb) {
                     char name[48];
                     stat_label(label, name, sizeof name);
                     e.fmt(kb, "the /proc/meminfo line of this name", meminfo_is_count(label) ? "count" : "KiB",
                           "meminfo.%s", name);
                   });
  for_each_vmstat(nodes_, vmstat_, [&](const char* name, uint64_t v, const char* desc, const char* unit) {
    e.fmt(v, desc, unit, "vmstat.%s", name);
  });

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
  e("tlb.stale_reload", ts.stale_reload, "lazily kept address spaces flushed when used again", "count");
  e("tlb.kernel_flushes", ts.kernel_flushes, "kernel-range (vmalloc) flushes", "count");
  e("tlb.shootdowns", ts.shootdowns, "flushes that had to reach other CPUs (IPIs sent, acknowledgements awaited)", "count");
  e("tlb.shootdown_ipis", ts.shootdown_ipis, "TLB shootdown IPIs sent (user and kernel ranges)", "count");
  e("tlb.ipis_received", ts.ipis_received, "flush requests served for another CPU", "count");
  e("tlb.lazy_skips", ts.lazy_skips, "lazy CPUs a shootdown did not interrupt (they flush when they return)", "count");
  e("tlb.lazy_switches", ts.lazy_switches, "lazy CPUs sent to the kernel's tables (page tables freed, mm gone)", "count");
  e("tlb.stale_requests", ts.stale_requests, "flush requests a CPU found already covered", "count");
  e("tlb.timeouts", ts.timeouts, "CPUs that did not acknowledge a shootdown in time", "count");
  e("tlb.wait_ns", ts.wait_ns, "simulated time spent waiting for shootdown acknowledgements", "ns");
  e("tlb.local_flush_one", ts.local_flush_one, "pages flushed one by one by the CPU that changed them", "pages");
  e("tlb.local_flush_all", ts.local_flush_all, "full local flushes by the CPU that changed the tables", "count");

  const FaultStats& fs = memory_.stats();
  e("fault.total", fs.faults, "page faults taken", "count");
  e("fault.anon", fs.anon, "faults that mapped a new anonymous page", "count");
  e("fault.zero_page", fs.zero_page, "read faults that mapped the shared zero page", "count");
  e("fault.cow", fs.cow, "copy-on-write copies (of shared pages and of the zero page)", "count");
  e("fault.reuse", fs.reuse, "write faults that made a private page writable in place (sole owner)", "count");
  e("fault.shmem", fs.shmem, "shared-memory pages mapped", "count");
  e("fault.populated", fs.populated, "pages faulted in by MAP_POPULATE and MADV_POPULATE_*", "count");
  e("fault.spurious", fs.spurious, "faults whose entry already allowed the access", "count");
  e("fault.write_upgrade", fs.write_upgrade, "write faults that made a present page writable", "count");
  e("fault.maperr", fs.maperr, "faults outside any mapping (SIGSEGV)", "count");
  e("fault.accerr", fs.accerr, "faults against a mapping's protection (SIGSEGV)", "count");
  e("fault.sigbus", fs.sigbus, "faults with unreadable page tables (SIGBUS)", "count");
  e("fault.oom", fs.oom, "faults that found no memory", "count");
  e("fault.bad_pgtable", fs.bad_pgtable, "faults on reserved bits", "count");
  e("fault.kernel_mode", fs.kernel_mode, "supervisor-mode faults", "count");
  e("fault.migration_wait", fs.migration_wait, "faults on a page under migration", "count");

  const MmapStats& ms = mmap_.stats();
  e("mmap.mmap_ok", ms.mmap_ok, "successful mmap calls", "count");
  e("mmap.mmap_failed", ms.mmap_failed, "failed mmap calls", "count");
  e("mmap.munmap_ok", ms.munmap_ok, "successful munmap calls", "count");
  e("mmap.munmap_failed", ms.munmap_failed, "failed munmap calls", "count");
  e("mmap.vma_merges", ms.vma_merges, "mappings merged into a neighbouring VMA", "count");
  e("mmap.vma_splits", ms.vma_splits, "VMAs split", "count");
  e("mmap.mm_created", ms.mm_created, "address spaces created", "count");
  e("mmap.mm_destroyed", ms.mm_destroyed, "address spaces destroyed", "count");
  e("mmap.populate_failed", ms.populate_failed, "MAP_POPULATE mappings that could not be faulted in completely", "count");

  const MprotectStats& mps = mprotect_.stats();
  e("mprotect.calls", mps.calls, "mprotect calls", "count");
  e("mprotect.failed", mps.failed, "mprotect calls that failed", "count");
  e("mprotect.entries_changed", mps.entries_changed, "page-table entries given a new protection", "count");
  const MadviseStats& mas = madvise_.stats();
  e("madvise.calls", mas.calls, "madvise calls", "count");
  e("madvise.failed", mas.failed, "madvise calls that failed", "count");
  e("madvise.dontneed", mas.dontneed, "MADV_DONTNEED ranges (per VMA)", "count");
  e("madvise.free", mas.free, "MADV_FREE ranges (per VMA)", "count");
  e("madvise.populate", mas.populate, "MADV_POPULATE_READ/WRITE calls", "count");
  e("madvise.hugepage", mas.hugepage, "MADV_HUGEPAGE/NOHUGEPAGE ranges (per VMA)", "count");
  e("madvise.collapse", mas.collapse, "MADV_COLLAPSE ranges (per VMA)", "count");
  const ForkStats& fks = fork_.stats();
  e("fork.forks", fks.forks, "address spaces copied by fork", "count");
  e("fork.failed", fks.failed, "forks that ran out of memory", "count");
  e("fork.vmas_copied", fks.vmas_copied, "VMAs copied into children", "count");
  e("fork.ptes_copied", fks.ptes_copied, "entries shared copy-on-write (or copied) with children", "count");
  const ShmemStats& shs = shmem_.stats();
  e("shmem.objects", shs.objects, "shared-memory and hugetlb objects alive", "count");
  e("shmem.objects_created", shs.objects_created, "shared-memory and hugetlb objects created", "count");
  e("shmem.pages", shs.pages, "shared-memory pages held by objects", "pages");
  e("shmem.faults", shs.faults, "page lookups of shared-memory faults", "count");
  e("shmem.tree_nodes", shs.tree_nodes, "radix-tree nodes of the objects", "count");

  const ThpStats& ths = huge_memory_.stats();
  e("thp.huge_zero_mapped", ths.huge_zero_mapped, "PMDs mapping the huge zero page", "count");
  e("thp.reuse", ths.reuse, "write faults that made a huge page writable in place", "count");
  e("thp.deposited_tables", ths.deposits, "page tables deposited for huge PMDs (so a split never fails)", "count");
  const KhugepagedStats& khs = khugepaged_.stats();
  e("khugepaged.wakeups", khs.wakeups, "khugepaged scans", "count");
  e("khugepaged.pages_scanned", khs.pages_scanned, "pages scanned by khugepaged", "pages");
  e("khugepaged.pages_collapsed", khs.pages_collapsed, "huge pages made by khugepaged and MADV_COLLAPSE", "count");
  e("khugepaged.full_scans", khs.full_scans, "passes over every registered address space", "count");
  e("khugepaged.mms", khs.mms, "address spaces on khugepaged's list", "count");
  e("khugepaged.busy_mm", khs.busy_mm, "scans that skipped an address space whose mmap_lock was taken", "count");
  e("khugepaged.madvise_collapsed", khs.madvise_collapsed, "huge pages made by MADV_COLLAPSE", "count");

  for (unsigned i = 0; i < HUGE_MAX_HSTATE; ++i) {
    const hstate& hs = hugetlb_.hs(i);
    e.fmt(hs.nr_huge_pages, "huge pages in the pool (nr_hugepages)", "count", "hugetlb.%s.nr_hugepages", hs.name);
    e.fmt(hs.free_huge_pages, "free huge pages (free_hugepages)", "count", "hugetlb.%s.free_hugepages", hs.name);
    e.fmt(hs.resv_huge_pages, "huge pages promised to mappings and not faulted in yet (resv_hugepages)", "count",
          "hugetlb.%s.resv_hugepages", hs.name);
    e.fmt(hs.surplus_huge_pages, "huge pages beyond the pool, from the buddy allocator (surplus_hugepages)", "count",
          "hugetlb.%s.surplus_hugepages", hs.name);
    e.fmt(hs.nr_overcommit_huge_pages, "surplus huge pages allowed (nr_overcommit_hugepages)", "count",
          "hugetlb.%s.nr_overcommit_hugepages", hs.name);
    e.fmt(hs.max_huge_pages, "huge pages asked for at boot", "count", "hugetlb.%s.boot_requested", hs.name);
    e.fmt(hs.boot_failed, "boot huge pages that could not be allocated", "count", "hugetlb.%s.boot_failed", hs.name);
    e.fmt(hs.faults, "faults that mapped a huge page", "count", "hugetlb.%s.faults", hs.name);
    e.fmt(hs.cow, "copy-on-write copies of huge pages", "count", "hugetlb.%s.cow", hs.name);
    e.fmt(hs.reuse, "write faults that made a huge page writable in place", "count", "hugetlb.%s.reuse", hs.name);
    e.fmt(hs.fault_sigbus, "faults with no huge page to give (SIGBUS)", "count", "hugetlb.%s.fault_sigbus", hs.name);
    e.fmt(hs.reserve_failed, "mmaps refused for lack of huge pages (ENOMEM)", "count", "hugetlb.%s.reserve_failed",
          hs.name);
    e.fmt(hs.surplus_allocs, "surplus huge pages allocated", "count", "hugetlb.%s.surplus_allocs", hs.name);
    for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
      e.fmt(hs.nr_huge_pages_node[n], "huge pages of the node's pool", "count", "hugetlb.%s.node%u.nr_hugepages",
            hs.name, n);
      e.fmt(hs.free_huge_pages_node[n], "free huge pages of the node", "count", "hugetlb.%s.node%u.free_hugepages",
            hs.name, n);
      e.fmt(hs.surplus_huge_pages_node[n], "surplus huge pages of the node", "count",
            "hugetlb.%s.node%u.surplus_hugepages", hs.name, n);
    }
  }

  const SlabStats& ss0 = slab_.stats();
  e("slab.kmalloc_large", ss0.kmalloc_large, "kmalloc requests above 8 KiB served by the page allocator", "count");
  e("slab.kmalloc_large_pages", ss0.kmalloc_large_pages, "pages held by large kmalloc requests", "pages");
  e("slab.errors", ss0.errors, "slab debugging reports (all caches)", "count");
  slab_.for_each_cache([&](const kmem_cache& cache) {
    // Statistic names have no '-': kmalloc-64 is slab.kmalloc_64.
    struct {
      char name[32];
    } c_;
    size_t i = 0;
    for (; cache.name[i] && i + 1 < sizeof c_.name; ++i) c_.name[i] = cache.name[i] == '-' ? '_' : cache.name[i];
    c_.name[i] = '\0';
    const kmem_cache& c = cache;
    const auto& cn = c_;
    e.fmt(c.active_objs, "objects in use", "count", "slab.%s.active_objs", cn.name);
    e.fmt(slab_.total_objects(&c), "objects in the cache's slabs", "count", "slab.%s.num_objs", cn.name);
    e.fmt(slab_.nr_slabs(&c), "slabs of the cache", "count", "slab.%s.slabs", cn.name);
    e.fmt(c.stats.alloc_fastpath, "allocations from the CPU freelist", "count", "slab.%s.alloc_fastpath", cn.name);
    e.fmt(c.stats.alloc_slowpath, "allocations through the slow path", "count", "slab.%s.alloc_slowpath", cn.name);
    e.fmt(c.stats.free_fastpath, "frees to the CPU freelist", "count", "slab.%s.free_fastpath", cn.name);
    e.fmt(c.stats.free_slowpath, "frees through the slow path", "count", "slab.%s.free_slowpath", cn.name);
    e.fmt(c.stats.errors, "debugging reports", "count", "slab.%s.errors", cn.name);
  });

  const VmallocStats& vs = vmalloc_.stats();
  e("vmalloc.areas", vs.areas, "vmalloc areas alive", "count");
  e("vmalloc.pages", vs.pages, "pages mapped in vmalloc areas", "pages");
  e("vmalloc.allocs", vs.allocs, "vmalloc calls that succeeded", "count");
  e("vmalloc.frees", vs.frees, "vfree calls", "count");
  e("vmalloc.failed", vs.failed, "vmalloc calls that failed", "count");
  e("vmalloc.prealloc_table_pages", vs.table_pages_prealloc, "kernel page-table pages preallocated for the vmalloc range", "pages");

  const CmaStats& cs = cma_.stats();
  e("cma.pages", cma_.count(), "pages of the CMA area", "pages");
  e("cma.base_pfn", cma_.base_pfn(), "first pfn of the CMA area", "pfn");
  e("cma.alloc_success", cs.alloc_success, "cma_alloc calls that succeeded", "count");
  e("cma.alloc_failed", cs.alloc_failed, "cma_alloc calls that failed", "count");
  e("cma.alloc_retries", cs.alloc_retries, "busy stretches skipped by cma_alloc", "count");
  e("cma.pages_allocated", cs.pages_allocated, "pages handed out by cma_alloc now", "pages");

  const CompactionStats& cps = compaction_.stats();
  e("compaction.zone_runs", cps.zone_runs, "zone compactions that scanned", "count");
  e("compaction.direct_runs", cps.direct_runs, "direct compactions", "count");
  e("compaction.deferred", cps.deferred, "zones skipped because compaction was deferred", "count");
  e("compaction.kcompactd_runs", cps.kcompactd_runs, "kcompactd runs", "count");
  e("compaction.proactive_runs", cps.proactive_runs, "proactive compactions", "count");
  e("compaction.result_complete", cps.result[COMPACT_COMPLETE], "zone compactions that met the scanners over the whole zone", "count");
  e("compaction.result_success", cps.result[COMPACT_SUCCESS], "zone compactions that made the wanted block", "count");
  e("compaction.result_skipped", cps.result[COMPACT_SKIPPED], "zone compactions skipped (not enough free pages)", "count");

  const MigrateStats& mgs = migrate_.stats();
  e("migrate.succeeded", mgs.succeeded, "pages migrated", "count");
  e("migrate.failed", mgs.failed, "pages not migrated", "count");
  e("migrate.freed_under_us", mgs.freed_under_us, "isolated pages unmapped before migration", "count");
  e("migrate.copy_errors", mgs.copy_errors, "pages whose contents could not be read (poison)", "count");

  const IsolationStats& is = isolation_.stats();
  e("isolation.isolated_blocks", is.isolated_blocks, "pageblocks isolated", "count");
  e("isolation.busy_blocks", is.busy_blocks, "pageblocks not isolated: unmovable pages", "count");
  e("isolation.contig_success", is.contig_success, "alloc_contig_range calls that succeeded", "count");
  e("isolation.contig_failed", is.contig_failed, "alloc_contig_range calls that failed", "count");

  const RmapStats& rs = rmap_.stats();
  e("rmap.anon_vmas", rs.anon_vmas, "anon_vmas alive", "count");
  e("rmap.chains", rs.chains, "anon_vma_chains alive", "count");
  e("rmap.walks", rs.walks, "reverse-map walks", "count");

  const KswapdStats& kw = kswapd_.stats();
  e("kswapd.wakeups", kw.wakeups, "kswapd wakeups", "count");
  e("kswapd.runs", kw.runs, "kswapd runs", "count");
  e("kswapd.boosts_cleared", kw.boosts_cleared, "zone watermark boosts cleared by kswapd", "count");

  e("task.spawned", kstats_.spawned, "processes created", "count");
  e("task.spawn_failed", kstats_.spawn_failed, "process creations that failed", "count");
  e("task.exited", kstats_.exited, "processes that called exit", "count");
  e("task.killed", kstats_.killed, "processes killed by a signal", "count");
  e("task.sigsegv", kstats_.sigsegv, "processes killed by SIGSEGV", "count");
  e("task.sigbus", kstats_.sigbus, "processes killed by SIGBUS", "count");
  e("task.sigkill", kstats_.sigkill, "processes killed by SIGKILL", "count");
  e("task.live", nr_tasks_, "tasks (threads) alive", "count");
  e("task.forked", kstats_.forked, "processes created by fork", "count");
  e("task.threads", kstats_.threads, "threads created by clone", "count");
  e("task.group_kills", kstats_.group_kills, "threads ended with their group (exit_group, fatal signals)", "count");
  e("task.pending_reaps", kstats_.pending_reaps, "threads ended later by their own CPU (they were running)", "count");

  const SchedStats sst = sched_.stats();
  e("sched.switches", sst.switches, "task switches", "count");
  e("sched.preemptions", sst.preemptions, "switches away from a task still runnable", "count");
  e("sched.ticks", sst.ticks, "timer ticks", "count");

  e("syscall.total", kstats_.sys_total, "system calls", "count");
  e("syscall.mmap", kstats_.sys_mmap, "mmap system calls", "count");
  e("syscall.munmap", kstats_.sys_munmap, "munmap system calls", "count");
  e("syscall.mprotect", kstats_.sys_mprotect, "mprotect system calls", "count");
  e("syscall.madvise", kstats_.sys_madvise, "madvise system calls", "count");
  e("syscall.fork", kstats_.sys_fork, "fork system calls", "count");
  e("syscall.clone", kstats_.sys_clone, "clone system calls", "count");
  e("syscall.getpid", kstats_.sys_getpid, "getpid system calls", "count");
  e("syscall.exit", kstats_.sys_exit, "exit system calls", "count");
  e("syscall.exit_group", kstats_.sys_exit_group, "exit_group system calls", "count");
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
        for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) out.printf("%6lu ", static_cast<unsigned long>(zn.free_area[o].nr_free));
        out.printf("\n");
      }
    }
    return true;
  }
  if (str_eq(name, "pagetypeinfo")) {
    for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
      const pglist_data& pg = nodes_.node(static_cast<int>(n));
      if (!pg.node_present_pages) continue;
      out.printf("Page block order: %u\n", pageblock_order);
      out.printf("Pages per block:  %lu\n\n", static_cast<unsigned long>(pageblock_nr_pages));
      out.printf("%-43s ", "Free pages count per migrate type at order");
      for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) out.printf("%6u ", o);
      out.printf("\n");
      for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
        const zone& zn = pg.node_zones[z];
        if (!zn.populated()) continue;
        for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt) {
          out.printf("Node %4u, zone %8s, type %12s ", n, zn.name, migratetype_name(mt));
          for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) {
            const uint64_t c = zn.free_area[o].nr_free_mt[mt];
            // Linux stops counting at 100000 and shows ">".
            if (c >= 100000) out.printf(">%6lu ", 100000ul);
            else out.printf("%6lu ", static_cast<unsigned long>(c));
          }
          out.printf("\n");
        }
      }
      out.printf("\n%-23s", "Number of blocks type ");
      for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt) out.printf("%12s ", migratetype_name(mt));
      out.printf("\n");
      for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
        const zone& zn = pg.node_zones[z];
        if (!zn.populated()) continue;
        uint64_t blocks[MIGRATE_TYPES] = {};
        for (uint64_t pfn = zn.zone_start_pfn; pfn < zn.zone_end_pfn(); pfn = pageblock_end_pfn(pfn))
          ++blocks[zn.get_pfnblock_migratetype(pfn)];
        out.printf("Node %u, zone %8s ", n, zn.name);
        for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt) out.printf("%12lu ", static_cast<unsigned long>(blocks[mt]));
        out.printf("\n");
      }
    }
    return true;
  }
  if (str_eq(name, "meminfo")) {
    for_each_meminfo(*this, nodes_, vmstat_, page_alloc_, watermark_, pcp_, vmalloc_, cma_, pgtable_, tasks_, boot_,
                     [&](const char* label, uint64_t kb) {
                       // Linux: the label padded to 16 columns, 8 for the
                       // value; HardwareCorrupted is its own format.
                       if (str_eq(label, "HardwareCorrupted")) {
                         out.printf("HardwareCorrupted: %5lu kB\n", static_cast<unsigned long>(kb));
                         return;
                       }
                       if (meminfo_is_count(label)) {
                         char c[32];
                         fw::snprintf(c, sizeof c, "%s:", label);
                         out.printf("%-16s   %5lu\n", c, static_cast<unsigned long>(kb));
                         return;
                       }
                       char l[32];
                       fw::snprintf(l, sizeof l, "%s:", label);
                       out.printf("%-16s%8lu kB\n", l, static_cast<unsigned long>(kb));
                     });
    return true;
  }
  if (str_eq(name, "vmstat")) {
    for_each_vmstat(nodes_, vmstat_, [&](const char* n, uint64_t v, const char*, const char*) {
      out.printf("%s %lu\n", n, static_cast<unsigned long>(v));
    });
    return true;
  }
  if (str_eq(name, "zoneinfo")) {
    for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
      const pglist_data& pg = nodes_.node(static_cast<int>(n));
      bool node_stats_done = false;
      for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
        const zone& zn = pg.node_zones[z];
        out.printf("Node %u, zone %8s", n, zn.name);
        if (zn.populated() && !node_stats_done) {
          node_stats_done = true;
          out.printf("\n  per-node stats");
          for (unsigned i = 0; i < NR_VM_NODE_STAT_ITEMS; ++i)
            out.printf("\n      %-12s %lu", node_stat_name(i), static_cast<unsigned long>(vmstat_.node[n][i]));
        }
        out.printf("\n  pages free     %lu", static_cast<unsigned long>(zn.free_pages()));
        out.printf("\n        boost    %lu", static_cast<unsigned long>(zn.watermark_boost));
        out.printf("\n        min      %lu", static_cast<unsigned long>(Watermark::min_wmark_pages(&zn)));
        out.printf("\n        low      %lu", static_cast<unsigned long>(Watermark::low_wmark_pages(&zn)));
        out.printf("\n        high     %lu", static_cast<unsigned long>(Watermark::high_wmark_pages(&zn)));
        out.printf("\n        promo    %lu", static_cast<unsigned long>(Watermark::wmark_pages(&zn, WMARK_PROMO)));
        out.printf("\n        spanned  %lu", static_cast<unsigned long>(zn.spanned_pages));
        out.printf("\n        present  %lu", static_cast<unsigned long>(zn.present_pages));
        out.printf("\n        managed  %lu", static_cast<unsigned long>(zn.managed_pages));
        out.printf("\n        cma      %lu", static_cast<unsigned long>(zn.cma_pages));
        out.printf("\n        protection: (%ld", static_cast<long>(zn.lowmem_reserve[0]));
        for (unsigned j = 1; j < MAX_NR_ZONES; ++j) out.printf(", %ld", static_cast<long>(zn.lowmem_reserve[j]));
        out.printf(")");
        if (!zn.populated()) {
          out.printf("\n");
          continue;
        }
        for (unsigned i = 0; i < NR_VM_ZONE_STAT_ITEMS; ++i)
          out.printf("\n      %-12s %ld", zone_stat_name(i), static_cast<long>(zn.vm_stat[i]));
        for (unsigned i = 0; i < NR_VM_NUMA_EVENT_ITEMS; ++i)
          out.printf("\n      %-12s %lu", numa_stat_name(i), static_cast<unsigned long>(zn.numa_event[i]));
        out.printf("\n  pagesets");
        for (unsigned c = 0; c < nodes_.nr_cpus(); ++c) {
          const per_cpu_pages* p = zn.per_cpu_pageset ? &zn.per_cpu_pageset[c] : nullptr;
          out.printf("\n    cpu: %u\n              count:    %d\n              high:     %d\n              batch:    %d"
                     "\n              high_min: %d\n              high_max: %d",
                     c, p ? p->count : 0, p ? p->high : 0, p ? p->batch : 1, p ? p->high_min : 0, p ? p->high_max : 0);
          out.printf("\n  vm stats threshold: %d", stat_threshold(zn, nodes_.nr_cpus()));
        }
        out.printf("\n  node_unreclaimable:  %u", pg.kswapd_failures >= MAX_RECLAIM_RETRIES ? 1u : 0u);
        out.printf("\n  start_pfn:           %lu", static_cast<unsigned long>(zn.zone_start_pfn));
        out.printf("\n  reserved_highatomic: %lu", static_cast<unsigned long>(zn.nr_reserved_highatomic));
        out.printf("\n  free_highatomic:     %lu\n", static_cast<unsigned long>(zn.nr_free_highatomic));
      }
    }
    return true;
  }
  if (str_eq(name, "slabinfo")) {
    out.printf("slabinfo - version: 2.1\n");
    out.printf("# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> "
               "<batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n");
    slab_.for_each_cache([&](const kmem_cache& c) {
      const uint64_t slabs = slab_.nr_slabs(&c);
      out.printf("%-17s %6lu %6lu %6u %4u %4u : tunables %4u %4u %4u : slabdata %6lu %6lu %6u\n", c.name,
                 static_cast<unsigned long>(c.active_objs), static_cast<unsigned long>(slab_.total_objects(&c)), c.size,
                 c.objects, 1u << c.order, 0u, 0u, 0u, static_cast<unsigned long>(slabs),
                 static_cast<unsigned long>(slabs), 0u);
    });
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
      // Linux names the hidden files behind shared and hugetlb memory.
      const char* name = (v->vm_flags & VM_HUGETLB) ? "/anon_hugepage (deleted)"
                         : v->vm_obj               ? "/dev/zero (deleted)"
                                                   : "";
      out.printf("%08lx-%08lx %c%c%c%c %08lx %02x:%02x %lu %s\n", static_cast<unsigned long>(v->vm_start),
                 static_cast<unsigned long>(v->vm_end), (v->vm_flags & VM_READ) ? 'r' : '-',
                 (v->vm_flags & VM_WRITE) ? 'w' : '-', (v->vm_flags & VM_EXEC) ? 'x' : '-',
                 (v->vm_flags & VM_MAYSHARE) ? 's' : 'p', static_cast<unsigned long>(v->vm_obj ? v->vm_pgoff << 12 : 0),
                 0u, 0u, 0ul, name);
    }
    return true;
  }
  return false;
}

}  // namespace fw
