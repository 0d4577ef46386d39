// The reverse map of anonymous memory (Linux mm/rmap.c): from a page to
// every PTE that maps it. An anonymous page points (page->mapping) to an
// anon_vma; the anon_vma lists, through anon_vma_chains, every VMA that may
// map its pages (after fork, the parent's and all children's VMAs: the
// children's anon_vmas hang below the parent's, sharing its root and its
// lock). A page's address in a VMA follows from page->index, its linear
// page index: vm_start + (index - vm_pgoff) * PAGE_SIZE. Linux keeps the
// chains in an interval tree; a list does here.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/page.h"

namespace fw {

struct kmem_cache;

struct anon_vma {
  anon_vma* root;           // the root of this anon_vma's family: its lock serializes rmap walks
  int32_t refcount;         // chains and child anon_vmas pointing here
  uint32_t num_children;    // anon_vmas whose parent this is
  uint32_t num_active_vmas; // VMAs whose vma->anon_vma is this
  anon_vma* parent;
  list_head head;           // anon_vma_chain.same_anon_vma entries
  SpinLock lock;            // used on the root only
};

struct anon_vma_chain {
  vm_area_struct* vma;
  anon_vma* av;
  list_head same_vma;       // in vma->anon_vma_chain
  list_head same_anon_vma;  // in av->head
};

// Called for every VMA that may map a page; false stops the walk.
struct RmapVisitor {
  virtual bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) = 0;

 protected:
  ~RmapVisitor() = default;
};

// try_to_unmap's flags (Linux enum ttu_flags, the two memory failure uses).
enum : unsigned {
  TTU_IGNORE_MLOCK = 1u << 0,  // unmap from mlocked VMAs too
  TTU_HWPOISON = 1u << 1,      // a poisoned page's PTEs become hwpoison entries (sw/mm/swap.h)
};

struct RmapStats {
  uint64_t anon_vmas = 0;   // alive
  uint64_t chains = 0;      // alive
  uint64_t walks = 0;
};

// Returns the anon_vma of an anonymous page, nullptr for any other page.
inline anon_vma* page_anon_vma(const page* p) {
  return PageAnon(p) ? reinterpret_cast<anon_vma*>(p->mapping & ~PAGE_MAPPING_ANON) : nullptr;
}
// Returns the page offset of address in vma's object (or, anonymous, in the
// address space).
inline uint64_t linear_page_index(const vm_area_struct* vma, uint64_t address) {
  return ((address - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
}

class Rmap {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }
  // The slab caches; after slab init.
  bool create_caches(hal::Hal& h);

  // Gives vma an anon_vma before its first anonymous page (Linux
  // __anon_vma_prepare). Returns 0 or -ENOMEM.
  int anon_vma_prepare(hal::Hal& h, vm_area_struct* vma);
  // dst (a split-off part of src) joins every anon_vma src belongs to.
  // Returns 0 or -ENOMEM.
  int anon_vma_clone(hal::Hal& h, vm_area_struct* dst, vm_area_struct* src);
  // A child VMA after fork: clones the parent's chains and gets an anon_vma
  // of its own below the parent's (Linux anon_vma_fork). Returns 0 or
  // -ENOMEM.
  int anon_vma_fork(hal::Hal& h, vm_area_struct* vma, vm_area_struct* pvma);
  // The VMA goes away: drops its chains, and anon_vmas left without users.
  void unlink_anon_vmas(hal::Hal& h, vm_area_struct* vma);

  // A fresh page mapped for the first time at address.
  void folio_add_new_anon_rmap(page* p, vm_area_struct* vma, uint64_t address);
  // Another PTE maps an existing anonymous page (fork, migration).
  void page_add_anon_rmap(page* p);
  // Another PTE maps a shared-memory page.
  void page_add_file_rmap(page* p);
  // A PTE stopped mapping p (anonymous or shared memory). True when it was
  // the last mapping.
  bool page_remove_rmap(page* p);

  // Whole-folio mappings (a PMD of a THP, a PD/PDPT leaf of hugetlb).
  // A fresh anonymous folio (THP or private hugetlb page) mapped at haddr.
  void folio_add_new_anon_rmap_pmd(page* head, vm_area_struct* vma, uint64_t haddr);
  // One more whole mapping of a folio already mapped (fork, shared hugetlb).
  void folio_add_rmap_pmd(page* head);
  // A whole mapping went. True when it was the last whole mapping.
  bool folio_remove_rmap_pmd(page* head);

  // The address of p in vma, ~0 when the VMA does not cover it.
  static uint64_t vma_address(const page* p, const vm_area_struct* vma);
  // Calls v for every VMA that may map p: through its anon_vma under the
  // root anon_vma's lock, or (shared memory) the object's VMA list under
  // the object's lock.
  void rmap_walk(hal::Hal& h, page* p, RmapVisitor& v);

  // Harvests and clears the Accessed bits of every PTE (or PMD, for a
  // THP) mapping p, flushing the cleared entries from the TLBs. Returns
  // the number of mappings that had A set; *vm_flags gets the flags of
  // those VMAs, and VM_LOCKED when an mlocked VMA maps p (the walk stops
  // there) (Linux folio_referenced).
  int folio_referenced(hal::Hal& h, page* p, uint64_t* vm_flags);
  // Unmaps p from every PTE mapping it, the caller holding a reference
  // (Linux try_to_unmap): an anonymous page must be in the swap cache and
  // each PTE gets its swap entry (a reference on the slot, the mm's
  // swapents up, rss down); a page-cache page's PTEs are cleared. The D
  // bit becomes the page's dirty flag; each entry is shot down from the
  // TLBs. Stops at an mlocked VMA unless TTU_IGNORE_MLOCK. With
  // TTU_HWPOISON and p poisoned, each PTE becomes a hwpoison entry instead
  // (no swap slot; rss down). Returns true when nothing maps p after.
  bool try_to_unmap(hal::Hal& h, page* p, unsigned ttu = 0);

  const RmapStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Returns a new anon_vma with one reference, its own root, or nullptr.
  anon_vma* anon_vma_alloc(hal::Hal& h);
  void put_anon_vma(hal::Hal& h, anon_vma* av);
  // Returns a new, unlinked anon_vma_chain, or nullptr.
  anon_vma_chain* avc_alloc(hal::Hal& h);
  void anon_vma_chain_link(vm_area_struct* vma, anon_vma_chain* avc, anon_vma* av);

  MmContext* ctx_ = nullptr;
  kmem_cache* anon_vma_cachep_ = nullptr;
  kmem_cache* avc_cachep_ = nullptr;
  RmapStats stats_;
};

}  // namespace fw
