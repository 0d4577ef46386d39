// Nodes and zones (Linux include/linux/mmzone.h, mm/mm_init.c): one
// pg_data_t per NUMA node from the BootInfo node ranges, each with ZONE_DMA
// (< 16 MiB), ZONE_DMA32 (< 4 GiB), ZONE_NORMAL, ZONE_MOVABLE (when
// kernelcore/movablecore ask for it, placed by Linux's
// find_zone_movable_pfns_for_nodes) and an empty ZONE_DEVICE (shown in
// zoneinfo and the lowmem reserves, as on a kernel with CONFIG_ZONE_DEVICE).
// Each zone holds the buddy free lists per order and migrate type, one flag
// byte per pageblock (migrate type, compaction skip hint, deferred memmap),
// its watermarks, reserves and per-CPU page lists. Also the memmap: per node, a struct page for every
// pfn the node spans, in that node's simulated DRAM.
//
// Deferred struct page init (Linux's DEFERRED_STRUCT_PAGE_INIT, at max-order
// granularity, done on demand rather than by kernel threads after boot): a
// max-order block that is free at boot is not written at all. Its tail
// struct pages are initialized the first time the block is split, allocated
// or otherwise looked into (init_deferred_block); its head when the block is
// looked into or reaches the front of its free list. The buddy allocator
// counts such blocks as free and keeps their place in the free list without
// linking them (the list's lazy segment, Buddy::free_list_first). A
// max-order block with no free page at all (the memmap itself, other early
// allocations, holes) is not written either: its struct pages would all be
// reserved pages (Linux memmap_init_reserved_pages), so they are written
// only when something looks at them (init_reserved_block, through
// pfn_to_page_init), and the pfn scanners (compaction, isolation) treat
// such a block as the reserved pages it holds without reading it. So boot
// touches host memory for the memmap in proportion to the memory in use,
// not to the machine's size.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/page.h"
#include "sw/mm/vmstat.h"

namespace fw {

class Log;
class Memblock;
struct Params;
struct per_cpu_pages;

enum zone_type : unsigned {
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_NORMAL,
  ZONE_MOVABLE,
  ZONE_DEVICE,  // Linux's CONFIG_ZONE_DEVICE: device memory (pmem, HMM), never populated here
  MAX_NR_ZONES,
};

// Linux's migrate types, in Linux's order.
enum migratetype : unsigned {
  MIGRATE_UNMOVABLE,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_PCPTYPES,  // the number of types on the per-CPU lists
  MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES,
  MIGRATE_CMA,
  MIGRATE_ISOLATE,
  MIGRATE_TYPES,
};
const char* migratetype_name(unsigned mt);

constexpr unsigned MAX_PAGE_ORDER = 10;
constexpr unsigned NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
constexpr uint64_t MAX_ORDER_NR_PAGES = 1ull << MAX_PAGE_ORDER;
constexpr unsigned pageblock_order = 9;
constexpr uint64_t pageblock_nr_pages = 1ull << pageblock_order;
constexpr uint64_t pageblock_start_pfn(uint64_t pfn) { return pfn & ~(pageblock_nr_pages - 1); }
constexpr uint64_t pageblock_end_pfn(uint64_t pfn) { return pageblock_start_pfn(pfn) + pageblock_nr_pages; }
constexpr bool pageblock_aligned(uint64_t pfn) { return (pfn & (pageblock_nr_pages - 1)) == 0; }

// x86-64 zone limits (pfns).
constexpr uint64_t MAX_DMA_PFN = (16ull << 20) >> PAGE_SHIFT;
constexpr uint64_t MAX_DMA32_PFN = (4ull << 30) >> PAGE_SHIFT;

enum zone_watermarks : unsigned { WMARK_MIN, WMARK_LOW, WMARK_HIGH, WMARK_PROMO, NR_WMARK };

// Pageblock flag byte (Linux pageblock-flags.h keeps 4 bits; we keep a byte).
constexpr uint8_t PB_migrate_mask = 0x07;
constexpr uint8_t PB_migrate_skip = 0x08;      // compaction: nothing to isolate here recently
constexpr uint8_t PB_memmap_deferred = 0x10;   // the block's tail struct pages are not initialized yet
constexpr uint8_t PB_head_unwritten = 0x20;    // ... nor its head (written on first use, memmap_write_head)
constexpr uint8_t PB_free_lazy = 0x40;         // a free max-order block in its list's lazy segment (not linked)
constexpr uint8_t PB_reserved_deferred = 0x80; // a max-order block of reserved pages whose struct pages are not written yet

// Zone flags (Linux enum zone_flags).
enum zone_flag_bits : unsigned { ZONE_BOOSTED_WATERMARK, ZONE_RECLAIM_ACTIVE, ZONE_BELOW_HIGH };

struct free_area {
  list_head free_list[MIGRATE_TYPES];
  uint64_t nr_free;                     // free blocks of this order, all types
  uint64_t nr_free_mt[MIGRATE_TYPES];   // ... per type (Linux walks the lists instead)
};

struct pglist_data;

struct zone {
  // Watermarks and reserves (watermark.cpp).
  uint64_t _watermark[NR_WMARK];
  uint64_t watermark_boost;
  uint64_t nr_reserved_highatomic;  // pages in MIGRATE_HIGHATOMIC pageblocks
  uint64_t nr_free_highatomic;      // ... of which free
  int64_t lowmem_reserve[MAX_NR_ZONES];

