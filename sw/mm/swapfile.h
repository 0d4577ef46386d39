// Swap areas (Linux mm/swapfile.c): block devices used whole as swap
// (firmware.swapon), their slots and the per-slot reference counts (the
// swap map: one per PTE holding the entry, plus SWAP_HAS_CACHE while the
// swap cache holds the page). Users: reclaim (how much swap is free,
// references taken when PTEs become swap entries), the fault path and every
// page-table walker (references dropped), /proc/swaps and meminfo.
//
// Slots are handed out by clusters of SWAPFILE_CLUSTER as 6.18 does for a
// rotational device: the area's next offset first (so consecutive
// evictions land in consecutive slots), then a partly used cluster, then a
// free one. Each cluster in use has its swap-cache table (6.18's "swap
// table": a page pointer or a workingset shadow per slot), allocated when
// the cluster is first used and freed when it empties; sw/mm/swap_state
// keeps the pages in it.
#pragma once

#include <stdarg.h>
#include <stdint.h>

#include "sw/block/bio.h"
#include "sw/hal/hal.h"
#include "sw/lib/compiler.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/swap.h"

namespace fw {

struct seq_file;

// Swap map values (Linux include/linux/swap.h). A slot's byte is its count
// of PTE references (1..SWAP_MAP_MAX), with SWAP_HAS_CACHE while the swap
// cache holds its page. Departure: no COUNT_CONTINUED pages, so a slot
// takes at most SWAP_MAP_MAX references (a fork that would add one more
// fails with ENOMEM).
constexpr uint8_t SWAP_HAS_CACHE = 0x40;
constexpr uint8_t SWAP_MAP_BAD = 0x3f;
constexpr uint8_t SWAP_MAP_MAX = 0x3e;
constexpr unsigned SWAPFILE_CLUSTER = 256;
// The header page of an area (Linux union swap_header): "SWAPSPACE2" ends
// the page; the info part follows 1024 bytes of boot bits.
constexpr unsigned SWAP_MAGIC_OFFSET = 4086;
constexpr char SWAP_MAGIC[] = "SWAPSPACE2";  // mkswap writes it, read_swap_header checks it
constexpr unsigned SWAP_MAGIC_LEN = sizeof(SWAP_MAGIC) - 1;  // no terminator on disk
constexpr unsigned SWAP_INFO_OFFSET = 1024;
struct swap_header_info {
  uint32_t version;  // 1
  uint32_t last_page;
  uint32_t nr_badpages;
  uint8_t sws_uuid[16];
  uint8_t sws_volume[16];
  uint32_t padding[117];
  uint32_t badpages[1];
};
constexpr unsigned MAX_SWAP_BADPAGES = (4096 - 10 - SWAP_INFO_OFFSET - 4 * 3 - 32 - 4 * 117) / 4;

// A cluster of SWAPFILE_CLUSTER slots (Linux swap_cluster_info).
struct swap_cluster_info {
  list_head list;   // on the area's free or nonfull list (full clusters on none)
  uint16_t count;   // slots in use (the header and bad slots included)
  uint8_t flags;    // CLUSTER_FLAG_*
  uint8_t pad;
  uint32_t idx;     // its index in the area
  uint64_t* table;  // per slot: a swap-cache page, a shadow (bit 0 set) or 0; nullptr while unused
};
enum : uint8_t { CLUSTER_FLAG_NONE, CLUSTER_FLAG_FREE, CLUSTER_FLAG_NONFULL, CLUSTER_FLAG_FULL };

// One swap area (Linux swap_info_struct).
struct swap_info_struct {
  unsigned type;
  int prio;
  block_device* bdev;
  char name[24];           // "/dev/disk1", as /proc/swaps shows it
  uint64_t max;            // slots, the header's included
  uint64_t pages;          // usable slots
  uint64_t inuse_pages;
  uint8_t** map;           // the swap map in chunks of kMapChunk slots
  swap_cluster_info** clusters;  // in chunks of kClusterChunk
  uint64_t nr_clusters;
  list_head free_clusters;
  list_head nonfull_clusters;
  uint64_t next;           // where the next allocation looks first (0: nowhere)
};

struct SwapStats {
  uint64_t areas = 0;           // swap areas in use
  uint64_t slots_allocated = 0; // slots handed to the swap cache
  uint64_t slots_freed = 0;
  uint64_t alloc_failed = 0;    // no free slot in any area
  uint64_t dup_failed = 0;      // references refused (a count at SWAP_MAP_MAX)
  uint64_t clusters_free = 0;   // clusters empty now
  uint64_t swapin_faults = 0;   // faults on swap entries
  uint64_t swapin_cache_hits = 0;  // of those, the page was in the swap cache
  uint64_t swapin_reuse = 0;    // swap-ins mapped writable (exclusive page, write fault)
  uint64_t swapin_errors = 0;   // swap-ins of a page whose read failed (SIGBUS)
  uint64_t cache_adds = 0;      // pages added to the swap cache
  uint64_t cache_deletes = 0;   // pages taken out of it
  uint64_t cache_freed = 0;     // pages dropped with their slot (folio_free_swap)
  uint64_t shadows_stored = 0;  // workingset shadows left in slots
  uint64_t shadows_refaulted = 0;  // swap-ins of a slot holding a shadow
  uint64_t write_ios = 0;       // pages written to swap
  uint64_t write_errors = 0;
  uint64_t read_ios = 0;        // pages read from swap (faults and readahead)
  uint64_t read_errors = 0;
  uint64_t ra_windows = 0;      // readahead windows of more than one page
  uint64_t ra_pages = 0;        // pages read ahead (SWAP_RA)
};

class Swapfile {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }
  // Boot, after the block drivers: swapon of the devices the parameters
  // name (firmware.swapon), in their order. Logs each area as Linux does.
  void swapon_boot(hal::Hal& h);
  // swapon of one block device with an automatic priority. Returns 0 or
  // -errno (-EINVAL: no valid header; -EBUSY: already in use; -ENOMEM).
  int swapon(hal::Hal& h, block_device* bdev);

