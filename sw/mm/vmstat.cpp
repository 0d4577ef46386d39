#include "sw/mm/vmstat.h"

#include "sw/mm/page-writeback.h"

#include "sw/lib/bitops.h"
#include "sw/lib/seq_file.h"
#include "sw/mm/compaction.h"
#include "sw/mm/context.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/pcp.h"
#include "sw/mm/vmscan.h"
#include "sw/mm/watermark.h"

namespace fw {

// ---------------------------------------------------------------- item tables
//
// One entry per enum item, in Linux 6.18's vmstat_text[] order; the
// static_asserts keep each table as long as its enum.

namespace {

constexpr const char* kPages = "pages";
constexpr const char* kCount = "count";

const VmstatItem kZoneStatItems[] = {
    {"nr_free_pages", "free pages on the buddy lists (not isolated)", kPages},
    {"nr_free_pages_blocks", "free pages in blocks of pageblock order or more", kPages},
    {"nr_zone_inactive_anon", "anonymous pages on the inactive LRU list", kPages},
    {"nr_zone_active_anon", "anonymous pages on the active LRU list", kPages},
    {"nr_zone_inactive_file", "file pages on the inactive LRU list", kPages},
    {"nr_zone_active_file", "file pages on the active LRU list", kPages},
    {"nr_zone_unevictable", "pages on the unevictable LRU list (mlocked)", kPages},
    {"nr_zone_write_pending", "dirty and writeback pages", kPages},
    {"nr_mlock", "mlocked pages", kPages},
    {"nr_zspages", "zsmalloc pages (no zswap yet)", kPages},
    {"nr_free_cma", "free pages in CMA pageblocks", kPages},
};
static_assert(sizeof kZoneStatItems / sizeof kZoneStatItems[0] == NR_VM_ZONE_STAT_ITEMS, "one entry per item");

const VmstatItem kNumaStatItems[] = {
    {"numa_hit", "allocations served by the preferred node", kCount},
    {"numa_miss", "allocations served by another node than the preferred one", kCount},
    {"numa_foreign", "allocations meant for this node served elsewhere", kCount},
    {"numa_interleave", "interleave-policy allocations (no mempolicy yet)", kCount},
    {"numa_local", "allocations served by the allocating CPU's node", kCount},
    {"numa_other", "allocations served by another node than the allocating CPU's", kCount},
};
static_assert(sizeof kNumaStatItems / sizeof kNumaStatItems[0] == NR_VM_NUMA_EVENT_ITEMS, "one entry per item");

const VmstatItem kNodeStatItems[] = {
    {"nr_inactive_anon", "anonymous pages on the inactive LRU list", kPages},
    {"nr_active_anon", "anonymous pages on the active LRU list", kPages},
    {"nr_inactive_file", "file pages on the inactive LRU list", kPages},
    {"nr_active_file", "file pages on the active LRU list", kPages},
    {"nr_unevictable", "pages on the unevictable LRU list (mlocked)", kPages},
    {"nr_slab_reclaimable", "pages of reclaimable slab caches", kPages},
    {"nr_slab_unreclaimable", "pages of unreclaimable slab caches (and large kmalloc)", kPages},
    {"nr_isolated_anon", "anonymous pages isolated for migration or reclaim", kPages},
    {"nr_isolated_file", "file pages isolated for reclaim", kPages},
    {"workingset_nodes", "page-cache tree leaves holding only shadow entries", kCount},
    {"workingset_refault_anon", "refaults of evicted anonymous pages (a shadow found)", kPages},
    {"workingset_refault_file", "refaults of evicted file pages (a shadow found)", kPages},
    {"workingset_activate_anon", "refaulted anonymous pages activated (refault distance within the workingset)", kPages},
    {"workingset_activate_file", "refaulted file pages activated (refault distance within the workingset)", kPages},
    {"workingset_restore_anon", "activated refaults of anonymous pages evicted from the workingset", kPages},
    {"workingset_restore_file", "activated refaults of file pages evicted from the workingset", kPages},
    {"workingset_nodereclaim", "shadow-only tree leaves freed by the shadow-node shrinker", kCount},
    {"nr_anon_pages", "anonymous pages mapped by processes", kPages},
    {"nr_mapped", "file pages mapped by processes", kPages},
    {"nr_file_pages", "page-cache pages (shared memory included)", kPages},
    {"nr_dirty", "dirty page-cache pages", kPages},
    {"nr_writeback", "pages under writeback", kPages},
    {"nr_shmem", "shared-memory pages", kPages},
    {"nr_shmem_hugepages", "shared-memory huge pages (no shmem THP yet)", kCount},
    {"nr_shmem_pmdmapped", "PMD-mapped shared-memory huge pages (no shmem THP yet)", kCount},
    {"nr_file_hugepages", "page-cache huge pages (no large folios in the page cache)", kCount},
    {"nr_file_pmdmapped", "PMD-mapped page-cache huge pages (no large folios in the page cache)", kCount},
    {"nr_anon_transparent_hugepages", "anonymous transparent huge pages mapped by PMDs", kCount},
    {"nr_vmscan_write", "pages written by reclaim (to swap)", kPages},
    {"nr_vmscan_immediate_reclaim", "dirty file pages reclaim marked PG_reclaim and left to the flusher", kPages},
    {"nr_dirtied", "pages dirtied since boot", kPages},
    {"nr_written", "pages written since boot", kPages},
    {"nr_throttled_written", "pages written while reclaim was throttled (reclaim is never throttled)", kPages},
    {"nr_kernel_misc_reclaimable", "reclaimable non-slab kernel pages", kPages},
    {"nr_foll_pin_acquired", "pages pinned with FOLL_PIN", kPages},
    {"nr_foll_pin_released", "FOLL_PIN pins released", kPages},
    {"nr_kernel_stack", "kernel stacks (KiB)", "KiB"},
    {"nr_page_table_pages", "page-table pages of processes", kPages},
    {"nr_sec_page_table_pages", "secondary (KVM, IOMMU) page-table pages", kPages},
    {"nr_iommu_pages", "pages allocated by the IOMMU driver", kPages},
    {"nr_swapcached", "pages in the swap cache", kPages},
    {"pgpromote_success", "pages promoted by NUMA balancing", kPages},
    {"pgpromote_candidate", "NUMA balancing promotion candidates", kPages},
    {"pgpromote_candidate_nrl", "NUMA balancing promotion candidates, not rate-limited", kPages},
    {"pgdemote_kswapd", "pages demoted by kswapd", kPages},
    {"pgdemote_direct", "pages demoted by direct reclaim", kPages},
    {"pgdemote_khugepaged", "pages demoted by khugepaged's reclaim", kPages},
    {"pgdemote_proactive", "pages demoted by proactive reclaim", kPages},
    {"nr_hugetlb", "pages of hugetlb pages in use (faulted in from a pool)", kPages},
    {"nr_balloon_pages", "pages taken by a balloon driver", kPages},
    {"nr_kernel_file_pages", "kernel-owned page-cache pages", kPages},
    // Ours.
    {"nr_vmalloc", "pages backing vmalloc areas", kPages},
    {"nr_kernel_page_table_pages", "page-table pages of the kernel's own tables", kPages},
    {"nr_hwpoison", "pages kept out of use because they hold poison", kPages},
};
static_assert(sizeof kNodeStatItems / sizeof kNodeStatItems[0] == NR_VM_NODE_STAT_ITEMS, "one entry per item");

const VmstatItem kVmStatItems[] = {
    {"nr_dirty_threshold", "dirty page limit: vm.dirty_ratio of the dirtyable memory", kPages},
    {"nr_dirty_background_threshold", "background writeback limit: vm.dirty_background_ratio of the dirtyable memory",
     kPages},
    {"nr_memmap_pages", "memmap pages allocated after boot", kPages},
    {"nr_memmap_boot_pages", "memmap (struct page array) pages allocated at boot", kPages},
};
static_assert(sizeof kVmStatItems / sizeof kVmStatItems[0] == NR_VM_STAT_ITEMS, "one entry per item");

const VmstatItem kVmEventItems[] = {
    {"pgpgin", "KiB read from block devices", "KiB"},
    {"pgpgout", "KiB written to block devices", "KiB"},
    {"pswpin", "pages swapped in", kPages},
    {"pswpout", "pages swapped out", kPages},
    {"pgalloc_dma", "pages allocated from ZONE_DMA", kPages},
    {"pgalloc_dma32", "pages allocated from ZONE_DMA32", kPages},
    {"pgalloc_normal", "pages allocated from ZONE_NORMAL", kPages},
    {"pgalloc_movable", "pages allocated from ZONE_MOVABLE", kPages},
    {"pgalloc_device", "pages allocated from ZONE_DEVICE (never: device memory is not modelled)", kPages},
    {"allocstall_dma", "allocations that entered the direct path (highest zone DMA)", kCount},
    {"allocstall_dma32", "allocations that entered the direct path (highest zone DMA32)", kCount},
    {"allocstall_normal", "allocations that entered the direct path (highest zone Normal)", kCount},
    {"allocstall_movable", "allocations that entered the direct path (highest zone Movable)", kCount},
    {"allocstall_device", "allocations that entered the direct path (highest zone Device)", kCount},
    {"pgskip_dma", "LRU pages reclaim skipped in ZONE_DMA", kPages},
    {"pgskip_dma32", "LRU pages reclaim skipped in ZONE_DMA32", kPages},
    {"pgskip_normal", "LRU pages reclaim skipped in ZONE_NORMAL", kPages},
    {"pgskip_movable", "LRU pages reclaim skipped in ZONE_MOVABLE", kPages},
    {"pgskip_device", "LRU pages reclaim skipped in ZONE_DEVICE", kPages},
    {"pgfree", "pages freed", kPages},
    {"pgactivate", "pages moved to an active LRU list", kPages},
    {"pgdeactivate", "pages moved to an inactive LRU list", kPages},
    {"pglazyfree", "pages given to MADV_FREE (lazily freeable)", kPages},
    {"pgfault", "page faults", kCount},
    {"pgmajfault", "major page faults (the fault needed I/O)", kCount},
    {"pglazyfreed", "MADV_FREE pages freed by reclaim (lazy-free pages are not reclaimed apart)", kPages},
    {"pgrefill", "pages scanned on the active lists by reclaim", kPages},
    {"pgreuse", "write faults that made the page writable in place instead of copying it", kCount},
    {"pgsteal_kswapd", "pages reclaimed by kswapd", kPages},
    {"pgsteal_direct", "pages reclaimed by direct reclaim", kPages},
    {"pgsteal_khugepaged", "pages reclaimed by khugepaged (never: it does not reclaim)", kPages},
    {"pgsteal_proactive", "pages reclaimed by proactive reclaim (no memory.reclaim)", kPages},
    {"pgscan_kswapd", "pages scanned by kswapd", kPages},
    {"pgscan_direct", "pages scanned by direct reclaim", kPages},
    {"pgscan_khugepaged", "pages scanned by khugepaged's reclaim (never: it does not reclaim)", kPages},
    {"pgscan_proactive", "pages scanned by proactive reclaim (no memory.reclaim)", kPages},
    {"pgscan_direct_throttle", "direct reclaimers throttled (never: no throttling)", kCount},
    {"pgscan_anon", "anonymous pages scanned by reclaim", kPages},
    {"pgscan_file", "file pages scanned by reclaim", kPages},
    {"pgsteal_anon", "anonymous pages reclaimed", kPages},
    {"pgsteal_file", "file pages reclaimed", kPages},
    {"zone_reclaim_success", "node reclaim runs that succeeded (no node reclaim)", kCount},
    {"zone_reclaim_failed", "node reclaim runs that failed (no node reclaim)", kCount},
    {"pginodesteal", "pages reclaimed by freeing inodes (no inode reclaim)", kPages},
    {"slabs_scanned", "objects scanned by shrinkers (shrink_slab)", kCount},
    {"kswapd_inodesteal", "pages kswapd reclaimed by freeing inodes (no inode reclaim)", kPages},
    {"kswapd_low_wmark_hit_quickly", "kswapd sleeps that came early at the low watermark", kCount},
    {"kswapd_high_wmark_hit_quickly", "kswapd sleeps that came early at the high watermark", kCount},
    {"pageoutrun", "kswapd runs (balance_pgdat)", kCount},
    {"pgrotated", "pages rotated to the inactive list's tail after writeback", kPages},
    {"drop_pagecache", "writes of 1 or 3 to vm.drop_caches", kCount},
    {"drop_slab", "writes of 2 or 3 to vm.drop_caches", kCount},
    {"oom_kill", "processes killed for lack of memory (the faulting one: no victim selection)", kCount},
    {"numa_pte_updates", "PTEs made NUMA-hinting (no NUMA balancing)", kCount},
    {"numa_huge_pte_updates", "PMDs made NUMA-hinting (no NUMA balancing)", kCount},
    {"numa_hint_faults", "NUMA hinting faults (no NUMA balancing)", kCount},
    {"numa_hint_faults_local", "NUMA hinting faults on local memory (no NUMA balancing)", kCount},
    {"numa_pages_migrated", "pages migrated by NUMA balancing", kPages},
    {"pgmigrate_success", "pages migrated", kPages},
    {"pgmigrate_fail", "pages that failed to migrate", kPages},
    {"thp_migration_success", "transparent huge pages migrated whole (never: they are not migrated)", kCount},
    {"thp_migration_fail", "transparent huge page migrations that failed", kCount},
    {"thp_migration_split", "transparent huge pages split to be migrated", kCount},
    {"compact_migrate_scanned", "pages scanned by the compaction migration scanner", kPages},
    {"compact_free_scanned", "pages scanned by the compaction free scanner", kPages},
    {"compact_isolated", "pages isolated by compaction (both scanners)", kPages},
    {"compact_stall", "allocations that ran direct compaction", kCount},
    {"compact_fail", "direct compactions that did not lead to a successful allocation", kCount},
    {"compact_success", "direct compactions that led to a successful allocation", kCount},
    {"compact_daemon_wake", "kcompactd runs", kCount},
    {"compact_daemon_migrate_scanned", "pages scanned by kcompactd's migration scanner", kPages},
    {"compact_daemon_free_scanned", "pages scanned by kcompactd's free scanner", kPages},
    {"htlb_buddy_alloc_success", "surplus hugetlb pages allocated from the buddy allocator", kCount},
    {"htlb_buddy_alloc_fail", "surplus hugetlb page allocations that failed", kCount},
    {"cma_alloc_success", "successful cma_alloc calls", kCount},
    {"cma_alloc_fail", "failed cma_alloc calls", kCount},
    {"unevictable_pgs_culled", "pages moved to the unevictable list", kPages},
    {"unevictable_pgs_scanned", "unevictable pages scanned (never: the list is not scanned)", kPages},
    {"unevictable_pgs_rescued", "pages moved back from the unevictable list", kPages},
    {"unevictable_pgs_mlocked", "pages mlocked", kPages},
    {"unevictable_pgs_munlocked", "pages munlocked", kPages},
    {"unevictable_pgs_cleared", "pages freed while mlocked (their mlock cleared)", kPages},
    {"unevictable_pgs_stranded", "mlocked pages that could not be munlocked (never)", kPages},
    {"thp_fault_alloc", "faults that allocated and mapped a transparent huge page", kCount},
    {"thp_fault_fallback", "THP-eligible faults that fell back to 4 KiB pages (no huge page available)", kCount},
    {"thp_fault_fallback_charge", "THP faults that fell back for a memory-cgroup charge (no cgroups)", kCount},
    {"thp_collapse_alloc", "huge pages allocated by khugepaged (or MADV_COLLAPSE) to collapse a range", kCount},
    {"thp_collapse_alloc_failed", "collapses that could not allocate a huge page", kCount},
    {"thp_file_alloc", "page-cache huge pages allocated (no large folios in the page cache)", kCount},
    {"thp_file_fallback", "page-cache huge page allocations that fell back (no large folios in the page cache)", kCount},
    {"thp_file_fallback_charge", "page-cache huge pages that fell back for a charge (no cgroups)", kCount},
    {"thp_file_mapped", "page-cache huge pages mapped by PMDs (no large folios in the page cache)", kCount},
    {"thp_split_page", "transparent huge pages split into 4 KiB pages", kCount},
    {"thp_split_page_failed", "transparent huge page splits that failed", kCount},
    {"thp_deferred_split_page", "huge pages queued for a deferred split (none: splits happen at once)", kCount},
    {"thp_underused_split_page", "underused huge pages split by the shrinker (no deferred split queue)", kCount},
    {"thp_split_pmd", "PMD mappings of huge pages split into page tables", kCount},
    {"thp_scan_exceed_none_pte", "collapses refused: more empty PTEs than khugepaged_max_ptes_none", kCount},
    {"thp_scan_exceed_swap_pte", "collapses refused for swap PTEs (never: khugepaged skips ranges with swap entries)",
     kCount},
    {"thp_scan_exceed_share_pte", "collapses refused: more shared PTEs than khugepaged_max_ptes_shared", kCount},
    {"thp_split_pud", "PUD mappings of huge pages split (no PUD-sized THP)", kCount},
    {"thp_zero_page_alloc", "huge zero pages allocated", kCount},
    {"thp_zero_page_alloc_failed", "huge zero page allocations that failed", kCount},
    {"thp_swpout", "huge pages swapped out whole (never: huge pages are split to be swapped out)", kCount},
    {"thp_swpout_fallback", "huge pages split to be swapped out", kCount},
    {"balloon_inflate", "pages taken by a balloon driver (no balloon)", kPages},
    {"balloon_deflate", "pages given back by a balloon driver (no balloon)", kPages},
    {"balloon_migrate", "balloon pages migrated (no balloon)", kPages},
    {"swap_ra", "pages read ahead from swap", kPages},
    {"swap_ra_hit", "swap read-ahead pages used", kPages},
    {"swpin_zero", "zero-filled pages swapped in without I/O (no zero-page detection)", kPages},
    {"swpout_zero", "zero-filled pages swapped out without I/O (no zero-page detection)", kPages},
    {"ksm_swpin_copy", "KSM pages copied at swap-in (no KSM)", kPages},
    {"cow_ksm", "copy-on-write faults on KSM pages (no KSM)", kCount},
    {"zswpin", "pages loaded from zswap (no zswap)", kPages},
    {"zswpout", "pages stored in zswap (no zswap)", kPages},
    {"zswpwb", "zswap pages written back to swap (no zswap)", kPages},
    {"direct_map_level2_splits", "2 MiB direct-map pages split into 4 KiB pages", kCount},
    {"direct_map_level3_splits", "1 GiB direct-map pages split into 2 MiB pages", kCount},
    {"direct_map_level2_collapses", "4 KiB direct-map ranges collapsed into 2 MiB pages", kCount},
    {"direct_map_level3_collapses", "2 MiB direct-map ranges collapsed into 1 GiB pages", kCount},
    // Linux's CONFIG_DEBUG_TLBFLUSH counters, then ours.
    {"nr_tlb_remote_flush", "TLB flushes that had to reach other CPUs (IPIs sent)", kCount},
    {"nr_tlb_remote_flush_received", "TLB flush IPIs served for another CPU", kCount},
    {"nr_tlb_local_flush_all", "full local TLB flushes (whole PCID)", kCount},
    {"nr_tlb_local_flush_one", "pages flushed locally one by one (INVLPG)", kPages},
    {"pgfault_anon", "faults that mapped a new anonymous page", kCount},
    {"pgfault_spurious", "faults whose page-table entry already allowed the access", kCount},
    {"pgfault_sigsegv", "faults that ended in SIGSEGV", kCount},
    {"pgfault_oom", "faults that found no memory", kCount},
    {"pgfault_migration_wait", "faults that found a page under migration and waited", kCount},
    {"hwpoison_alloc_skipped", "fresh pages found poisoned when zeroed and taken out of use", kCount},
    {"extfrag_fallback", "allocations served from the free list of another migrate type", kCount},
    {"extfrag_fragmenting", "fallbacks below pageblock order: a pageblock now mixes migrate types (fragmentation events)",
     kCount},
    {"extfrag_claimed", "fallbacks that claimed the whole pageblock for the request's migrate type", kCount},
    {"watermark_boost", "zone watermarks boosted after a fragmenting fallback", kCount},
    {"kswapd_wake", "kswapd wakeups (the per-node hook)", kCount},
    {"nofragment_retry", "zonelist passes repeated without ALLOC_NOFRAGMENT", kCount},
    {"pcp_drain", "per-CPU page list drains", kCount},
    {"highatomic_reserved", "pageblocks reserved for high-order atomic allocations", kCount},
    {"alloc_nofail_reserve", "__GFP_NOFAIL allocations that needed the memory reserves", kCount},
    {"pgfault_cow", "write faults that copied a shared or zero page (copy-on-write)", kCount},
    {"pgfault_zero_page", "read faults that mapped the shared zero page", kCount},
    {"pgfault_shmem", "faults on shared anonymous memory", kCount},
    {"pgfault_hugetlb", "faults on hugetlb mappings", kCount},
};
static_assert(sizeof kVmEventItems / sizeof kVmEventItems[0] == NR_VM_EVENTS, "one entry per item");

}  // namespace

const VmstatItem& zone_stat_item_desc(unsigned i) { return kZoneStatItems[i]; }
const VmstatItem& numa_stat_item_desc(unsigned i) { return kNumaStatItems[i]; }
const VmstatItem& node_stat_item_desc(unsigned i) { return kNodeStatItems[i]; }
const VmstatItem& vm_stat_item_desc(unsigned i) { return kVmStatItems[i]; }
const VmstatItem& vm_event_item_desc(unsigned i) { return kVmEventItems[i]; }

uint64_t vm_stat_item_value(const MmContext& ctx, unsigned item) {
  const MmNodes& nodes = *ctx.nodes;
  switch (item) {
    case NR_DIRTY_THRESHOLD:
    case NR_DIRTY_BG_THRESHOLD: {
      const DirtyLimits lim = ctx.writeback->global_dirty_limits();
      return item == NR_DIRTY_THRESHOLD ? lim.thresh : lim.bg_thresh;
    }
    case NR_MEMMAP_BOOT_PAGES:
      return nodes.memmap_bytes() >> PAGE_SHIFT;
    default:
      return 0;  // NR_MEMMAP_PAGES: no memory hotplug
  }
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

// Every /proc/vmstat line, in Linux 6.18's order (zone items, NUMA events,
// node items, system-wide items, events, and the deprecated nr_unstable
// Linux appends); with `ours`, our own node items and events follow:
// f(name, value, desc, unit).
template <typename F>
void for_each_vmstat(const MmContext& ctx, bool ours, F&& f) {
  const MmNodes& nodes = *ctx.nodes;
  const VmStat& vs = *ctx.vmstat;
  for (unsigned i = 0; i < NR_VM_ZONE_STAT_ITEMS; ++i) {
    int64_t v = 0;
    for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
      for (unsigned z = 0; z < MAX_NR_ZONES; ++z) v += nodes.node(static_cast<int>(n)).node_zones[z].vm_stat[i];
    const VmstatItem& d = zone_stat_item_desc(i);
    f(d.name, static_cast<uint64_t>(v), d.desc, d.unit);
  }
  for (unsigned i = 0; i < NR_VM_NUMA_EVENT_ITEMS; ++i) {
    uint64_t v = 0;
    for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
      for (unsigned z = 0; z < MAX_NR_ZONES; ++z) v += nodes.node(static_cast<int>(n)).node_zones[z].numa_event[i];
    const VmstatItem& d = numa_stat_item_desc(i);
    f(d.name, v, d.desc, d.unit);
  }
  auto node_item = [&](unsigned i) {
    const VmstatItem& d = node_stat_item_desc(i);
    f(d.name, static_cast<uint64_t>(vs.node_total(i)), d.desc, d.unit);
  };
  auto event = [&](unsigned i) {
    const VmstatItem& d = vm_event_item_desc(i);
    f(d.name, vs.event[i], d.desc, d.unit);
  };
  for (unsigned i = 0; i < NR_LINUX_NODE_STAT_ITEMS; ++i) node_item(i);
  for (unsigned i = 0; i < NR_VM_STAT_ITEMS; ++i) {
    const VmstatItem& d = vm_stat_item_desc(i);
    f(d.name, vm_stat_item_value(ctx, i), d.desc, d.unit);
  }
  for (unsigned i = 0; i < NR_LINUX_VM_EVENTS; ++i) event(i);
  f("nr_unstable", 0, "deprecated, always 0 (Linux keeps the line for old tools)", kPages);
  if (!ours) return;
  for (unsigned i = NR_LINUX_NODE_STAT_ITEMS; i < NR_VM_NODE_STAT_ITEMS; ++i) node_item(i);
  for (unsigned i = NR_LINUX_VM_EVENTS; i < NR_VM_EVENTS; ++i) event(i);
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
    for (unsigned i = 0; i < NR_LINUX_NODE_STAT_ITEMS; ++i)
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
  seq_printf(m, "\n  start_pfn:           %lu\n", static_cast<unsigned long>(zn.zone_start_pfn));
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
  for_each_vmstat(ctx, false, [&](const char* n, uint64_t v, const char*, const char*) {
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
    node_e.fmt(pg.kswapd_failures, "kswapd runs in a row that reclaimed nothing (16: the node is hopeless)", "count",
               "node%u.kswapd_failures", n);
    node_e.fmt(pg.totalreserve_pages, "reserved pages of the node", "pages", "node%u.totalreserve_pages", n);
    node_e.fmt(Compaction::fragmentation_score_node(pg), "fragmentation score (compaction_proactiveness)", "percent",
               "node%u.fragmentation_score", n);
  }
}

void vmstat_visit_stats(const MmContext& ctx, StatVisitor& v, const char* prefix) {
  const StatEmitter e(v, prefix);
  for_each_vmstat(ctx, true, [&](const char* name, uint64_t val, const char* desc, const char* unit) {
    e(name, val, desc, unit);
  });
}

}  // namespace fw
