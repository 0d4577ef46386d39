#include "sw/mm/vmstat.h"

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

}  // namespace fw