  // Slots free in every area (Linux nr_swap_pages; get_nr_swap_pages).
  uint64_t nr_swap_pages() const { return nr_swap_pages_; }
  // Slots of every area (Linux total_swap_pages).
  uint64_t total_swap_pages() const { return total_swap_pages_; }
  // Returns true when more than half of swap is in use (Linux vm_swap_full).
  bool vm_swap_full() const { return nr_swap_pages_ * 2 < total_swap_pages_; }
  unsigned nr_areas() const { return nr_swapfiles_; }

  // One more PTE holds entry e (try_to_unmap, fork). Returns 0, or -ENOENT
  // when e names no slot in use, -ENOMEM when its count is at SWAP_MAP_MAX.
  int swap_duplicate(hal::Hal& h, swp_entry_t e);
  // A PTE holding e went (zap, swap-in): drops its reference; the slot is
  // freed with the last one (Linux swap_free / free_swap_and_cache).
  void swap_free(hal::Hal& h, swp_entry_t e);
  // A zapped PTE held e (Linux free_swap_and_cache): drops its reference
  // and, when only the swap cache is left holding the slot and its page is
  // not mapped (or swap is full), drops the page from the cache too.
  void free_swap_and_cache(hal::Hal& h, swp_entry_t e);

  // Returns a new slot, held by the swap cache (SWAP_HAS_CACHE), from the
  // area of the highest priority with room, or an entry of 0 (Linux
  // folio_alloc_swap for one page).
  swp_entry_t get_swap_page(hal::Hal& h);
  // The swap cache let go of e's slot (Linux put_swap_folio).
  void put_swap_cache(hal::Hal& h, swp_entry_t e);
  // Marks e's in-use slot as held by the swap cache before a read (Linux
  // swapcache_prepare). Returns 0, -EEXIST (cached already) or -ENOENT
  // (the slot is free).
  int swapcache_prepare(swp_entry_t e);
  // Returns the PTE references of e's slot (Linux __swap_count), 0 for a
  // free slot or an invalid entry.
  unsigned swap_count(swp_entry_t e) const;
  // Returns the area e names, nullptr when e names no area in use.
  swap_info_struct* swap_info(swp_entry_t e) const;
  // Returns the swap-cache table entry of e's slot (a page pointer, a
  // shadow with bit 0 set, or 0), or nullptr when the slot has no table.
  uint64_t* cache_slot(swp_entry_t e) const;