  pglist_data* zone_pgdat;
  per_cpu_pages* per_cpu_pageset;  // [nr_cpus], in simulated DRAM (memblock)
  uint8_t* pageblock_flags;        // one byte per pageblock of the span, in simulated DRAM
  uint64_t nr_pageblocks;
  const char* name;
  int node;
  unsigned idx;  // zone_type

  uint64_t zone_start_pfn;
  uint64_t spanned_pages;  // pfns from start to end, holes included
  uint64_t present_pages;  // usable RAM pages in the span
  uint64_t managed_pages;  // pages handed to the buddy allocator
  uint64_t cma_pages;      // of which in CMA areas
  uint64_t flags;          // zone_flag_bits

  SpinLock lock;  // protects free_area and the free counters
  fw::free_area free_area[NR_PAGE_ORDERS];
  int64_t vm_stat[NR_VM_ZONE_STAT_ITEMS];
  uint64_t numa_event[NR_VM_NUMA_EVENT_ITEMS];

  // Compaction (compaction.cpp).
  uint64_t compact_cached_free_pfn;
  uint64_t compact_cached_migrate_pfn[2];  // [async, sync]
  uint64_t compact_init_migrate_pfn;
  uint64_t compact_init_free_pfn;
  unsigned compact_considered;
  unsigned compact_defer_shift;
  int compact_order_failed;
  bool compact_blockskip_flush;

  uint64_t min_free_pages;  // the lowest NR_FREE_PAGES reached after boot

  // The lazy segment of each max-order free list (free blocks from boot whose
  // struct pages are not written): a marker node sits in the list where the
  // segment is (after the blocks added to its head since, before those added
  // to its tail) while it holds blocks; they follow in descending pfn order,
  // found from a cursor through the pageblock flags (Buddy::free_list_first).
  list_head lazy_mark[MIGRATE_TYPES];
  uint64_t lazy_free[MIGRATE_TYPES];    // blocks in the segment
  uint64_t lazy_cursor[MIGRATE_TYPES];  // no block of the segment lies above this pfn

  uint64_t zone_end_pfn() const { return zone_start_pfn + spanned_pages; }
  bool spans(uint64_t pfn) const { return pfn >= zone_start_pfn && pfn < zone_end_pfn(); }
  bool populated() const { return present_pages != 0; }
  bool managed() const { return managed_pages != 0; }
  uint64_t free_pages() const { return static_cast<uint64_t>(vm_stat[NR_FREE_PAGES]); }

