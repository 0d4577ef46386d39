#include "sw/mm/vmstat.h"

#include "sw/lib/bitops.h"
#include "sw/lib/seq_file.h"
#include "sw/mm/compaction.h"
#include "sw/mm/context.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/pcp.h"
#include "sw/mm/vmscan.h"
#include "sw/mm/watermark.h"

namespace fw {

const char* zone_stat_name(unsigned i) {
  static const char* const n[] = {
      "nr_free_pages",        "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file",
      "nr_zone_active_file",  "nr_zone_unevictable",   "nr_zone_write_pending", "nr_mlock",
      "nr_bounce",            "nr_free_cma",
  };
  static_assert(sizeof n / sizeof n[0] == NR_VM_ZONE_STAT_ITEMS, "one entry per item");
  return n[i];
}

const char* numa_stat_name(unsigned i) {
  static const char* const n[] = {"numa_hit",        "numa_miss",  "numa_foreign",
                                                         "numa_interleave", "numa_local", "numa_other"};
  static_assert(sizeof n / sizeof n[0] == NR_VM_NUMA_EVENT_ITEMS, "one entry per item");
  return n[i];
}

const char* node_stat_name(unsigned i) {
  static const char* const n[] = {
      "nr_inactive_anon",  "nr_active_anon",     "nr_inactive_file",   "nr_active_file",
      "nr_unevictable",    "nr_slab_reclaimable", "nr_slab_unreclaimable", "nr_isolated_anon",
      "nr_isolated_file",  "nr_anon_pages",      "nr_mapped",          "nr_file_pages",
      "nr_shmem",          "nr_anon_transparent_hugepages", "nr_kernel_stack",    "nr_page_table_pages", "nr_vmalloc",
      "nr_kernel_page_table_pages", "nr_hwpoison",
  };
  static_assert(sizeof n / sizeof n[0] == NR_VM_NODE_STAT_ITEMS, "one entry per item");
  return n[i];
}

const char* node_stat_desc(unsigned i) {
  static const char* const d[] = {
      "anonymous pages on the inactive LRU list",
      "anonymous pages on the active LRU list",
      "file pages on the inactive LRU list (no page cache yet)",
      "file pages on the active LRU list (no page cache yet)",
      "unevictable pages",
      "pages of reclaimable slab caches",
      "pages of unreclaimable slab caches (and large kmalloc)",
      "anonymous pages isolated for migration",
      "file pages isolated for migration",
      "anonymous pages mapped by processes",
      "file pages mapped by processes",
      "page-cache pages",
      "shared-memory pages",
      "anonymous transparent huge pages mapped by PMDs",
      "kernel stacks (KiB)",
      "page-table pages of processes",
      "pages backing vmalloc areas",
      "page-table pages of the kernel's own tables",
      "pages kept out of use because they hold poison",
  };
  static_assert(sizeof d / sizeof d[0] == NR_VM_NODE_STAT_ITEMS, "one entry per item");
  return d[i];
}

const char* vm_event_name(unsigned i) {
  static const char* const n[] = {
      "pgalloc_dma",
      "pgalloc_dma32",
      "pgalloc_normal",
      "pgalloc_movable",
      "allocstall_dma",
      "allocstall_dma32",
      "allocstall_normal",
      "allocstall_movable",
      "pgfree",
      "pglazyfree",
      "pgfault",
      "pgmajfault",
      "pgreuse",
      "pgmigrate_success",
      "pgmigrate_fail",
      "compact_migrate_scanned",
      "compact_free_scanned",
      "compact_isolated",
      "compact_stall",
      "compact_fail",
      "compact_success",
      "compact_daemon_wake",
      "compact_daemon_migrate_scanned",
      "compact_daemon_free_scanned",
      "pageoutrun",
      "htlb_buddy_alloc_success",
      "htlb_buddy_alloc_fail",
      "cma_alloc_success",
      "cma_alloc_fail",
      "thp_fault_alloc",
      "thp_fault_fallback",
      "thp_collapse_alloc",
      "thp_collapse_alloc_failed",
      "thp_split_page",
      "thp_split_page_failed",
      "thp_deferred_split_page",
      "thp_split_pmd",
      "thp_scan_exceed_none_pte",
      "thp_scan_exceed_share_pte",
      "thp_zero_page_alloc",
      "thp_zero_page_alloc_failed",
      "nr_tlb_remote_flush",
      "nr_tlb_remote_flush_received",
      "nr_tlb_local_flush_all",
      "nr_tlb_local_flush_one",
      "pgfault_anon",
      "pgfault_spurious",
      "pgfault_sigsegv",
      "pgfault_oom",
      "pgfault_migration_wait",
      "hwpoison_alloc_skipped",
      "extfrag_fallback",
      "extfrag_fragmenting",
      "extfrag_claimed",
      "watermark_boost",
      "kswapd_wake",
      "nofragment_retry",
      "pcp_drain",
      "highatomic_reserved",
      "alloc_nofail_reserve",
      "pgfault_cow",
      "pgfault_zero_page",
      "pgfault_shmem",
      "pgfault_hugetlb",
  };
  static_assert(sizeof n / sizeof n[0] == NR_VM_EVENTS, "one entry per item");
  return n[i];
}

const char* vm_event_desc(unsigned i) {
  static const char* const d[] = {
      "pages allocated from ZONE_DMA",
      "pages allocated from ZONE_DMA32",
      "pages allocated from ZONE_NORMAL",
      "pages allocated from ZONE_MOVABLE",
      "allocations that entered the direct path (highest zone DMA)",
      "allocations that entered the direct path (highest zone DMA32)",
      "allocations that entered the direct path (highest zone Normal)",
      "allocations that entered the direct path (highest zone Movable)",
      "pages freed",
      "pages given to MADV_FREE (lazily freeable)",
      "page faults",
      "major page faults (with I/O; none without swap or files)",
      "write faults that made the page writable in place instead of copying it",
      "pages migrated",
      "pages that failed to migrate",
      "pages scanned by the compaction migration scanner",
      "pages scanned by the compaction free scanner",
      "pages isolated by compaction (both scanners)",
      "allocations that ran direct compaction",
      "direct compactions that did not lead to a successful allocation",
      "direct compactions that led to a successful allocation",
      "kcompactd runs",
      "pages scanned by kcompactd's migration scanner",
      "pages scanned by kcompactd's free scanner",
      "kswapd runs (balance_pgdat)",
      "surplus hugetlb pages allocated from the buddy allocator",
      "surplus hugetlb page allocations that failed",
      "successful cma_alloc calls",
      "failed cma_alloc calls",
      "faults that allocated and mapped a transparent huge page",
      "THP-eligible faults that fell back to 4 KiB pages (no huge page available)",
      "huge pages allocated by khugepaged (or MADV_COLLAPSE) to collapse a range",
      "collapses that could not allocate a huge page",
      "transparent huge pages split into 4 KiB pages",
      "transparent huge page splits that failed",
      "huge pages queued for a deferred split (none: splits happen at once)",
      "PMD mappings of huge pages split into page tables",
      "collapses refused: more empty PTEs than khugepaged_max_ptes_none",
      "collapses refused: more shared PTEs than khugepaged_max_ptes_shared",
      "huge zero pages allocated",
      "huge zero page allocations that failed",
      "TLB flushes that had to reach other CPUs (IPIs sent)",
      "TLB flush IPIs served for another CPU",
      "full local TLB flushes (whole PCID)",
      "pages flushed locally one by one (INVLPG)",
      "faults that mapped a new anonymous page",
      "faults whose page-table entry already allowed the access",
      "faults that ended in SIGSEGV",
      "faults that found no memory",
      "faults that found a page under migration and waited",
      "fresh pages found poisoned when zeroed and taken out of use",
      "allocations served from the free list of another migrate type",
      "fallbacks below pageblock order: a pageblock now mixes migrate types (fragmentation events)",
      "fallbacks that claimed the whole pageblock for the request's migrate type",
      "zone watermarks boosted after a fragmenting fallback",
      "kswapd wakeups (the per-node hook)",
      "zonelist passes repeated without ALLOC_NOFRAGMENT",
      "per-CPU page list drains",
      "pageblocks reserved for high-order atomic allocations",
      "__GFP_NOFAIL allocations that needed the memory reserves",
      "write faults that copied a shared or zero page (copy-on-write)",
      "read faults that mapped the shared zero page",
      "faults on shared anonymous memory",
      "faults on hugetlb mappings",
  };
  static_assert(sizeof d / sizeof d[0] == NR_VM_EVENTS, "one entry per item");
  return d[i];
}

bool vm_event_in_pages(unsigned i) {
  return i <= PGALLOC_MOVABLE || i == PGFREE || i == PGLAZYFREE || i == NR_TLB_LOCAL_FLUSH_ONE || i == PGMIGRATE_SUCCESS || i == PGMIGRATE_FAIL ||
         (i >= COMPACTMIGRATE_SCANNED && i <= COMPACTISOLATED) || i == KCOMPACTD_MIGRATE_SCANNED ||
         i == KCOMPACTD_FREE_SCANNED;
}

// ---------------------------------------------------------------- /proc and statistics
//
// The /proc files of Linux's mm/vmstat.c (buddyinfo, pagetypeinfo, zoneinfo,
// vmstat) and the statistics of the same fields: stats.txt's zone.*,
// node<N>.* and vmstat.* hold exactly what those files show.

namespace {

// Linux calculate_normal_threshold: the per-CPU vmstat delta allowed.
int stat_threshold(const zone& z, unsigned cpus) {
  const uint64_t mem = z.managed_pages >> (27 - PAGE_SHIFT);  // in 128 MiB units
  const int fls_cpus = cpus ? static_cast<int>(fls64(cpus)) + 1 : 0;
  const int fls_mem = mem ? static_cast<int>(fls64(mem)) + 1 : 0;
  const int t = 2 * fls_cpus * (1 + fls_mem);
  return t > 125 ? 125 : t;
}

// The pageblocks of each migrate type in a zone (pagetypeinfo's block counts).
void count_pageblocks(const zone& zn, uint64_t blocks[MIGRATE_TYPES]) {
  for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt) blocks[mt] = 0;
  for (uint64_t pfn = zn.zone_start_pfn; pfn < zn.zone_end_pfn(); pfn = pageblock_end_pfn(pfn))
    ++blocks[zn.get_pfnblock_migratetype(pfn)];
}

// Every /proc/vmstat line, in Linux's order (zone items, NUMA events, node
// items, events; our extensions last in their group): f(name, value, desc, unit).
template <typename F>
void for_each_vmstat(const MmNodes& nodes, const VmStat& vs, F&& f) {
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

// The zone.node<N>.<zone>.* statistics of one zone.
void zone_visit_stats(const StatEmitter& e, const zone& zn, unsigned n, unsigned nr_cpus) {
  const char* zname = zn.name;
  e.fmt(zn.zone_start_pfn, "first pfn of the zone", "pfn", "node%u.%s.start_pfn", n, zname);
  e.fmt(zn.spanned_pages, "pfns the zone spans, holes included", "pages", "node%u.%s.spanned_pages", n, zname);
  e.fmt(zn.present_pages, "usable RAM pages in the zone", "pages", "node%u.%s.present_pages", n, zname);
  e.fmt(zn.managed_pages, "pages of the zone given to the buddy allocator", "pages", "node%u.%s.managed_pages", n, zname);
  e.fmt(zn.cma_pages, "managed pages in CMA areas", "pages", "node%u.%s.cma_pages", n, zname);
  e.fmt(zn.free_pages(), "free pages in the zone (NR_FREE_PAGES)", "pages", "node%u.%s.free_pages", n, zname);
  e.fmt(zn.min_free_pages, "lowest free page count of the zone since boot", "pages", "node%u.%s.min_free_pages", n, zname);
  e.fmt(Watermark::min_wmark_pages(&zn), "min watermark (boost included)", "pages", "node%u.%s.wmark_min", n, zname);
  e.fmt(Watermark::low_wmark_pages(&zn), "low watermark (boost included)", "pages", "node%u.%s.wmark_low", n, zname);
  e.fmt(Watermark::high_wmark_pages(&zn), "high watermark (boost included)", "pages", "node%u.%s.wmark_high", n, zname);
  e.fmt(Watermark::wmark_pages(&zn, WMARK_PROMO), "promo watermark", "pages", "node%u.%s.wmark_promo", n, zname);
  e.fmt(zn.watermark_boost, "watermark boost", "pages", "node%u.%s.boost", n, zname);
  for (unsigned j = 0; j < MAX_NR_ZONES; ++j)
    e.fmt(static_cast<uint64_t>(zn.lowmem_reserve[j]), "lowmem reserve against requests whose highest zone is this",
          "pages", "node%u.%s.protection.%s", n, zname, zone_name(j));
  e.fmt(zn.nr_reserved_highatomic, "pages in high-atomic reserve pageblocks", "pages", "node%u.%s.reserved_highatomic",
        n, zname);
  if (zn.per_cpu_pageset) {
    const per_cpu_pages& p0 = zn.per_cpu_pageset[0];
    uint64_t count = 0;
    for (unsigned c = 0; c < nr_cpus; ++c) count += static_cast<uint64_t>(zn.per_cpu_pageset[c].count);
    e.fmt(count, "pages on the per-CPU lists of all CPUs", "pages", "node%u.%s.pcp_count", n, zname);
    e.fmt(static_cast<uint64_t>(p0.high), "per-CPU list high", "pages", "node%u.%s.pcp_high", n, zname);
    e.fmt(static_cast<uint64_t>(p0.high_min), "per-CPU list high_min", "pages", "node%u.%s.pcp_high_min", n, zname);
    e.fmt(static_cast<uint64_t>(p0.high_max), "per-CPU list high_max", "pages", "node%u.%s.pcp_high_max", n, zname);
    e.fmt(static_cast<uint64_t>(p0.batch), "per-CPU list batch", "pages", "node%u.%s.pcp_batch", n, zname);
  }
  if (!zn.populated()) return;
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
    e.fmt(zn.free_area[o].nr_free, "free blocks of this order (buddyinfo)", "count", "node%u.%s.free_blocks.order%u", n,
          zname, o);
  for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt)
    for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
      e.fmt(zn.free_area[o].nr_free_mt[mt], "free blocks of this order and migrate type (pagetypeinfo)", "count",
            "node%u.%s.free_blocks.%s.order%u", n, zname, migratetype_name(mt), o);
  uint64_t blocks[MIGRATE_TYPES];
  count_pageblocks(zn, blocks);
  for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt)
    e.fmt(blocks[mt], "pageblocks of this migrate type (pagetypeinfo)", "count", "node%u.%s.pageblocks.%s", n, zname,
          migratetype_name(mt));
}