  // A "swap: ..." line at KERN_INFO when Params::trace_swap is on
  // (--debug-flags=Swap).
  void trace(hal::Hal& h, const char* fmt, ...) const FW_PRINTF(3, 4);

  // /proc/swaps (Linux swap_show).
  void swaps_show(seq_file* m) const;
  SwapStats& stats() { return stats_; }
  const SwapStats& stats() const { return stats_; }
  // Its statistics under "<prefix>." (only on machines with swap areas).
  void visit_stats(StatVisitor& v, const char* prefix) const;

  static constexpr uint64_t kMapChunk = 4096;
  static constexpr uint64_t kClusterChunk = 4096 / sizeof(swap_cluster_info);

 private:
  // Returns the usable slot count from the header page (Linux
  // read_swap_header), 0 with the reason logged.
  uint64_t read_swap_header(hal::Hal& h, const char* name, const uint8_t* hdr, uint64_t dev_pages);
  // The swap map and clusters of si; header and bad slots taken. Returns 0
  // or -ENOMEM.
  int setup_swap_map(hal::Hal& h, swap_info_struct* si, const swap_header_info* info);
  void free_area(hal::Hal& h, swap_info_struct* si);
  uint8_t* map_of(const swap_info_struct* si, uint64_t offset) const {
    return &si->map[offset / kMapChunk][offset % kMapChunk];
  }
  swap_cluster_info* cluster_of(const swap_info_struct* si, uint64_t offset) const {
    const uint64_t c = offset / SWAPFILE_CLUSTER;
    return &si->clusters[c / kClusterChunk][c % kClusterChunk];
  }
  // Takes one slot of si (cluster allocation). Returns its offset, 0 when full.
  uint64_t alloc_slot(hal::Hal& h, swap_info_struct* si);
  // Returns a free slot of the cluster starting the scan at offset, 0 if none.
  uint64_t scan_cluster(hal::Hal& h, swap_info_struct* si, swap_cluster_info* ci, uint64_t offset);
  // A slot became used / free: the cluster's count, lists and table.
  bool cluster_take(hal::Hal& h, swap_info_struct* si, uint64_t offset);
  void cluster_release(hal::Hal& h, swap_info_struct* si, uint64_t offset);
  // The slot's map byte went to 0: it is free again.
  void swap_entry_free(hal::Hal& h, swap_info_struct* si, uint64_t offset);
  // Drops `usage` (1 or SWAP_HAS_CACHE) from the slot; frees it at 0.
  // Returns the map byte left.
  uint8_t swap_entry_put(hal::Hal& h, swp_entry_t e, uint8_t usage);

  MmContext* ctx_ = nullptr;
  uint64_t nr_swap_pages_ = 0;
  uint64_t total_swap_pages_ = 0;
  swap_info_struct* swap_info_[MAX_SWAPFILES] = {};
  unsigned nr_swapfiles_ = 0;
  int least_priority_ = -1;
  SwapStats stats_;
};

// /proc/swaps (Linux swap_show; the header line only without swap).
void swaps_proc_show(seq_file* m, const MmContext& ctx);

}  // namespace fw
