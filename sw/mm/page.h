// struct page: one 64-byte descriptor per physical page frame, laid out like
// Linux's, stored in simulated DRAM (the memmap, allocated from memblock per
// node and reached through the HAL's direct map). Page flags, page types,
// compound pages and the zone/node links in the high bits of flags follow
// Linux (include/linux/mm_types.h, page-flags.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/x86.h"
#include "sw/lib/list.h"

namespace fw {

struct kmem_cache;

constexpr unsigned PAGE_SHIFT = x86::PAGE_SHIFT;
constexpr uint64_t PAGE_SIZE = x86::PAGE_SIZE;
constexpr uint64_t PAGE_MASK = ~(PAGE_SIZE - 1);

constexpr uint64_t PFN_DOWN(uint64_t x) { return x >> PAGE_SHIFT; }
constexpr uint64_t PFN_UP(uint64_t x) { return (x + PAGE_SIZE - 1) >> PAGE_SHIFT; }
constexpr uint64_t PFN_PHYS(uint64_t pfn) { return pfn << PAGE_SHIFT; }
constexpr uint64_t PAGE_ALIGN(uint64_t x) { return (x + PAGE_SIZE - 1) & PAGE_MASK; }

// Page flag bits (Linux's enum pageflags; the numbering is ours).
enum pageflags : unsigned {
  PG_locked,
  PG_referenced,
  PG_uptodate,
  PG_dirty,
  PG_lru,        // on a node's LRU list (anonymous pages): isolatable for migration
  PG_head,       // first page of a compound page
  PG_active,
  PG_slab,
  PG_reserved,
  PG_private,
  PG_writeback,
  PG_swapbacked,  // anonymous memory
  PG_unevictable,
  PG_mlocked,
  PG_hwpoison,
  PG_isolated,   // taken off the LRU by compaction/CMA for migration
  PG_readahead,  // page cache: reaching it starts the next asynchronous readahead (Linux aliases PG_reclaim)
  PG_swapcache,  // anonymous page in the swap cache: page->private_ holds its swp_entry_t (sw/mm/swap.h)
  PG_workingset, // part of the workingset: refaulted after eviction, or activated (mm/workingset.c)
  PG_reclaim,    // reclaim wants it: rotate to the inactive tail when its writeback ends (Linux shares PG_readahead's bit)
  NR_PAGEFLAGS,
};

// The zone and node of a page sit in the top bits of flags, as in Linux.
constexpr unsigned ZONES_WIDTH = 3;
constexpr unsigned NODES_WIDTH = 3;  // hal::kMaxNodes == 8
constexpr unsigned ZONES_PGSHIFT = 64 - ZONES_WIDTH;
constexpr unsigned NODES_PGSHIFT = ZONES_PGSHIFT - NODES_WIDTH;
constexpr uint64_t ZONES_MASK = (1ull << ZONES_WIDTH) - 1;
constexpr uint64_t NODES_MASK = (1ull << NODES_WIDTH) - 1;

// Page types live in the _mapcount word (Linux before 6.10): the word reads
// -1 for "no type", and a type is set by clearing its bit under the base.
constexpr uint32_t PAGE_TYPE_BASE = 0xf0000000u;
constexpr uint32_t PG_buddy = 0x00000080u;
constexpr uint32_t PG_offline = 0x00000100u;
constexpr uint32_t PG_table = 0x00000200u;
constexpr uint32_t PG_guard = 0x00000400u;

// page->mapping of an anonymous page holds its anon_vma with this bit set
// (PAGE_MAPPING_ANON).
constexpr uint64_t PAGE_MAPPING_ANON = 0x1;

struct page {
  uint64_t flags;
  union {
    struct {              // buddy, per-CPU list, LRU, anonymous and page-table pages
      list_head lru;      // buddy/pcp free list, LRU, or a compaction/migration list
      uint64_t mapping;   // anonymous: anon_vma | PAGE_MAPPING_ANON
      uint64_t index;     // anonymous: linear page index within its anon_vma's space
      uint64_t private_;  // buddy and pcp: the order of the free block
    };
    struct {                  // slab pages (SLUB), head page only
      list_head slab_list;    // the node's partial (or full) list
      kmem_cache* slab_cache;
      void* freelist;         // first free object (host pointer), nullptr when none
      uint16_t inuse;         // objects allocated (all of them while frozen)
      uint16_t objects;       // objects in this slab
      uint8_t frozen;         // the active slab of some CPU
      uint8_t slab_pad[3];
    };
    struct {                   // tail pages of a compound page
      uint64_t compound_head;  // the head page's address | 1
      uint8_t compound_order;  // first tail only: the order of the compound page
      uint8_t compound_flags;  // first tail only: COMPOUND_* (what kind of folio)
      uint8_t tail_pad[2];
      int32_t entire_mapcount; // first tail only: PMD/PUD mappings of the whole folio, minus one
      uint64_t tail_mapping;   // second tail of a THP: deferred-split link (unused otherwise)
      uint64_t tail_private;
    };
  };
  union {
    int32_t _mapcount;   // mapped pages: number of PTEs mapping it, minus one
    uint32_t page_type;  // typed pages (buddy, table): see PAGE_TYPE_BASE
  };
  int32_t _refcount;
  uint64_t memcg_data;  // unused until memory cgroups exist; keeps Linux's size
};
static_assert(sizeof(page) == 64, "struct page is 64 bytes, as on Linux x86-64");
static_assert(offsetof(page, _refcount) == 52, "refcount where Linux keeps it");
static_assert(offsetof(page, compound_head) == offsetof(page, lru), "compound_head overlays lru.next, as in Linux");

// ---- flags ----
inline bool PageFlag(const page* p, unsigned bit) { return (p->flags >> bit) & 1; }
inline void SetPageFlag(page* p, unsigned bit) { p->flags |= 1ull << bit; }
inline void ClearPageFlag(page* p, unsigned bit) { p->flags &= ~(1ull << bit); }

inline bool PageReserved(const page* p) { return PageFlag(p, PG_reserved); }
inline void SetPageReserved(page* p) { SetPageFlag(p, PG_reserved); }
inline void ClearPageReserved(page* p) { ClearPageFlag(p, PG_reserved); }
inline bool PageSlab(const page* p) { return PageFlag(p, PG_slab); }
inline bool PageLRU(const page* p) { return PageFlag(p, PG_lru); }
inline bool PageIsolated(const page* p) { return PageFlag(p, PG_isolated); }
inline bool PageHWPoison(const page* p) { return PageFlag(p, PG_hwpoison); }
inline void SetPageHWPoison(page* p) { SetPageFlag(p, PG_hwpoison); }
inline bool PageSwapCache(const page* p) { return PageFlag(p, PG_swapcache); }
inline bool PageAnon(const page* p) { return (p->mapping & PAGE_MAPPING_ANON) != 0; }

// Flags a page must not carry when it is freed (a bug elsewhere if it does).
constexpr uint64_t PAGE_FLAGS_CHECK_AT_FREE = (1ull << PG_locked) | (1ull << PG_lru) | (1ull << PG_slab) |
                                              (1ull << PG_reserved) | (1ull << PG_private) |
                                              (1ull << PG_writeback) | (1ull << PG_mlocked) | (1ull << PG_head) |
                                              (1ull << PG_isolated);
// Flags cleared when a page enters the free lists (state that died with its use).
constexpr uint64_t PAGE_FLAGS_CLEAR_AT_FREE = ((1ull << NR_PAGEFLAGS) - 1) & ~(1ull << PG_hwpoison);
constexpr uint64_t PAGE_FLAGS_LINKS = ~((1ull << NODES_PGSHIFT) - 1);

// ---- zone / node links ----
inline unsigned page_zonenum(const page* p) { return static_cast<unsigned>((p->flags >> ZONES_PGSHIFT) & ZONES_MASK); }
inline int page_to_nid(const page* p) { return static_cast<int>((p->flags >> NODES_PGSHIFT) & NODES_MASK); }
// Node and zone together: two pages are in the same zone iff these match.
inline uint64_t page_zone_id(const page* p) { return p->flags >> NODES_PGSHIFT; }
inline void set_page_links(page* p, unsigned zone, int nid) {
  p->flags = (p->flags & ~PAGE_FLAGS_LINKS) | (static_cast<uint64_t>(zone) << ZONES_PGSHIFT) |
             (static_cast<uint64_t>(nid) << NODES_PGSHIFT);
}

// ---- page types ----
inline bool PageType(const page* p, uint32_t flag) {
  return (p->page_type & (PAGE_TYPE_BASE | flag)) == PAGE_TYPE_BASE;
}
inline bool PageBuddy(const page* p) { return PageType(p, PG_buddy); }
inline void __SetPageBuddy(page* p) { p->page_type &= ~PG_buddy; }
inline void __ClearPageBuddy(page* p) { p->page_type |= PG_buddy; }
inline bool PageTable(const page* p) { return PageType(p, PG_table); }
inline void __SetPageTable(page* p) { p->page_type &= ~PG_table; }
inline void __ClearPageTable(page* p) { p->page_type |= PG_table; }

// ---- counts ----
inline int page_ref_count(const page* p) { return p->_refcount; }
inline void set_page_count(page* p, int v) { p->_refcount = v; }
inline void get_page(page* p) { ++p->_refcount; }
// Takes a reference unless the page is free (refcount zero).
inline bool get_page_unless_zero(page* p) {
  if (p->_refcount <= 0) return false;
  ++p->_refcount;
  return true;
}
// Drops a reference; true when it was the last.
inline bool put_page_testzero(page* p) { return --p->_refcount == 0; }
inline int page_mapcount(const page* p) { return p->_mapcount + 1; }
inline bool page_mapped(const page* p) { return p->_mapcount >= 0; }
inline void page_mapcount_reset(page* p) { p->_mapcount = -1; }

// ---- buddy ----
inline unsigned buddy_order(const page* p) { return static_cast<unsigned>(p->private_); }
inline void set_buddy_order(page* p, unsigned order) {
  p->private_ = order;
  __SetPageBuddy(p);
}

// ---- compound pages (Linux's folio head/tail encoding) ----
inline bool PageHead(const page* p) { return PageFlag(p, PG_head); }
inline bool PageTail(const page* p) { return (p->compound_head & 1) != 0; }
inline bool PageCompound(const page* p) { return PageHead(p) || PageTail(p); }
inline page* compound_head(page* p) {
  return PageTail(p) ? reinterpret_cast<page*>(p->compound_head - 1) : p;
}
inline const page* compound_head(const page* p) {
  return PageTail(p) ? reinterpret_cast<const page*>(p->compound_head - 1) : p;
}
inline unsigned compound_order(const page* p) { return PageHead(p) ? p[1].compound_order : 0; }
inline uint64_t compound_nr(const page* p) { return 1ull << compound_order(p); }

// What a compound page is (first tail's compound_flags; Linux keeps this in
// the folio's destructor id / page type).
constexpr uint8_t COMPOUND_HUGETLB = 0x1;  // a hugetlbfs page (pool or mapped)
constexpr uint8_t COMPOUND_THP = 0x2;      // an anonymous transparent huge page
// A poisoned hugetlb folio's head page is itself one of its bad 4 KiB pages
// (the head's PG_hwpoison marks the whole folio; bad tail pages carry
// their own PG_hwpoison: Linux keeps them in a raw_hwp_page list).
constexpr uint8_t COMPOUND_HWP_RAW_HEAD = 0x4;
inline bool PageHuge(const page* p) { return PageHead(p) && (p[1].compound_flags & COMPOUND_HUGETLB); }
inline bool PageTransHuge(const page* p) { return PageHead(p) && (p[1].compound_flags & COMPOUND_THP); }
// Mappings of the folio as a whole (PMD or PUD entries).
inline int folio_entire_mapcount(const page* head) { return head[1].entire_mapcount + 1; }
// A folio is mapped when its head maps (small page) or any entry maps it whole.
inline bool folio_mapped(const page* head) {
  return head->_mapcount >= 0 || (PageHead(head) && head[1].entire_mapcount >= 0);
}

}  // namespace fw
