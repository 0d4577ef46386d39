// Memory statistics with Linux 6.18's /proc/vmstat names and order
// (include/linux/mmzone.h, vm_event_item.h, vmstat.h; mm/vmstat.c's
// vmstat_text[]): per-zone items, NUMA events, per-node items, the
// system-wide items computed when read, and event counters. The enums list
// every item 6.18 prints on x86-64 with the configuration of the reference
// kernel (tb/ref/linux-6.18-proc: NUMA, NUMA balancing, zsmalloc, zswap,
// KSM, balloon, IOMMU, swap, THP with PUD pages, ZONE_DEVICE) plus CMA;
// an item the model does not drive yet stays 0, as on a kernel without
// that activity, so later work drives counters and never adds keys. Items
// of our own come after each enum's Linux items (NR_LINUX_*): they are
// statistics (stats.txt's vmstat.*), never /proc lines.
// vmstat.cpp also holds mm/vmstat.c's /proc files (buddyinfo, pagetypeinfo,
// zoneinfo, vmstat) and the statistics of the same fields.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"

namespace fw {

struct MmContext;
struct seq_file;

// A counter's /proc name, what it counts and its unit (for stats.txt).
struct VmstatItem {
  const char* name;
  const char* desc;
  const char* unit;
};

enum zone_stat_item : unsigned {
  NR_FREE_PAGES,
  NR_FREE_PAGES_BLOCKS,  // free pages in blocks of pageblock order or more, isolated ones not
  NR_ZONE_INACTIVE_ANON,
  NR_ZONE_ACTIVE_ANON,
  NR_ZONE_INACTIVE_FILE,
  NR_ZONE_ACTIVE_FILE,
  NR_ZONE_UNEVICTABLE,
  NR_ZONE_WRITE_PENDING,
  NR_MLOCK,
  NR_ZSPAGES,
  NR_FREE_CMA_PAGES,
  NR_VM_ZONE_STAT_ITEMS,
};

enum numa_stat_item : unsigned {
  NUMA_HIT,
  NUMA_MISS,
  NUMA_FOREIGN,
  NUMA_INTERLEAVE_HIT,
  NUMA_LOCAL,
  NUMA_OTHER,
  NR_VM_NUMA_EVENT_ITEMS,
};

enum node_stat_item : unsigned {
  NR_INACTIVE_ANON,
  NR_ACTIVE_ANON,
  NR_INACTIVE_FILE,
  NR_ACTIVE_FILE,
  NR_UNEVICTABLE,
  NR_SLAB_RECLAIMABLE,    // pages (Linux counts bytes, NR_SLAB_RECLAIMABLE_B, and prints pages)
  NR_SLAB_UNRECLAIMABLE,
  NR_ISOLATED_ANON,
  NR_ISOLATED_FILE,
  WORKINGSET_NODES,
  WORKINGSET_REFAULT_ANON,
  WORKINGSET_REFAULT_FILE,
  WORKINGSET_ACTIVATE_ANON,
  WORKINGSET_ACTIVATE_FILE,
  WORKINGSET_RESTORE_ANON,
  WORKINGSET_RESTORE_FILE,
  WORKINGSET_NODERECLAIM,
  NR_ANON_MAPPED,         // "nr_anon_pages"
  NR_FILE_MAPPED,         // "nr_mapped"
  NR_FILE_PAGES,
  NR_FILE_DIRTY,          // "nr_dirty"
  NR_WRITEBACK,
  NR_SHMEM,
  NR_SHMEM_THPS,          // the *_THPS and *_PMDMAPPED items count huge pages (Linux prints them so)
  NR_SHMEM_PMDMAPPED,
  NR_FILE_THPS,
  NR_FILE_PMDMAPPED,
  NR_ANON_THPS,           // "nr_anon_transparent_hugepages": PMD-mapped anonymous huge pages
  NR_VMSCAN_WRITE,
  NR_VMSCAN_IMMEDIATE,
  NR_DIRTIED,
  NR_WRITTEN,
  NR_THROTTLED_WRITTEN,
  NR_KERNEL_MISC_RECLAIMABLE,
  NR_FOLL_PIN_ACQUIRED,
  NR_FOLL_PIN_RELEASED,
  NR_KERNEL_STACK_KB,
  NR_PAGETABLE,           // "nr_page_table_pages": page tables of processes
  NR_SECONDARY_PAGETABLE,
  NR_IOMMU_PAGES,
  NR_SWAPCACHE,
  PGPROMOTE_SUCCESS,
  PGPROMOTE_CANDIDATE,
  PGPROMOTE_CANDIDATE_NRL,
  PGDEMOTE_KSWAPD,
  PGDEMOTE_DIRECT,
  PGDEMOTE_KHUGEPAGED,
  PGDEMOTE_PROACTIVE,
  NR_HUGETLB,             // pages of hugetlb folios in use (taken from a pool by a fault)
  NR_BALLOON_PAGES,
  NR_KERNEL_FILE_PAGES,
  NR_LINUX_NODE_STAT_ITEMS,
  // Ours (statistics only).
  NR_VMALLOC = NR_LINUX_NODE_STAT_ITEMS,  // pages backing vmalloc areas
  NR_KERNEL_PAGETABLE,    // the kernel's own page tables
  NR_HWPOISON,            // pages kept out of use because they hold poison
  NR_VM_NODE_STAT_ITEMS,
};

// System-wide items computed when read (Linux enum vm_stat_item).
enum vm_stat_item : unsigned {
  NR_DIRTY_THRESHOLD,
  NR_DIRTY_BG_THRESHOLD,
  NR_MEMMAP_PAGES,       // memmap pages allocated after boot (memory hotplug): none
  NR_MEMMAP_BOOT_PAGES,  // memmap pages allocated at boot
  NR_VM_STAT_ITEMS,
};

enum vm_event_item : unsigned {
  PGPGIN,
  PGPGOUT,
  PSWPIN,
  PSWPOUT,
  PGALLOC_DMA,  // PGALLOC_DMA + zone index names the zone's counter (5 zones: ... Movable, Device)
  PGALLOC_DMA32,
  PGALLOC_NORMAL,
  PGALLOC_MOVABLE,
  PGALLOC_DEVICE,
  ALLOCSTALL_DMA,  // direct-path entries, by the highest zone of the request
  ALLOCSTALL_DMA32,
  ALLOCSTALL_NORMAL,
  ALLOCSTALL_MOVABLE,
  ALLOCSTALL_DEVICE,
  PGSCAN_SKIP_DMA,
  PGSCAN_SKIP_DMA32,
  PGSCAN_SKIP_NORMAL,
  PGSCAN_SKIP_MOVABLE,
  PGSCAN_SKIP_DEVICE,
  PGFREE,
  PGACTIVATE,
  PGDEACTIVATE,
  PGLAZYFREE,     // pages given to MADV_FREE
  PGFAULT,
  PGMAJFAULT,
  PGLAZYFREED,
  PGREFILL,
  PGREUSE,        // write faults that reused the page instead of copying it
  PGSTEAL_KSWAPD,
  PGSTEAL_DIRECT,
  PGSTEAL_KHUGEPAGED,
  PGSTEAL_PROACTIVE,
  PGSCAN_KSWAPD,
  PGSCAN_DIRECT,
  PGSCAN_KHUGEPAGED,
  PGSCAN_PROACTIVE,
  PGSCAN_DIRECT_THROTTLE,
  PGSCAN_ANON,
  PGSCAN_FILE,
  PGSTEAL_ANON,
  PGSTEAL_FILE,
  PGSCAN_ZONE_RECLAIM_SUCCESS,
  PGSCAN_ZONE_RECLAIM_FAILED,
  PGINODESTEAL,
  SLABS_SCANNED,
  KSWAPD_INODESTEAL,
  KSWAPD_LOW_WMARK_HIT_QUICKLY,
  KSWAPD_HIGH_WMARK_HIT_QUICKLY,
  PAGEOUTRUN,
  PGROTATED,
  DROP_PAGECACHE,
  DROP_SLAB,
  OOM_KILL,
  NUMA_PTE_UPDATES,
  NUMA_HUGE_PTE_UPDATES,
  NUMA_HINT_FAULTS,
  NUMA_HINT_FAULTS_LOCAL,
  NUMA_PAGE_MIGRATE,
  PGMIGRATE_SUCCESS,
  PGMIGRATE_FAIL,
  THP_MIGRATION_SUCCESS,
  THP_MIGRATION_FAIL,
  THP_MIGRATION_SPLIT,
  COMPACTMIGRATE_SCANNED,
  COMPACTFREE_SCANNED,
  COMPACTISOLATED,
  COMPACTSTALL,
  COMPACTFAIL,
  COMPACTSUCCESS,
  KCOMPACTD_WAKE,
  KCOMPACTD_MIGRATE_SCANNED,
  KCOMPACTD_FREE_SCANNED,
  HTLB_BUDDY_PGALLOC,       // surplus hugetlb pages taken from the buddy allocator
  HTLB_BUDDY_PGALLOC_FAIL,
  CMA_ALLOC_SUCCESS,
  CMA_ALLOC_FAIL,
  UNEVICTABLE_PGCULLED,
  UNEVICTABLE_PGSCANNED,
  UNEVICTABLE_PGRESCUED,
  UNEVICTABLE_PGMLOCKED,
  UNEVICTABLE_PGMUNLOCKED,
  UNEVICTABLE_PGCLEARED,
  UNEVICTABLE_PGSTRANDED,
  THP_FAULT_ALLOC,
  THP_FAULT_FALLBACK,
  THP_FAULT_FALLBACK_CHARGE,
  THP_COLLAPSE_ALLOC,
  THP_COLLAPSE_ALLOC_FAILED,
  THP_FILE_ALLOC,
  THP_FILE_FALLBACK,
  THP_FILE_FALLBACK_CHARGE,
  THP_FILE_MAPPED,
  THP_SPLIT_PAGE,
  THP_SPLIT_PAGE_FAILED,
  THP_DEFERRED_SPLIT_PAGE,
  THP_UNDERUSED_SPLIT_PAGE,
  THP_SPLIT_PMD,
  THP_SCAN_EXCEED_NONE_PTE,
  THP_SCAN_EXCEED_SWAP_PTE,
  THP_SCAN_EXCEED_SHARED_PTE,
  THP_SPLIT_PUD,
  THP_ZERO_PAGE_ALLOC,
  THP_ZERO_PAGE_ALLOC_FAILED,
  THP_SWPOUT,
  THP_SWPOUT_FALLBACK,
  BALLOON_INFLATE,
  BALLOON_DEFLATE,
  BALLOON_MIGRATE,
  SWAP_RA,
  SWAP_RA_HIT,
  SWPIN_ZERO,
  SWPOUT_ZERO,
  KSM_SWPIN_COPY,
  COW_KSM,
  ZSWPIN,
  ZSWPOUT,
  ZSWPWB,
  DIRECT_MAP_LEVEL2_SPLIT,
  DIRECT_MAP_LEVEL3_SPLIT,
  DIRECT_MAP_LEVEL2_COLLAPSE,
  DIRECT_MAP_LEVEL3_COLLAPSE,
  NR_LINUX_VM_EVENTS,
  // Linux's CONFIG_DEBUG_TLBFLUSH counters (off in the reference kernel, so
  // statistics only), then ours.
  NR_TLB_REMOTE_FLUSH = NR_LINUX_VM_EVENTS,  // flushes that sent IPIs
  NR_TLB_REMOTE_FLUSH_RECEIVED,  // flush IPIs served
  NR_TLB_LOCAL_FLUSH_ALL,
  NR_TLB_LOCAL_FLUSH_ONE,        // pages
  PGFAULT_ANON,            // faults that allocated and mapped an anonymous page
  PGFAULT_SPURIOUS,        // faults whose PTE already allowed the access
  PGFAULT_SIGSEGV,
  PGFAULT_OOM,
  PGFAULT_MIGRATION_WAIT,  // faults that found a migration entry and waited
  HWPOISON_ALLOC_SKIPPED,  // fresh pages found poisoned when zeroed, taken out of use
  EXTFRAG_FALLBACK,        // allocations served from another migrate type's free list
  EXTFRAG_FRAGMENTING,     // ... below pageblock order: the pageblock now mixes types
  EXTFRAG_CLAIMED,         // ... that claimed the whole pageblock for the request's type
  WATERMARK_BOOST,         // zone watermarks boosted after a fragmenting fallback
  KSWAPD_WAKE,             // kswapd (per-node hook) woken
  NOFRAGMENT_RETRY,        // zonelist passes repeated without ALLOC_NOFRAGMENT
  PCP_DRAIN,               // per-CPU lists drained (direct path, CMA, idle)
  HIGHATOMIC_RESERVED,     // pageblocks reserved for high-order atomic allocations
  ALLOC_NOFAIL_RESERVE,    // __GFP_NOFAIL requests served from the reserves
  PGFAULT_COW,             // write faults that copied a shared page (copy-on-write)
  PGFAULT_ZERO_PAGE,       // read faults that mapped the shared zero page
  PGFAULT_SHMEM,           // faults on shared anonymous memory
  PGFAULT_HUGETLB,         // faults on hugetlb mappings
  NR_VM_EVENTS,
};

// The item tables, in Linux's order (index = the enum value).
const VmstatItem& zone_stat_item_desc(unsigned i);
const VmstatItem& numa_stat_item_desc(unsigned i);
const VmstatItem& node_stat_item_desc(unsigned i);
const VmstatItem& vm_stat_item_desc(unsigned i);
const VmstatItem& vm_event_item_desc(unsigned i);
inline const char* zone_stat_name(unsigned i) { return zone_stat_item_desc(i).name; }
inline const char* numa_stat_name(unsigned i) { return numa_stat_item_desc(i).name; }
inline const char* node_stat_name(unsigned i) { return node_stat_item_desc(i).name; }
inline const char* vm_event_name(unsigned i) { return vm_event_item_desc(i).name; }

// Per-node items and global events; zone items live in struct zone.
struct VmStat {
  int64_t node[hal::kMaxNodes][NR_VM_NODE_STAT_ITEMS] = {};
  uint64_t event[NR_VM_EVENTS] = {};