  uint8_t* pageblock_byte(uint64_t pfn) {
    return &pageblock_flags[(pfn >> pageblock_order) - (zone_start_pfn >> pageblock_order)];
  }
  const uint8_t* pageblock_byte(uint64_t pfn) const {
    return &pageblock_flags[(pfn >> pageblock_order) - (zone_start_pfn >> pageblock_order)];
  }
  unsigned get_pfnblock_migratetype(uint64_t pfn) const { return *pageblock_byte(pfn) & PB_migrate_mask; }
  void set_pfnblock_migratetype(uint64_t pfn, unsigned mt) {
    uint8_t* b = pageblock_byte(pfn);
    *b = static_cast<uint8_t>((*b & ~PB_migrate_mask) | mt);
  }
  bool pfnblock_skip(uint64_t pfn) const { return *pageblock_byte(pfn) & PB_migrate_skip; }
  void set_pfnblock_skip(uint64_t pfn, bool on) {
    uint8_t* b = pageblock_byte(pfn);
    *b = static_cast<uint8_t>(on ? (*b | PB_migrate_skip) : (*b & ~PB_migrate_skip));
  }
  bool pfnblock_deferred(uint64_t pfn) const { return *pageblock_byte(pfn) & PB_memmap_deferred; }
  bool pfnblock_lazy(uint64_t pfn) const { return *pageblock_byte(pfn) & PB_free_lazy; }
  bool pfnblock_reserved_deferred(uint64_t pfn) const { return *pageblock_byte(pfn) & PB_reserved_deferred; }
  // Sets or clears `bits` in the flag byte of every pageblock of the
  // max-order block holding pfn.
  void set_block_flags(uint64_t pfn, uint8_t bits, bool on) {
    const uint64_t b = pfn & ~(MAX_ORDER_NR_PAGES - 1);
    for (uint64_t pb = b; pb < b + MAX_ORDER_NR_PAGES; pb += pageblock_nr_pages) {
      uint8_t* f = pageblock_byte(pb);
      *f = static_cast<uint8_t>(on ? (*f | bits) : (*f & ~bits));
    }
  }
};

constexpr unsigned kMaxZonerefs = hal::kMaxNodes * MAX_NR_ZONES + 1;

// Linux's order: the NR_INACTIVE_ANON.. node and NR_ZONE_INACTIVE_ANON.. zone
// counters follow it item for item (NR_INACTIVE_ANON + lru).
enum lru_list : unsigned {
  LRU_INACTIVE_ANON,
  LRU_ACTIVE_ANON,
  LRU_INACTIVE_FILE,
  LRU_ACTIVE_FILE,
  LRU_UNEVICTABLE,  // mlocked pages: never scanned
  NR_LRU_LISTS,
};
constexpr unsigned LRU_ACTIVE = 1;  // an active list is its inactive list + LRU_ACTIVE
constexpr unsigned LRU_FILE = 2;    // a file list is its anon list + LRU_FILE
// pglist_data::flags (Linux's PGDAT_*): what the last reclaim round met.
constexpr unsigned PGDAT_DIRTY = 0;      // file pages at the inactive tail were dirty, not queued for writeback
constexpr unsigned PGDAT_WRITEBACK = 1;  // reclaim kept meeting pages under writeback it had marked

struct pglist_data {
  zone node_zones[MAX_NR_ZONES];
  // Fallback order for allocations starting here (Linux's node-ordered
  // zonelist): nodes by distance, and in each node its zones from the
  // highest down. nullptr-terminated. The no-fallback list (__GFP_THISNODE)
  // holds this node's zones only.
  zone* zonelist[kMaxZonerefs];
  zone* zonelist_nofallback[MAX_NR_ZONES + 1];
  int node_id;
  unsigned nr_zones;  // highest populated zone index + 1
  unsigned nr_cpus;   // CPUs on this node

  uint64_t node_start_pfn;
  uint64_t node_spanned_pages;
  uint64_t node_present_pages;
  uint64_t totalreserve_pages;  // high watermarks plus the largest lowmem reserves

  // The node's memmap: struct pages for [node_start_pfn, +spanned), in the
  // node's own memory (host pointer through the direct map).
  page* node_mem_map;
  uint64_t node_mem_map_pa;
  uint64_t node_mem_map_bytes;

  // LRU lists (the node's lruvec, mm/vmscan.c without memory cgroups):
  // anonymous and shared-memory pages, page-cache pages, mlocked pages.
  list_head lru[NR_LRU_LISTS];
  SpinLock lru_lock;
  // Reclaim's costs of each type (Linux lruvec->anon_cost/file_cost: pages
  // rotated or written back), decayed as lru_note_cost does.
  uint64_t anon_cost;
  uint64_t file_cost;
  // Workingset clock: evictions and activations (Linux lruvec->nonresident_age).
  uint64_t nonresident_age;
  uint64_t refaults[2];  // WORKINGSET_ACTIVATE_ANON/FILE when reclaim last snapshot them
  uint64_t flags;        // PGDAT_*

