// Shared memory objects (Linux mm/shmem.c and the page-cache side of
// hugetlbfs): what MAP_SHARED|MAP_ANONYMOUS and hugetlb mappings map. Each
// mmap of such memory creates an object (Linux: an unlinked shmem or
// hugetlbfs file) holding the pages by index in a radix tree; fork shares
// it (the child's VMA takes a reference), so parent and child see the same
// pages. Pages stay in the object when unmapped (MADV_DONTNEED keeps the
// data) and go when the last VMA mapping it goes.
//
// Pages of a shmem object are 4 KiB, swap-backed, on the anonymous LRU
// (migratable: the reverse map walks the object's VMA list, i_mmap);
// hugetlb objects hold huge pages from the hugetlb pool, which are never
// migrated. Reclaim swaps shmem pages out (shmem_writeout): the page moves
// to the swap cache and its slot in the object holds the swap entry (a
// value entry holding one reference on the swap slot) until a fault or
// lookup brings it back (shmem_swapin_folio) or the object goes.
//
// A slot may also hold a workingset shadow entry (Linux's xarray value
// entries, bit 0 set: never a page pointer), left by reclaim when it
// evicted a page-cache page (sw/mm/workingset). Lookups treat shadows as
// absent; add_page hands the shadow it replaces to the caller. A leaf of a
// page-cache tree holding shadows and no page counts in workingset_nodes
// (Linux workingset_update_node); the workingset's shrinker frees such
// leaves (reclaim_shadow_nodes).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/page.h"
#include "sw/mm/swap.h"

namespace fw {

struct inode;

// shmem and hugetlb: anonymous shared objects; file: a file's page cache
// (sw/mm/filemap.h), whose host is the file's inode.
enum class MappingKind : uint8_t { shmem, hugetlb, file };

struct address_space {
  int32_t refcount;      // VMAs mapping it
  MappingKind kind;
  uint8_t page_shift;    // 12, or the hugetlb page size's
  uint8_t height;        // of the radix tree
  uint64_t nr_pages;     // size, in pages of page_shift
  uint64_t nrpages;      // pages present
  uint64_t resv;         // hugetlb: pages reserved for it and not yet present
  void* root;            // radix tree of 512-slot nodes (kmalloc), leaves struct page* or shadows
  list_head i_mmap;      // VMAs mapping it (vm_area_struct::shared_link)
  SpinLock lock;         // the tree and i_mmap
  uint64_t id;
  inode* host;           // MappingKind::file: the file it caches
};

struct ShmemStats {
  uint64_t objects = 0;       // alive
  uint64_t objects_created = 0;
  uint64_t pages = 0;         // shmem pages present (4 KiB)
  uint64_t faults = 0;
  uint64_t tree_nodes = 0;    // radix-tree nodes alive
  uint64_t swapped = 0;       // shmem pages in swap (slots holding a swap entry)
};

// Returns true for a slot value that is a shadow entry, not a page (xa_is_value).
inline bool radix_is_shadow(const void* v) { return (reinterpret_cast<uintptr_t>(v) & 1) != 0; }
// A swapped-out shmem page's slot: its swap entry as a value entry (bit 0
// is never set in an entry) (Linux swp_to_radix_entry, radix_to_swp_entry).
inline void* swp_to_radix_entry(swp_entry_t e) { return reinterpret_cast<void*>(static_cast<uintptr_t>(e.val | 1)); }
inline swp_entry_t radix_to_swp_entry(const void* v) { return swp_entry_t{reinterpret_cast<uintptr_t>(v) & ~1ull}; }

// Returns the shared-memory object of a page, nullptr for anonymous or
// unowned pages.
inline address_space* page_mapping_obj(const page* p) {
  return (!PageAnon(p) && p->mapping) ? reinterpret_cast<address_space*>(p->mapping) : nullptr;
}

// Returns true for a page of a shmem object (Linux shmem_mapping(folio->mapping)).
inline bool page_is_shmem(const page* p) {
  const address_space* m = page_mapping_obj(p);
  return m && m->kind == MappingKind::shmem;
}

class Shmem {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Returns a new object of nr_pages pages of 2^page_shift bytes with one
  // reference, or nullptr.
  address_space* create(hal::Hal& h, MappingKind kind, unsigned page_shift, uint64_t nr_pages);
  void get(address_space* obj) { ++obj->refcount; }
  // Drops a reference; the last frees every page and the reservations left.
  void put(hal::Hal& h, address_space* obj);