// One zone of /proc/zoneinfo (Linux zoneinfo_show_print); the node's
// counters go with its first populated zone.
void zoneinfo_show_print(seq_file* m, const MmNodes& nodes, const VmStat& vs, unsigned n, const zone& zn,
                         bool* node_stats_done) {
  const pglist_data& pg = nodes.node(static_cast<int>(n));
  seq_printf(m, "Node %u, zone %8s", n, zn.name);
  if (zn.populated() && !*node_stats_done) {
    *node_stats_done = true;
    seq_printf(m, "\n  per-node stats");
    for (unsigned i = 0; i < NR_VM_NODE_STAT_ITEMS; ++i)
      seq_printf(m, "\n      %-12s %lu", node_stat_name(i), static_cast<unsigned long>(vs.node[n][i]));
  }
  seq_printf(m, "\n  pages free     %lu", static_cast<unsigned long>(zn.free_pages()));
  seq_printf(m, "\n        boost    %lu", static_cast<unsigned long>(zn.watermark_boost));
  seq_printf(m, "\n        min      %lu", static_cast<unsigned long>(Watermark::min_wmark_pages(&zn)));
  seq_printf(m, "\n        low      %lu", static_cast<unsigned long>(Watermark::low_wmark_pages(&zn)));
  seq_printf(m, "\n        high     %lu", static_cast<unsigned long>(Watermark::high_wmark_pages(&zn)));
  seq_printf(m, "\n        promo    %lu", static_cast<unsigned long>(Watermark::wmark_pages(&zn, WMARK_PROMO)));
  seq_printf(m, "\n        spanned  %lu", static_cast<unsigned long>(zn.spanned_pages));
  seq_printf(m, "\n        present  %lu", static_cast<unsigned long>(zn.present_pages));
  seq_printf(m, "\n        managed  %lu", static_cast<unsigned long>(zn.managed_pages));
  seq_printf(m, "\n        cma      %lu", static_cast<unsigned long>(zn.cma_pages));
  seq_printf(m, "\n        protection: (%ld", static_cast<long>(zn.lowmem_reserve[0]));
  for (unsigned j = 1; j < MAX_NR_ZONES; ++j) seq_printf(m, ", %ld", static_cast<long>(zn.lowmem_reserve[j]));
  seq_printf(m, ")");
  if (!zn.populated()) {
    seq_printf(m, "\n");
    return;
  }
  for (unsigned i = 0; i < NR_VM_ZONE_STAT_ITEMS; ++i)
    seq_printf(m, "\n      %-12s %ld", zone_stat_name(i), static_cast<long>(zn.vm_stat[i]));
  for (unsigned i = 0; i < NR_VM_NUMA_EVENT_ITEMS; ++i)
    seq_printf(m, "\n      %-12s %lu", numa_stat_name(i), static_cast<unsigned long>(zn.numa_event[i]));
  seq_printf(m, "\n  pagesets");
  for (unsigned c = 0; c < nodes.nr_cpus(); ++c) {
    const per_cpu_pages* p = zn.per_cpu_pageset ? &zn.per_cpu_pageset[c] : nullptr;
    seq_printf(m, "\n    cpu: %u\n              count:    %d\n              high:     %d\n              batch:    %d"
                  "\n              high_min: %d\n              high_max: %d",
               c, p ? p->count : 0, p ? p->high : 0, p ? p->batch : 1, p ? p->high_min : 0, p ? p->high_max : 0);
    seq_printf(m, "\n  vm stats threshold: %d", stat_threshold(zn, nodes.nr_cpus()));
  }
  seq_printf(m, "\n  node_unreclaimable:  %u", pg.kswapd_failures >= MAX_RECLAIM_RETRIES ? 1u : 0u);
  seq_printf(m, "\n  start_pfn:           %lu", static_cast<unsigned long>(zn.zone_start_pfn));
  seq_printf(m, "\n  reserved_highatomic: %lu", static_cast<unsigned long>(zn.nr_reserved_highatomic));
  seq_printf(m, "\n  free_highatomic:     %lu\n", static_cast<unsigned long>(zn.nr_free_highatomic));
}

}  // namespace