  // kswapd: the per-node hook woken when a zone drops below its low
  // watermark or is boosted; runs as deferred work from a timer tick.
  bool kswapd_wait;  // woken (or not yet balanced): runs at the next tick
  uint64_t kswapd_nap_until;  // nonzero: kswapd naps before sleeping until this time (ns), waking early is "hit quickly"
  unsigned kswapd_order;
  unsigned kswapd_highest_zoneidx;
  unsigned kswapd_failures;
  // kcompactd: per-node background compaction, also deferred work.
  bool kcompactd_wait;
  unsigned kcompactd_max_order;
  unsigned kcompactd_highest_zoneidx;
  uint64_t kcompactd_next_proactive_ns;

  uint64_t node_end_pfn() const { return node_start_pfn + node_spanned_pages; }
};

const char* zone_name(unsigned idx);

// A host range of the direct map: [host, host+len) reaches [pa, pa+len).
struct KaddrRange {
  uint8_t* host;
  uint64_t pa;
  uint64_t len;
};

class MmNodes {
 public:
  static constexpr unsigned kMaxKaddrRanges = 64;

  // Builds nodes, zones and the per-node memmap and pageblock arrays from
  // memblock (whose memory regions are already tagged with nodes), placing
  // ZONE_MOVABLE as kernelcore/movablecore ask. Returns false after logging why.
  bool init(hal::Hal& h, const hal::BootInfo& bi, Memblock& mb, const Params& params, Log& log);
  // Initializes the struct pages once memblock's reservations are final:
  // every page reserved, with its zone and node; with `defer`, max-order
  // blocks memblock will free stay untouched (head and tails), and so do
  // max-order blocks without a free page (written on first use).
  void memmap_init(hal::Hal& h, const Memblock& mb, bool defer);
  // Records where the direct map puts RAM, for virt_to_page().
  void build_kaddr_map(hal::Hal& h, const Memblock& mb);

  unsigned nr_nodes() const { return nr_nodes_; }
  unsigned nr_cpus() const { return nr_cpus_; }
  pglist_data& node(int nid) { return nodes_[nid]; }
  const pglist_data& node(int nid) const { return nodes_[nid]; }
  int cpu_to_node(unsigned cpu) const { return cpu < hal::kMaxCpus ? cpu_node_[cpu] : 0; }
  uint64_t max_pfn() const { return max_pfn_; }
  uint64_t memmap_bytes() const;
  uint64_t zone_movable_pfn(int nid) const { return zone_movable_pfn_[nid]; }
  uint64_t memmap_deferred_blocks() const { return deferred_blocks_; }
  uint64_t memmap_pages_initialized() const { return pages_initialized_; }
  // The memmap and page counts under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

  // nullptr when no struct page exists for pfn.
  page* pfn_to_page(uint64_t pfn) const {
    for (unsigned n = 0; n < nr_nodes_; ++n) {
      const pglist_data& pg = nodes_[n];
      if (pfn - pg.node_start_pfn < pg.node_spanned_pages) return pg.node_mem_map + (pfn - pg.node_start_pfn);
    }
    return nullptr;
  }
  uint64_t page_to_pfn(const page* p) const {
    const pglist_data& pg = nodes_[page_to_nid(p)];
    return pg.node_start_pfn + static_cast<uint64_t>(p - pg.node_mem_map);
  }
  bool pfn_valid(uint64_t pfn) const { return pfn_to_page(pfn) != nullptr; }
  zone* page_zone(const page* p) { return &nodes_[page_to_nid(p)].node_zones[page_zonenum(p)]; }
  const zone* page_zone(const page* p) const { return &nodes_[page_to_nid(p)].node_zones[page_zonenum(p)]; }
  uint64_t page_to_phys(const page* p) const { return PFN_PHYS(page_to_pfn(p)); }
  page* phys_to_page(uint64_t pa) const { return pfn_to_page(PFN_DOWN(pa)); }
  // The zone a pfn belongs to (by the zone spans), nullptr outside every node.
  zone* pfn_zone(uint64_t pfn);

