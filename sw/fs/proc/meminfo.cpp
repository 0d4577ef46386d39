// /proc/meminfo (Linux fs/proc/meminfo.c meminfo_proc_show, with
// si_mem_available from mm/show_mem.c), and the same lines as statistics
// (stats.txt's meminfo.*).
#include "sw/fs/proc/proc_fs.h"

#include "sw/kernel/task.h"
#include "sw/lib/bitops.h"
#include "sw/lib/format.h"
#include "sw/lib/seq_file.h"
#include "sw/lib/string.h"
#include "sw/mm/cma.h"
#include "sw/mm/context.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/pcp.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/vmalloc.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/watermark.h"

namespace fw {

namespace {

uint64_t pages_kb(uint64_t pages) { return pages << (PAGE_SHIFT - 10); }

// Lines whose value is a count, not KiB (Linux prints them without " kB").
bool meminfo_is_count(const char* label) {
  const char* p = "HugePages_";
  for (; *p; ++p, ++label)
    if (*label != *p) return false;
  return true;
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

// Committed_AS: the committed pages of every task's address space (Linux
// keeps vm_committed_as as it goes; we add up at read time).
uint64_t committed_pages(const MmContext& ctx) {
  uint64_t committed = 0;
  for (const list_head* p = ctx.tasks->next; p != ctx.tasks; p = p->next) {
    const task_struct* t = list_entry(const_cast<list_head*>(p), task_struct, tasks);
    if (t->mm) committed += t->mm->committed;
  }
  return committed;
}

// Linux si_mem_available: free memory above the reserves, plus what
// reclaim could get back without hurting: at least half of the page cache
// and of the reclaimable kernel memory, or the low watermarks' worth, stays.
uint64_t si_mem_available(const MmContext& ctx, uint64_t free) {
  const VmStat& vs = *ctx.vmstat;
  uint64_t wmark_low = 0;
  for (unsigned n = 0; n < ctx.nodes->nr_nodes(); ++n)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z)
      wmark_low += Watermark::low_wmark_pages(&ctx.nodes->node(static_cast<int>(n)).node_zones[z]);
  int64_t avail = static_cast<int64_t>(free) - static_cast<int64_t>(ctx.watermark->totalreserve_pages());
  uint64_t pagecache = static_cast<uint64_t>(vs.node_total(NR_ACTIVE_FILE) + vs.node_total(NR_INACTIVE_FILE));
  pagecache -= min(pagecache / 2, wmark_low);
  avail += static_cast<int64_t>(pagecache);
  uint64_t reclaimable =
      static_cast<uint64_t>(vs.node_total(NR_SLAB_RECLAIMABLE) + vs.node_total(NR_KERNEL_MISC_RECLAIMABLE));
  reclaimable -= min(reclaimable / 2, wmark_low);
  avail += static_cast<int64_t>(reclaimable);
  return avail < 0 ? 0 : static_cast<uint64_t>(avail);
}

// Linux vm_commit_limit with vm.overcommit_ratio 50 and no
// vm.overcommit_kbytes: half of the RAM not in hugetlb pools, plus swap.
uint64_t vm_commit_limit(const MmContext& ctx, uint64_t totalram, uint64_t total_swap_pages) {
  constexpr uint64_t kOvercommitRatio = 50;
  const uint64_t hugetlb_pages = ctx.hugetlb->total_kb() >> (PAGE_SHIFT - 10);
  return (totalram - min(totalram, hugetlb_pages)) * kOvercommitRatio / 100 + total_swap_pages;
}

uint64_t nr_free_cma(const MmNodes& nodes) {
  uint64_t free_cma = 0;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z)
      free_cma += static_cast<uint64_t>(nodes.node(static_cast<int>(n)).node_zones[z].vm_stat[NR_FREE_CMA_PAGES]);
  return free_cma;
}

// The hugetlb lines: the default huge page size's pool (Linux
// hugetlb_report_meminfo), and the memory of every size's pools.
template <typename F>
void hugetlb_report_meminfo(const Hugetlb& hugetlb, F&& f) {
  const hstate* dh = hugetlb.default_hstate();
  f("HugePages_Total", dh->nr_huge_pages);
  f("HugePages_Free", dh->free_huge_pages);
  f("HugePages_Rsvd", dh->resv_huge_pages);
  f("HugePages_Surp", dh->surplus_huge_pages);
  f("Hugepagesize", dh->size_kb);
  f("Hugetlb", hugetlb.total_kb());
}

// Every meminfo line, in Linux 6.18's order (fs/proc/meminfo.c with
// CONFIG_ZSWAP, CONFIG_MEMORY_FAILURE, CONFIG_TRANSPARENT_HUGEPAGE,
// CONFIG_CMA; then hugetlb_report_meminfo and x86's arch_report_meminfo):
// f(label, value in KiB or a count). Lines of things the model does not
// have yet read counters that stay 0.
template <typename F>
void for_each_meminfo(const MmContext& ctx, F&& f) {
  const MmNodes& nodes = *ctx.nodes;
  const VmStat& vs = *ctx.vmstat;
  auto node_pages = [&](unsigned item) { return static_cast<uint64_t>(vs.node_total(item)); };
  uint64_t zone_pages_mlock = 0;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z)
      zone_pages_mlock += static_cast<uint64_t>(nodes.node(static_cast<int>(n)).node_zones[z].vm_stat[NR_MLOCK]);
  const uint64_t total = nodes.total_managed_pages();
  const uint64_t free = nodes.total_free_pages();
  const uint64_t srecl = node_pages(NR_SLAB_RECLAIMABLE);
  const uint64_t sunrecl = node_pages(NR_SLAB_UNRECLAIMABLE);
  const uint64_t swapcache = node_pages(NR_SWAPCACHE);
  const uint64_t bufferram = 0;  // no block-device page cache yet
  const uint64_t file = node_pages(NR_FILE_PAGES);
  const uint64_t cached = file > swapcache + bufferram ? file - swapcache - bufferram : 0;
  const uint64_t totalswap = ctx.swapfile->total_swap_pages(), freeswap = ctx.swapfile->nr_swap_pages();
  const PgTableStats& ps = ctx.pgtable->stats();
  f("MemTotal", pages_kb(total));
  f("MemFree", pages_kb(free));
  f("MemAvailable", pages_kb(si_mem_available(ctx, free)));
  f("Buffers", pages_kb(bufferram));
  f("Cached", pages_kb(cached));  // shared memory lives there
  f("SwapCached", pages_kb(swapcache));
  f("Active", pages_kb(node_pages(NR_ACTIVE_ANON) + node_pages(NR_ACTIVE_FILE)));
  f("Inactive", pages_kb(node_pages(NR_INACTIVE_ANON) + node_pages(NR_INACTIVE_FILE)));
  f("Active(anon)", pages_kb(node_pages(NR_ACTIVE_ANON)));
  f("Inactive(anon)", pages_kb(node_pages(NR_INACTIVE_ANON)));
  f("Active(file)", pages_kb(node_pages(NR_ACTIVE_FILE)));
  f("Inactive(file)", pages_kb(node_pages(NR_INACTIVE_FILE)));
  f("Unevictable", pages_kb(node_pages(NR_UNEVICTABLE)));
  f("Mlocked", pages_kb(zone_pages_mlock));
  f("SwapTotal", pages_kb(totalswap));
  f("SwapFree", pages_kb(freeswap));
  f("Zswap", 0);
  f("Zswapped", 0);
  f("Dirty", pages_kb(node_pages(NR_FILE_DIRTY)));
  f("Writeback", pages_kb(node_pages(NR_WRITEBACK)));
  f("AnonPages", pages_kb(node_pages(NR_ANON_MAPPED)));
  f("Mapped", pages_kb(node_pages(NR_FILE_MAPPED)));
  f("Shmem", pages_kb(node_pages(NR_SHMEM)));
  f("KReclaimable", pages_kb(srecl + node_pages(NR_KERNEL_MISC_RECLAIMABLE)));
  f("Slab", pages_kb(srecl + sunrecl));
  f("SReclaimable", pages_kb(srecl));
  f("SUnreclaim", pages_kb(sunrecl));
  f("KernelStack", node_pages(NR_KERNEL_STACK_KB));
  f("PageTables", pages_kb(node_pages(NR_PAGETABLE)));
  f("SecPageTables", pages_kb(node_pages(NR_SECONDARY_PAGETABLE)));
  f("NFS_Unstable", 0);
  f("Bounce", 0);
  f("WritebackTmp", 0);
  f("CommitLimit", pages_kb(vm_commit_limit(ctx, total, totalswap)));
  f("Committed_AS", pages_kb(committed_pages(ctx)));
  f("VmallocTotal", (ctx.vmalloc->total_bytes() - 1) >> 10);  // Linux: (VMALLOC_END - VMALLOC_START) >> 10
  f("VmallocUsed", pages_kb(ctx.vmalloc->stats().pages));
  f("VmallocChunk", 0);
  f("Percpu", ctx.pcp->percpu_bytes() >> 10);
  f("HardwareCorrupted", pages_kb(node_pages(NR_HWPOISON)));
  f("AnonHugePages", pages_kb(node_pages(NR_ANON_THPS) << HPAGE_PMD_ORDER));
  f("ShmemHugePages", pages_kb(node_pages(NR_SHMEM_THPS) << HPAGE_PMD_ORDER));
  f("ShmemPmdMapped", pages_kb(node_pages(NR_SHMEM_PMDMAPPED) << HPAGE_PMD_ORDER));
  f("FileHugePages", pages_kb(node_pages(NR_FILE_THPS) << HPAGE_PMD_ORDER));
  f("FilePmdMapped", pages_kb(node_pages(NR_FILE_PMDMAPPED) << HPAGE_PMD_ORDER));
  f("CmaTotal", pages_kb(ctx.cma->count()));
  f("CmaFree", pages_kb(nr_free_cma(nodes)));
  f("Balloon", pages_kb(node_pages(NR_BALLOON_PAGES)));
  hugetlb_report_meminfo(*ctx.hugetlb, f);
  // x86 arch_report_meminfo: the direct map by page size; 1 GiB only when
  // the CPU has gbpages (direct_gbpages).
  f("DirectMap4k", ps.direct_map_bytes[1] >> 10);
  f("DirectMap2M", ps.direct_map_bytes[2] >> 10);
  if (ctx.boot->gbpages) f("DirectMap1G", ps.direct_map_bytes[3] >> 10);
}

}  // namespace

void meminfo_proc_show(seq_file* m, const MmContext& ctx) {
  for_each_meminfo(ctx, [&](const char* label, uint64_t kb) {
    // Linux: the label padded to 16 columns, 8 for the value;
    // HardwareCorrupted is its own format.
    if (str_eq(label, "HardwareCorrupted")) {
      seq_printf(m, "HardwareCorrupted: %5lu kB\n", static_cast<unsigned long>(kb));
      return;
    }
    char l[32];
    fw::snprintf(l, sizeof l, "%s:", label);
    if (meminfo_is_count(label)) seq_printf(m, "%-16s   %5lu\n", l, static_cast<unsigned long>(kb));
    else seq_printf(m, "%-16s%8lu kB\n", l, static_cast<unsigned long>(kb));
  });
}

void meminfo_visit_stats(const MmContext& ctx, StatVisitor& v, const char* prefix) {
  const StatEmitter e(v, prefix);
  for_each_meminfo(ctx, [&](const char* label, uint64_t kb) {
    char name[48];
    stat_label(label, name, sizeof name);
    e(name, kb, "the /proc/meminfo line of this name", meminfo_is_count(label) ? "count" : "KiB");
  });
}

}  // namespace fw