  int64_t node_total(unsigned item) const {
    int64_t s = 0;
    for (unsigned n = 0; n < hal::kMaxNodes; ++n) s += node[n][item];
    return s;
  }
  void mod(int nid, unsigned item, int64_t delta) { node[nid][item] += delta; }
  void count(unsigned ev, uint64_t n = 1) { event[ev] += n; }
};

// Returns the global value of a system-wide item (Linux vmstat_start):
// the dirty limits from the dirtyable memory (global_dirty_limits of
// sw/mm/page-writeback, with vm.dirty_ratio and vm.dirty_background_ratio
// from the firmware parameters), the memmap pages.
uint64_t vm_stat_item_value(const MmContext& ctx, unsigned item);

// /proc files of mm/vmstat.c, in Linux 6.18's format (registered in
// sw/fs/proc/root.cpp): buddyinfo (Linux's frag_show), pagetypeinfo,
// zoneinfo, vmstat.
void frag_show(seq_file* m, const MmContext& ctx);
void pagetypeinfo_show(seq_file* m, const MmContext& ctx);
void zoneinfo_show(seq_file* m, const MmContext& ctx);
void vmstat_show(seq_file* m, const MmContext& ctx);

// The statistics of those files: zone.node<N>.<zone>.* and node<N>.* (what
// zoneinfo, buddyinfo and pagetypeinfo show), and <prefix>.<item> for every
// /proc/vmstat line, then our own items.
void zoneinfo_visit_stats(const MmContext& ctx, StatVisitor& v);
void vmstat_visit_stats(const MmContext& ctx, StatVisitor& v, const char* prefix);

}  // namespace fw