  // VMAs mapping the object (for the reverse map of its pages).
  void link_vma(hal::Hal& h, vm_area_struct* vma);
  void unlink_vma(hal::Hal& h, vm_area_struct* vma);

  // Returns the page at index, nullptr when absent.
  page* find_page(hal::Hal& h, address_space* obj, uint64_t index);
  // Returns the shmem page at index with a reference for the caller,
  // read back from swap when it was swapped out (*major: it had to be
  // read), allocated (zeroed) and added when absent; nullptr when out of
  // memory or the swap read failed (Linux shmem_get_folio).
  page* get_page(hal::Hal& h, address_space* obj, uint64_t index, bool* major = nullptr);
  // Reclaim's shmem_writeout: the unmapped shmem page p (isolated, with
  // reclaim's reference) leaves its object for the swap cache, dirty, to
  // be written; its slot in the object keeps the swap entry, which holds
  // one reference on the swap slot. Returns false when there is no slot
  // (p stays where it was).
  bool shmem_writeout(hal::Hal& h, page* p);
  // Adds a page the caller allocated (hugetlb, the page cache): false when
  // the index is taken meanwhile (the caller keeps its page) or no node
  // could be had. A shadow entry in the slot is replaced, and returned in
  // *shadow when given (0 when there was none).
  bool add_page(hal::Hal& h, address_space* obj, uint64_t index, page* p, uint64_t* shadow = nullptr);
  // Migration: the object now holds dst at src's index. False when src is
  // no longer there.
  bool replace_page(hal::Hal& h, address_space* obj, uint64_t index, page* src, page* dst);
  // Takes p out of the object's slot at index (the page cache's
  // __filemap_remove_folio); the caller owns the object's reference after.
  // False when the slot holds something else. A nonzero shadow (bit 0 set)
  // stays in the slot (reclaim's eviction).
  bool remove_page(hal::Hal& h, address_space* obj, uint64_t index, page* p, uint64_t shadow = 0);
  // Drops the shadow entries at indices [start, end) (truncation). Returns how many.
  uint64_t clear_shadows(hal::Hal& h, address_space* obj, uint64_t start, uint64_t end);
  // The shadow-node shrinker's scan of one page-cache tree: frees leaves
  // on node nid holding only shadows, while *budget (decremented per leaf)
  // lasts, with the inner nodes they leave empty (Linux
  // shadow_lru_isolate): workingset_nodes down, workingset_nodereclaim up.
  // Returns the leaves freed.
  uint64_t reclaim_shadow_nodes(hal::Hal& h, address_space* obj, int nid, uint64_t* budget);
  // Returns the first page present at an index in [start, end) with its
  // index in *index, nullptr when none (Linux xa_find); empty subtrees are
  // skipped whole.
  page* find_next(hal::Hal& h, address_space* obj, uint64_t start, uint64_t end, uint64_t* index);

  const ShmemStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  static constexpr unsigned kSlots = 512;
  void** slot(address_space* obj, uint64_t index, void** spare, unsigned* nspare);
  // Returns the swap entry at index of a shmem object, 0 when none.
  swp_entry_t swap_entry_at(hal::Hal& h, address_space* obj, uint64_t index);
  // Brings the swapped-out page at index back from the swap cache or the
  // slot into the object and frees the slot (Linux shmem_swapin_folio).
  // Returns it with the caller's reference, nullptr on a read error or no
  // memory.
  page* shmem_swapin(hal::Hal& h, address_space* obj, uint64_t index, swp_entry_t e, bool* major);
  void free_tree(hal::Hal& h, address_space* obj, void* node, unsigned level);
  page* find_in(void* node, unsigned level, uint64_t base, uint64_t start, uint64_t end, uint64_t* index);
  uint64_t clear_in(const address_space* obj, void* node, unsigned level, uint64_t base, uint64_t start,
                    uint64_t end);
  // Moves a page-cache leaf into or out of workingset_nodes as its slot i
  // changes from old to nw (Linux workingset_update_node).
  void workingset_update_node(const address_space* obj, void** leaf, unsigned i, const void* old, const void* nw);
  // The leaf's node, for its workingset_nodes count.
  int leaf_nid(const void* leaf) const;
  uint64_t reclaim_shadows_in(hal::Hal& h, void** slots, unsigned level, int nid, uint64_t* budget);
  // A shadow-only leaf goes: freed, counted.
  void free_shadow_leaf(hal::Hal& h, void* leaf, int nid);

  MmContext* ctx_ = nullptr;
  uint64_t next_id_ = 1;
  ShmemStats stats_;
};

}  // namespace fw
