// Nodes and zones (Linux include/linux/mmzone.h): one pg_data_t per NUMA
// node from the BootInfo node ranges, each with ZONE_DMA (< 16 MiB),
// ZONE_DMA32 (< 4 GiB), ZONE_NORMAL and ZONE_MOVABLE (empty until
// kernelcore/movablecore exist, issue 3). Each zone holds the buddy free
// lists per order and migrate type. Also the memmap: per node, a struct page
// for every pfn the node spans, in that node's simulated DRAM.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/page.h"

namespace fw {

class Log;
class Memblock;

enum zone_type : unsigned {
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_NORMAL,
  ZONE_MOVABLE,
  MAX_NR_ZONES,
};

// Linux's migrate types. The foundation keeps every pageblock MOVABLE and
// falls back across types without stealing; issue 3 adds pageblock types,
// stealing and the rest.
enum migratetype : unsigned {
  MIGRATE_UNMOVABLE,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_PCPTYPES,
  MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES,
  MIGRATE_CMA,
  MIGRATE_ISOLATE,
  MIGRATE_TYPES,
};

constexpr unsigned MAX_PAGE_ORDER = 10;
constexpr unsigned NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
constexpr uint64_t MAX_ORDER_NR_PAGES = 1ull << MAX_PAGE_ORDER;
constexpr unsigned pageblock_order = 9;
constexpr uint64_t pageblock_nr_pages = 1ull << pageblock_order;

// x86-64 zone limits (pfns).
constexpr uint64_t MAX_DMA_PFN = (16ull << 20) >> PAGE_SHIFT;
constexpr uint64_t MAX_DMA32_PFN = (4ull << 30) >> PAGE_SHIFT;

enum zone_watermarks : unsigned { WMARK_MIN, WMARK_LOW, WMARK_HIGH, WMARK_PROMO, NR_WMARK };

struct free_area {
  list_head free_list[MIGRATE_TYPES];
  uint64_t nr_free;  // free blocks of this order, all types
};

struct pglist_data;

struct zone {
  // Watermarks and reserves: filled in by issue 3 (zero means "no limit").
  uint64_t _watermark[NR_WMARK];
  uint64_t watermark_boost;
  uint64_t lowmem_reserve[MAX_NR_ZONES];

  pglist_data* zone_pgdat;
  const char* name;
  int node;
  unsigned idx;  // zone_type

  uint64_t zone_start_pfn;
  uint64_t spanned_pages;  // pfns from start to end, holes included
  uint64_t present_pages;  // usable RAM pages in the span
  uint64_t managed_pages;  // pages handed to the buddy allocator

  SpinLock lock;  // protects free_area and free_pages
  fw::free_area free_area[NR_PAGE_ORDERS];
  uint64_t free_pages;  // NR_FREE_PAGES

  // Per-zone statistics.
  uint64_t min_free_pages;  // the lowest free_pages reached after boot

  uint64_t zone_end_pfn() const { return zone_start_pfn + spanned_pages; }
  bool spans(uint64_t pfn) const { return pfn >= zone_start_pfn && pfn < zone_end_pfn(); }
  bool populated() const { return present_pages != 0; }
  bool managed() const { return managed_pages != 0; }
};

constexpr unsigned kMaxZonerefs = hal::kMaxNodes * MAX_NR_ZONES + 1;

struct pglist_data {
  zone node_zones[MAX_NR_ZONES];
  // Fallback order for allocations starting here: nodes by distance, and in
  // each node its zones from the highest down (Linux's node-ordered zonelist).
  // nullptr-terminated.
  zone* zonelist[kMaxZonerefs];
  int node_id;
  unsigned nr_zones;  // highest populated zone index + 1

  uint64_t node_start_pfn;
  uint64_t node_spanned_pages;
  uint64_t node_present_pages;

  // The node's memmap: struct pages for [node_start_pfn, +spanned), in the
  // node's own memory (host pointer through the direct map).
  page* node_mem_map;
  uint64_t node_mem_map_pa;
  uint64_t node_mem_map_bytes;

  uint64_t node_end_pfn() const { return node_start_pfn + node_spanned_pages; }
};

const char* zone_name(unsigned idx);

class MmNodes {
 public:
  // Builds nodes, zones and memmaps from memblock (whose memory regions are
  // already tagged with nodes). Returns false after logging why.
  bool init(hal::Hal& h, const hal::BootInfo& bi, Memblock& mb, Log& log);

  unsigned nr_nodes() const { return nr_nodes_; }
  pglist_data& node(int nid) { return nodes_[nid]; }
  const pglist_data& node(int nid) const { return nodes_[nid]; }
  int cpu_to_node(unsigned cpu) const { return cpu < hal::kMaxCpus ? cpu_node_[cpu] : 0; }
  uint64_t max_pfn() const { return max_pfn_; }
  uint64_t memmap_bytes() const;

  // nullptr when no struct page exists for pfn.
  page* pfn_to_page(uint64_t pfn) const {
    for (unsigned n = 0; n < nr_nodes_; ++n) {
      const pglist_data& pg = nodes_[n];
      if (pfn >= pg.node_start_pfn && pfn < pg.node_end_pfn()) return pg.node_mem_map + (pfn - pg.node_start_pfn);
    }
    return nullptr;
  }
  uint64_t page_to_pfn(const page* p) const {
    const pglist_data& pg = nodes_[page_to_nid(p)];
    return pg.node_start_pfn + static_cast<uint64_t>(p - pg.node_mem_map);
  }
  bool pfn_valid(uint64_t pfn) const { return pfn_to_page(pfn) != nullptr; }
  zone* page_zone(const page* p) { return &nodes_[page_to_nid(p)].node_zones[page_zonenum(p)]; }
  uint64_t page_to_phys(const page* p) const { return PFN_PHYS(page_to_pfn(p)); }
  page* phys_to_page(uint64_t pa) const { return pfn_to_page(PFN_DOWN(pa)); }

  // Sums over all zones.
  uint64_t total_managed_pages() const;
  uint64_t total_present_pages() const;

 private:
  void build_zonelists(const hal::BootInfo& bi);

  pglist_data nodes_[hal::kMaxNodes]{};
  unsigned nr_nodes_ = 0;
  uint8_t cpu_node_[hal::kMaxCpus] = {};
  uint64_t max_pfn_ = 0;
};

}  // namespace fw
