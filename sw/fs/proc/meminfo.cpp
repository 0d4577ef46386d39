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
// reclaim could get back without hurting (no page cache yet).
uint64_t si_mem_available(const MmContext& ctx, uint64_t free, uint64_t srecl) {
  uint64_t wmark_low = 0;
  for (unsigned n = 0; n < ctx.nodes->nr_nodes(); ++n)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z)
      wmark_low += Watermark::low_wmark_pages(&ctx.nodes->node(static_cast<int>(n)).node_zones[z]);
  int64_t avail = static_cast<int64_t>(free) - static_cast<int64_t>(ctx.watermark->totalreserve_pages());
  avail += static_cast<int64_t>(srecl - min(srecl / 2, wmark_low));
  return avail < 0 ? 0 : static_cast<uint64_t>(avail);
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

// Every meminfo line, in Linux's order: f(label, value in KiB or a count).
template <typename F>
void for_each_meminfo(const MmContext& ctx, F&& f) {
  const MmNodes& nodes = *ctx.nodes;
  const VmStat& vs = *ctx.vmstat;
  const uint64_t total = nodes.total_managed_pages();
  const uint64_t free = nodes.total_free_pages();
  const uint64_t srecl = static_cast<uint64_t>(vs.node_total(NR_SLAB_RECLAIMABLE));
  const uint64_t sunrecl = static_cast<uint64_t>(vs.node_total(NR_SLAB_UNRECLAIMABLE));
  const uint64_t inactive_anon = static_cast<uint64_t>(vs.node_total(NR_INACTIVE_ANON));
  const uint64_t active_anon = static_cast<uint64_t>(vs.node_total(NR_ACTIVE_ANON));
  const PgTableStats& ps = ctx.pgtable->stats();
  f("MemTotal", pages_kb(total));
  f("MemFree", pages_kb(free));
  f("MemAvailable", pages_kb(si_mem_available(ctx, free, srecl)));
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
  f("Committed_AS", pages_kb(committed_pages(ctx)));
  f("VmallocTotal", (ctx.vmalloc->total_bytes() - 1) >> 10);  // Linux: (VMALLOC_END - VMALLOC_START) >> 10
  f("VmallocUsed", pages_kb(ctx.vmalloc->stats().pages));
  f("VmallocChunk", 0);
  f("Percpu", ctx.pcp->percpu_bytes() >> 10);
  f("HardwareCorrupted", pages_kb(static_cast<uint64_t>(vs.node_total(NR_HWPOISON))));
  f("AnonHugePages", pages_kb(static_cast<uint64_t>(vs.node_total(NR_ANON_THPS)) << HPAGE_PMD_ORDER));
  f("ShmemHugePages", 0);
  f("ShmemPmdMapped", 0);
  f("FileHugePages", 0);
  f("FilePmdMapped", 0);
  f("CmaTotal", pages_kb(ctx.cma->count()));
  f("CmaFree", pages_kb(nr_free_cma(nodes)));
  f("Unaccepted", 0);
  hugetlb_report_meminfo(*ctx.hugetlb, f);
  f("DirectMap4k", ps.direct_map_bytes[1] >> 10);
  f("DirectMap2M", ps.direct_map_bytes[2] >> 10);
  f("DirectMap1G", ps.direct_map_bytes[3] >> 10);
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