void frag_show(seq_file* m, const MmContext& ctx) {
  const MmNodes& nodes = *ctx.nodes;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n) {
    const pglist_data& pg = nodes.node(static_cast<int>(n));
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
      const zone& zn = pg.node_zones[z];
      if (!zn.populated()) continue;
      seq_printf(m, "Node %u, zone %8s ", n, zn.name);
      for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) seq_printf(m, "%6lu ", static_cast<unsigned long>(zn.free_area[o].nr_free));
      seq_printf(m, "\n");
    }
  }
}

void pagetypeinfo_show(seq_file* m, const MmContext& ctx) {
  const MmNodes& nodes = *ctx.nodes;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n) {
    const pglist_data& pg = nodes.node(static_cast<int>(n));
    if (!pg.node_present_pages) continue;
    seq_printf(m, "Page block order: %u\n", pageblock_order);
    seq_printf(m, "Pages per block:  %lu\n\n", static_cast<unsigned long>(pageblock_nr_pages));
    // Linux pagetypeinfo_showfree.
    seq_printf(m, "%-43s ", "Free pages count per migrate type at order");
    for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) seq_printf(m, "%6u ", o);
    seq_printf(m, "\n");
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
      const zone& zn = pg.node_zones[z];
      if (!zn.populated()) continue;
      for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt) {
        seq_printf(m, "Node %4u, zone %8s, type %12s ", n, zn.name, migratetype_name(mt));
        for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) {
          const uint64_t c = zn.free_area[o].nr_free_mt[mt];
          // Linux stops counting at 100000 and shows ">".
          if (c >= 100000) seq_printf(m, ">%6lu ", 100000ul);
          else seq_printf(m, "%6lu ", static_cast<unsigned long>(c));
        }
        seq_printf(m, "\n");
      }
    }
    // Linux pagetypeinfo_showblockcount.
    seq_printf(m, "\n%-23s", "Number of blocks type ");
    for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt) seq_printf(m, "%12s ", migratetype_name(mt));
    seq_printf(m, "\n");
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
      const zone& zn = pg.node_zones[z];
      if (!zn.populated()) continue;
      uint64_t blocks[MIGRATE_TYPES];
      count_pageblocks(zn, blocks);
      seq_printf(m, "Node %u, zone %8s ", n, zn.name);
      for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt) seq_printf(m, "%12lu ", static_cast<unsigned long>(blocks[mt]));
      seq_printf(m, "\n");
    }
  }
}

