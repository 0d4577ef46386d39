// Memory statistics with Linux's /proc/vmstat names (include/linux/mmzone.h
// and vm_event_item.h, mm/vmstat.c): per-zone items, per-node items, NUMA
// events and global event counters. /proc/vmstat prints zone items summed
// over zones, then NUMA events, then node items summed over nodes, then
// events; items Linux does not have (our extensions) come last in each group.
// vmstat.cpp also holds mm/vmstat.c's /proc files (buddyinfo, pagetypeinfo,
// zoneinfo, vmstat) and the statistics of the same fields.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"

namespace fw {

struct MmContext;
struct seq_file;

enum zone_stat_item : unsigned {
  NR_FREE_PAGES,
  NR_ZONE_INACTIVE_ANON,
  NR_ZONE_ACTIVE_ANON,
  NR_ZONE_INACTIVE_FILE,
  NR_ZONE_ACTIVE_FILE,
  NR_ZONE_UNEVICTABLE,
  NR_ZONE_WRITE_PENDING,
  NR_MLOCK,
  NR_BOUNCE,
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
  NR_SLAB_RECLAIMABLE,    // pages (Linux counts bytes internally, prints pages)
  NR_SLAB_UNRECLAIMABLE,
  NR_ISOLATED_ANON,
  NR_ISOLATED_FILE,
  NR_ANON_MAPPED,         // "nr_anon_pages"
  NR_FILE_MAPPED,         // "nr_mapped"
  NR_FILE_PAGES,
  NR_SHMEM,
  NR_ANON_THPS,           // "nr_anon_transparent_hugepages": PMD-mapped anonymous huge pages
  NR_KERNEL_STACK_KB,
  NR_PAGETABLE,           // "nr_page_table_pages": page tables of processes
  NR_VMALLOC,             // pages backing vmalloc areas
  // Extensions.
  NR_KERNEL_PAGETABLE,    // the kernel's own page tables
  NR_HWPOISON,            // pages kept out of use because they hold poison
  NR_VM_NODE_STAT_ITEMS,
};

enum vm_event_item : unsigned {
  PGALLOC_DMA,  // PGALLOC_DMA + zone index names the zone's counter
  PGALLOC_DMA32,
  PGALLOC_NORMAL,
  PGALLOC_MOVABLE,
  ALLOCSTALL_DMA,  // direct-path entries, by the highest zone of the request
  ALLOCSTALL_DMA32,
  ALLOCSTALL_NORMAL,
  ALLOCSTALL_MOVABLE,
  PGFREE,
  PGLAZYFREE,     // pages given to MADV_FREE
  PGFAULT,
  PGMAJFAULT,
  PGREUSE,        // write faults that reused the page instead of copying it

  PGMIGRATE_SUCCESS,
  PGMIGRATE_FAIL,
  COMPACTMIGRATE_SCANNED,
  COMPACTFREE_SCANNED,
  COMPACTISOLATED,
  COMPACTSTALL,
  COMPACTFAIL,
  COMPACTSUCCESS,
  KCOMPACTD_WAKE,
  KCOMPACTD_MIGRATE_SCANNED,
  KCOMPACTD_FREE_SCANNED,
  PAGEOUTRUN,
  HTLB_BUDDY_PGALLOC,       // surplus hugetlb pages taken from the buddy allocator
  HTLB_BUDDY_PGALLOC_FAIL,
  CMA_ALLOC_SUCCESS,
  CMA_ALLOC_FAIL,
  THP_FAULT_ALLOC,
  THP_FAULT_FALLBACK,
  THP_COLLAPSE_ALLOC,
  THP_COLLAPSE_ALLOC_FAILED,
  THP_SPLIT_PAGE,
  THP_SPLIT_PAGE_FAILED,
  THP_DEFERRED_SPLIT_PAGE,
  THP_SPLIT_PMD,
  THP_SCAN_EXCEED_NONE_PTE,
  THP_SCAN_EXCEED_SHARED_PTE,
  THP_ZERO_PAGE_ALLOC,
  THP_ZERO_PAGE_ALLOC_FAILED,
  NR_TLB_REMOTE_FLUSH,           // flushes that sent IPIs
  NR_TLB_REMOTE_FLUSH_RECEIVED,  // flush IPIs served
  NR_TLB_LOCAL_FLUSH_ALL,
  NR_TLB_LOCAL_FLUSH_ONE,        // pages
  // Extensions.
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

const char* zone_stat_name(unsigned i);
const char* numa_stat_name(unsigned i);
const char* node_stat_name(unsigned i);
const char* vm_event_name(unsigned i);
const char* vm_event_desc(unsigned i);
const char* node_stat_desc(unsigned i);
// Events counted in pages rather than occurrences.
bool vm_event_in_pages(unsigned i);

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

// /proc files of mm/vmstat.c, in Linux 6.18's format (registered in
// sw/fs/proc/root.cpp): buddyinfo (Linux's frag_show), pagetypeinfo,
// zoneinfo, vmstat.
void frag_show(seq_file* m, const MmContext& ctx);
void pagetypeinfo_show(seq_file* m, const MmContext& ctx);
void zoneinfo_show(seq_file* m, const MmContext& ctx);
void vmstat_show(seq_file* m, const MmContext& ctx);

// The statistics of those files: zone.node<N>.<zone>.* and node<N>.* (what
// zoneinfo, buddyinfo and pagetypeinfo show), and <prefix>.<item> for every
// /proc/vmstat line.
void zoneinfo_visit_stats(const MmContext& ctx, StatVisitor& v);
void vmstat_visit_stats(const MmContext& ctx, StatVisitor& v, const char* prefix);

}  // namespace fw
