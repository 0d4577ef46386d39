// The buddy free lists (Linux mm/page_alloc.c, the zone->lock parts): per
// zone, order and migrate type. Freeing merges a block with its buddy as
// long as the buddy is free with the same order (not across pageblocks of
// unmergeable types); allocation takes the smallest block of the wanted
// type and splits it (expand). When the wanted type has nothing, the
// fallback table is walked: first try to claim a whole pageblock of another
// type (the largest free block first; unmovable and reclaimable requests,
// and blocks of at least half a pageblock, may claim when enough of the
// block is free or alike), and only without ALLOC_NOFRAGMENT steal the
// smallest block, leaving the pageblock mixed. A fallback below pageblock
// order is a fragmentation event; it boosts the zone's watermarks.
//
// Invariant (Linux >= 6.10): a free block sits on the list of its
// pageblock's migrate type, and NR_FREE_PAGES counts the free lists except
// MIGRATE_ISOLATE. Every call here needs the zone lock.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/mmzone.h"

namespace fw {

// A test hook: told about every change of the free and per-CPU lists.
struct BuddyObserver {
  virtual void free_add(const zone* z, uint64_t pfn, unsigned order, unsigned mt) = 0;
  virtual void free_del(const zone* z, uint64_t pfn, unsigned order, unsigned mt) = 0;
  virtual void pcp_add(const zone* z, uint64_t pfn, unsigned order) = 0;
  virtual void pcp_del(const zone* z, uint64_t pfn, unsigned order) = 0;

 protected:
  ~BuddyObserver() = default;
};

// Where __rmqueue found pages last time (Linux enum rmqueue_mode): a bulk
// refill goes on from there.
enum rmqueue_mode : uint8_t { RMQUEUE_NORMAL, RMQUEUE_CMA, RMQUEUE_CLAIM, RMQUEUE_STEAL };

struct BuddyStats {
  uint64_t splits = 0;   // blocks halved by expand()
  uint64_t merges = 0;   // buddy pairs joined on free
  uint64_t moved_blocks = 0;  // pageblocks whose free pages changed list (claims, reservations, isolation)
};

class Buddy {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  void add_to_free_list(zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt, bool tail = false);
  // Boot: adds the deferred max-order block at pfn to the head of mt's list
  // without writing its struct pages (the list's lazy segment, mmzone.h).
  void add_lazy_block(zone* z, uint64_t pfn, unsigned mt);
  // Returns the first block of a non-empty free list (Linux
  // list_first_entry on it), bringing the next block of a lazy segment in.
  page* free_list_first(zone* z, unsigned order, unsigned mt) {
    list_head* l = &z->free_area[order].free_list[mt];
    if (l->next == &z->lazy_mark[mt]) return take_lazy(z, mt);
    return list_first_entry(l, page, lru);
  }
  void del_page_from_free_list(zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt);
  void move_to_free_list(zone* z, page* p, uint64_t pfn, unsigned order, unsigned old_mt, unsigned new_mt);

  // Frees a block into the lists, merging with free buddies (Linux
  // __free_one_page). mt is the pageblock's type.
  void free_one_page(zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt, bool to_tail = false);
  // Gives the upper halves of [p, p + 2^high) back as free blocks, keeping
  // the lowest 2^low pages; returns the pages given back.
  uint64_t expand(zone* z, page* p, uint64_t pfn, unsigned low, unsigned high, unsigned mt);
  // Returns the head of a block of 2^order pages taken from mt's own lists
  // (the smallest that fits, split down), or nullptr (Linux
  // __rmqueue_smallest).
  page* rmqueue_smallest(zone* z, unsigned order, unsigned mt);
  // Returns a block of 2^order pages for migrate type mt, falling back to
  // CMA, claiming or stealing another type's pageblock as alloc_flags allow
  // and starting where *mode says the last call found pages (updated), or
  // nullptr (Linux __rmqueue).
  page* rmqueue(zone* z, unsigned order, unsigned mt, unsigned alloc_flags, rmqueue_mode* mode);
  // Returns the migrate type to fall back to at this order, -1 when none has
  // free blocks, -2 when the order is too small to claim a block (Linux
  // find_suitable_fallback).
  int find_suitable_fallback(const free_area* area, unsigned order, unsigned mt, bool claimable) const;

  // Moves the free pages of the pageblock holding pfn to new_mt's lists
  // and sets the block's type. Returns the pages moved, or -1 when the
  // block straddles the zone.
  int64_t move_freepages_block(zone* z, uint64_t pfn, unsigned old_mt, unsigned new_mt);
  // The free block containing pfn (its head), nullptr when pfn is in use.
  page* find_free_block(zone* z, uint64_t pfn, uint64_t* head_pfn);
  // Splits a free block larger than a pageblock into pageblock-sized free
  // blocks (each on its own pageblock's list).
  void split_large_buddy(zone* z, page* head, uint64_t head_pfn);

  // Linux boost_watermark: true when the zone's boost grew.
  bool boost_watermark(zone* z);

  void set_observer(BuddyObserver* o) { observer_ = o; }
  BuddyObserver* observer() const { return observer_; }
  const BuddyStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;
  // NR_FREE_PAGES over all zones (per-CPU lists not included).
  uint64_t nr_free_pages() const { return nr_free_; }
  uint64_t min_free_pages() const { return min_free_; }
  void reset_min_free() { min_free_ = nr_free_; }

 private:
  void account_freepages(zone* z, int64_t nr, unsigned mt);
  // Takes the block at pfn out of mt's lazy segment (writing its head, not
  // linking it); returns its head.
  page* leave_lazy(zone* z, uint64_t pfn, unsigned mt);
  // The counters of a block just added to a free list, linked or lazy.
  void count_added(zone* z, uint64_t pfn, unsigned order, unsigned mt);
  // Links the next block of mt's lazy segment at the head of the list (the
  // segment is at the head); returns it.
  page* take_lazy(zone* z, unsigned mt);
  // Returns the allocated block after taking the whole pageblock for
  // start_type (when the block is large, or half of it free or alike), or
  // nullptr (Linux try_to_claim_block).
  page* try_to_claim_block(zone* z, page* p, uint64_t pfn, unsigned current_order, unsigned order,
                           unsigned start_type, unsigned block_type, unsigned alloc_flags);
  // Returns a block taken by claiming another type's pageblock, largest
  // first, or nullptr (Linux __rmqueue_claim).
  page* rmqueue_claim(zone* z, unsigned order, unsigned mt, unsigned alloc_flags);
  // Returns the smallest fitting block of another type, its pageblock
  // keeping its type, or nullptr (Linux __rmqueue_steal).
  page* rmqueue_steal(zone* z, unsigned order, unsigned mt);
  void count_extfrag(unsigned order, unsigned fallback_order, bool claimed);
  // Returns true when buddy is a free block of this order in p's zone.
  bool page_is_buddy(const zone* z, const page* p, const page* buddy, uint64_t buddy_pfn, unsigned order) const;
  // Returns true when the block's buddy one order up is free, so it will
  // probably merge soon (Linux buddy_merge_likely).
  bool buddy_merge_likely(const zone* z, uint64_t pfn, uint64_t buddy_pfn, const page* p, unsigned order) const;

  MmContext* ctx_ = nullptr;
  BuddyObserver* observer_ = nullptr;
  uint64_t nr_free_ = 0;
  uint64_t min_free_ = ~0ull;
  BuddyStats stats_;
};

}  // namespace fw