void zoneinfo_show(seq_file* m, const MmContext& ctx) {
  const MmNodes& nodes = *ctx.nodes;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n) {
    bool node_stats_done = false;
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z)
      zoneinfo_show_print(m, nodes, *ctx.vmstat, n, nodes.node(static_cast<int>(n)).node_zones[z], &node_stats_done);
  }
}

void vmstat_show(seq_file* m, const MmContext& ctx) {
  for_each_vmstat(*ctx.nodes, *ctx.vmstat, [&](const char* n, uint64_t v, const char*, const char*) {
    seq_printf(m, "%s %lu\n", n, static_cast<unsigned long>(v));
  });
}

void zoneinfo_visit_stats(const MmContext& ctx, StatVisitor& v) {
  const MmNodes& nodes = *ctx.nodes;
  const StatEmitter zone_e(v, "zone");
  const StatEmitter node_e(v, "");
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n) {
    const pglist_data& pg = nodes.node(static_cast<int>(n));
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z)
      if (pg.node_zones[z].spanned_pages) zone_visit_stats(zone_e, pg.node_zones[z], n, nodes.nr_cpus());
    node_e.fmt(pg.kswapd_failures, "kswapd runs that left the node below its high watermarks", "count",
               "node%u.kswapd_failures", n);
    node_e.fmt(pg.totalreserve_pages, "reserved pages of the node", "pages", "node%u.totalreserve_pages", n);
    node_e.fmt(Compaction::fragmentation_score_node(pg), "fragmentation score (compaction_proactiveness)", "percent",
               "node%u.fragmentation_score", n);
  }
}

void vmstat_visit_stats(const MmContext& ctx, StatVisitor& v, const char* prefix) {
  const StatEmitter e(v, prefix);
  for_each_vmstat(*ctx.nodes, *ctx.vmstat, [&](const char* name, uint64_t val, const char* desc, const char* unit) {
    e(name, val, desc, unit);
  });
}

}  // namespace fw