  // The struct page of pfn, initializing its deferred block (free or
  // reserved) first: for code that looks at arbitrary pfns (machine checks,
  // isolation, checkers).
  page* pfn_to_page_init(uint64_t pfn);
  // Initializes the struct pages of the deferred max-order block at
  // block_pfn, its head as a free block of max order (a no-op when it is not
  // deferred). The block keeps its place in its free list.
  void init_deferred_block(zone* z, uint64_t block_pfn);
  // Writes the struct pages of the reserved max-order block at block_pfn
  // (reserved, one reference, their zone and node) when they are not
  // written yet.
  void init_reserved_block(zone* z, uint64_t block_pfn);
  // Writes the head struct page of a deferred block (a free block of max
  // order) when it is not written yet; returns it.
  page* memmap_write_head(zone* z, uint64_t block_pfn);

  // The struct page behind a host pointer into the direct map (Linux
  // virt_to_page), nullptr when the pointer is not in it.
  page* virt_to_page(const void* p) const {
    const uint8_t* a = static_cast<const uint8_t*>(p);
    for (unsigned i = 0; i < nr_kaddr_; ++i) {
      const KaddrRange& r = kaddr_[i];
      if (a >= r.host && a < r.host + r.len) return pfn_to_page(PFN_DOWN(r.pa + static_cast<uint64_t>(a - r.host)));
    }
    return nullptr;
  }
  // The host pointer of a page through the recorded direct map (no HAL
  // call: for pages already known to be mappable, e.g. slab pages).
  void* page_address(const page* p) const {
    const uint64_t pa = page_to_phys(p);
    for (unsigned i = 0; i < nr_kaddr_; ++i) {
      const KaddrRange& r = kaddr_[i];
      if (pa - r.pa < r.len) return r.host + (pa - r.pa);
    }
    return nullptr;
  }

  // Sums over all zones.
  uint64_t total_managed_pages() const;
  uint64_t total_present_pages() const;
  uint64_t total_free_pages() const;  // NR_FREE_PAGES (per-CPU lists not included)

 private:
  void find_zone_movable_pfns(const Memblock& mb, const Params& params, uint64_t* zone_movable_pfn);
  // Stages of init() for one node (Linux free_area_init_node): its zones'
  // spans and present pages within the arch windows of each zone type,
  // then its memmap, then its zones' pageblock flags (Linux's usemap). The
  // allocating stages return false after logging when memblock has no room.
  void calculate_node_totalpages(const Memblock& mb, unsigned nid, const uint64_t* arch_low, const uint64_t* arch_high);
  bool alloc_node_mem_map(hal::Hal& h, Memblock& mb, unsigned nid, Log& log);
  bool setup_usemap(hal::Hal& h, Memblock& mb, unsigned nid, Log& log);
  void build_zonelists(const hal::BootInfo& bi);
  void init_one_page(page* p, unsigned zid, int nid);
  // A reserved page with one reference (what memmap_init leaves).
  void init_reserved_page(page* p, unsigned zid, int nid);
  // memmap_init's deferral: marks the max-order blocks memblock frees whole
  // (PB_memmap_deferred) and those it frees nothing of (PB_reserved_deferred).
  void defer_blocks(const Memblock& mb);

  pglist_data nodes_[hal::kMaxNodes]{};
  unsigned nr_nodes_ = 0;
  unsigned nr_cpus_ = 0;
  uint8_t cpu_node_[hal::kMaxCpus] = {};
  uint64_t max_pfn_ = 0;
  uint64_t zone_movable_pfn_[hal::kMaxNodes] = {};
  unsigned movable_zone_ = ZONE_NORMAL;  // the zone ZONE_MOVABLE takes its pages from
  uint64_t movable_zone_high_ = 0;       // that zone type's highest possible pfn
  uint64_t deferred_blocks_ = 0;    // max-order blocks whose tails are still uninitialized
  uint64_t pages_initialized_ = 0;  // struct pages written so far
  KaddrRange kaddr_[kMaxKaddrRanges] = {};
  unsigned nr_kaddr_ = 0;
};

}  // namespace fw
