#include "sw/mm/shmem.h"

#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"
#include "sw/lib/printk.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/lru.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/slub.h"
#include "sw/mm/swap_state.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {
constexpr unsigned kNodeBytes = 512 * sizeof(void*);  // one 4 KiB kmalloc object

// Returns true when a leaf holds shadows and no page (Linux: node->count
// == node->nr_values, nonzero).
bool leaf_shadow_only(void* const* slots) {
  bool shadow = false;
  for (unsigned i = 0; i < 512; ++i) {
    if (!slots[i]) continue;
    if (!radix_is_shadow(slots[i])) return false;
    shadow = true;
  }
  return shadow;
}

bool node_empty(void* const* slots) {
  for (unsigned i = 0; i < 512; ++i)
    if (slots[i]) return false;
  return true;
}
}  // namespace

int Shmem::leaf_nid(const void* leaf) const {
  const page* p = ctx_->nodes->virt_to_page(leaf);
  return p ? page_to_nid(p) : 0;
}

void Shmem::workingset_update_node(const address_space* obj, void** leaf, unsigned i, const void* old,
                                   const void* nw) {
  if (obj->kind != MappingKind::file) return;  // Linux leaves shmem's nodes off the list too
  // The other slots decide unless slot i tips it: one pass, stopping at a page.
  bool page_elsewhere = false, shadow_elsewhere = false;
  for (unsigned j = 0; j < kSlots && !page_elsewhere; ++j) {
    if (j == i || !leaf[j]) continue;
    if (radix_is_shadow(leaf[j])) shadow_elsewhere = true;
    else page_elsewhere = true;
  }
  auto shadow_only = [&](const void* v) {
    if (page_elsewhere || (v && !radix_is_shadow(v))) return false;
    return shadow_elsewhere || v != nullptr;
  };
  const bool before = shadow_only(old), after = shadow_only(nw);
  if (before != after) ctx_->vmstat->mod(leaf_nid(leaf), WORKINGSET_NODES, after ? 1 : -1);
}

address_space* Shmem::create(hal::Hal& h, MappingKind kind, unsigned page_shift, uint64_t nr_pages) {
  address_space* obj = static_cast<address_space*>(ctx_->slab->kzalloc(h, sizeof(address_space), GFP_KERNEL));
  if (!obj) return nullptr;
  obj->refcount = 1;
  obj->kind = kind;
  obj->page_shift = static_cast<uint8_t>(page_shift);
  obj->nr_pages = nr_pages;
  // A fixed height: the object never grows (no ftruncate).
  uint64_t cap = kSlots;
  obj->height = 1;
  while (cap < nr_pages) {
    cap *= kSlots;
    ++obj->height;
  }
  INIT_LIST_HEAD(&obj->i_mmap);
  obj->id = next_id_++;
  ++stats_.objects;
  ++stats_.objects_created;
  return obj;
}

void Shmem::free_tree(hal::Hal& h, address_space* obj, void* node, unsigned level) {
  void** slots = static_cast<void**>(node);
  if (level == 1 && obj->kind == MappingKind::file && leaf_shadow_only(slots))
    ctx_->vmstat->mod(leaf_nid(node), WORKINGSET_NODES, -1);
  for (unsigned i = 0; i < kSlots; ++i) {
    if (!slots[i]) continue;
    if (level > 1) {
      free_tree(h, obj, slots[i], level - 1);
      continue;
    }
    if (radix_is_shadow(slots[i])) {
      // A shmem page in swap: its slot goes with the object (shmem_free_swap).
      if (obj->kind == MappingKind::shmem) {
        ctx_->swapfile->free_swap_and_cache(h, radix_to_swp_entry(slots[i]));
        --stats_.swapped;
      }
      continue;  // a file's shadow holds nothing
    }
    page* p = static_cast<page*>(slots[i]);
    // The object's reference: the page no longer belongs to it (a
    // migration holding it sees it freed under it).
    p->mapping = 0;
    if (obj->kind == MappingKind::shmem) {
      ctx_->vmstat->mod(page_to_nid(p), NR_SHMEM, -1);
      ctx_->vmstat->mod(page_to_nid(p), NR_FILE_PAGES, -1);
      --stats_.pages;
    }
    --obj->nrpages;
    ctx_->page_alloc->put_page(h, p);
  }
  ctx_->slab->kfree(h, node);
  --stats_.tree_nodes;
}

void Shmem::put(hal::Hal& h, address_space* obj) {
  if (--obj->refcount > 0) return;
  if (obj->root) free_tree(h, obj, obj->root, obj->height);
  if (obj->kind == MappingKind::hugetlb && obj->resv) ctx_->hugetlb->unreserve(h, obj->page_shift, obj->resv);
  ctx_->slab->kfree(h, obj);
  --stats_.objects;
}

void Shmem::link_vma(hal::Hal& h, vm_area_struct* vma) {
  address_space* obj = vma->vm_obj;
  LockGuard g(obj->lock, h);
  list_add_tail(&vma->shared_link, &obj->i_mmap);
}

void Shmem::unlink_vma(hal::Hal& h, vm_area_struct* vma) {
  address_space* obj = vma->vm_obj;
  if (!obj || !vma->shared_link.next) return;
  LockGuard g(obj->lock, h);
  list_del(&vma->shared_link);
}

void** Shmem::slot(address_space* obj, uint64_t index, void** spare, unsigned* nspare) {
  if (!obj->root) {
    if (!spare || !*nspare) return nullptr;
    obj->root = spare[--*nspare];
    ++stats_.tree_nodes;
  }
  void** node = static_cast<void**>(obj->root);
  for (unsigned level = obj->height; level > 1; --level) {
    void*& next = node[(index >> (9 * (level - 1))) & (kSlots - 1)];
    if (!next) {
      if (!spare || !*nspare) return nullptr;
      next = spare[--*nspare];
      ++stats_.tree_nodes;
    }
    node = static_cast<void**>(next);
  }
  return &node[index & (kSlots - 1)];
}

page* Shmem::find_page(hal::Hal& h, address_space* obj, uint64_t index) {
  if (index >= obj->nr_pages) return nullptr;
  LockGuard g(obj->lock, h);
  void** s = slot(obj, index, nullptr, nullptr);
  return s && !radix_is_shadow(*s) ? static_cast<page*>(*s) : nullptr;
}

bool Shmem::add_page(hal::Hal& h, address_space* obj, uint64_t index, page* p, uint64_t* shadow) {
  if (shadow) *shadow = 0;
  if (index >= obj->nr_pages) return false;
  // Nodes are allocated before the lock: an allocation may compact, and
  // compaction may walk this object's reverse map (its lock).
  void* spare[8] = {};
  unsigned nspare = 0;
  for (unsigned i = 0; i < obj->height && i < 8; ++i) {
    spare[nspare] = ctx_->slab->kzalloc(h, kNodeBytes, GFP_KERNEL);
    if (!spare[nspare]) break;
    ++nspare;
  }
  bool ok = false;
  {
    LockGuard g(obj->lock, h);
    void** s = slot(obj, index, spare, &nspare);
    if (s && (!*s || radix_is_shadow(*s))) {
      if (shadow) *shadow = reinterpret_cast<uintptr_t>(*s);
      const unsigned i = static_cast<unsigned>(index & (kSlots - 1));
      workingset_update_node(obj, s - i, i, *s, p);
      *s = p;
      p->mapping = reinterpret_cast<uint64_t>(obj);
      p->index = index;
      ++obj->nrpages;
      ok = true;
    }
  }
  for (unsigned i = 0; i < nspare; ++i) ctx_->slab->kfree(h, spare[i]);
  return ok;
}

swp_entry_t Shmem::swap_entry_at(hal::Hal& h, address_space* obj, uint64_t index) {
  if (obj->kind != MappingKind::shmem) return swp_entry_t{0};
  LockGuard g(obj->lock, h);
  void** s = slot(obj, index, nullptr, nullptr);
  return s && radix_is_shadow(*s) ? radix_to_swp_entry(*s) : swp_entry_t{0};
}

page* Shmem::shmem_swapin(hal::Hal& h, address_space* obj, uint64_t index, swp_entry_t e, bool* major) {
  SwapCache& cache = *ctx_->swap_cache;
  page* p = cache.lookup(h, e);
  if (!p) {
    p = cache.swapin_readahead(h, e);
    if (!p) return nullptr;
    if (major) *major = true;
  }
  if (cache.wait_on_read(h, p) < 0) {
    ctx_->page_alloc->put_page(h, p);
    return nullptr;
  }
  // Still being written by reclaim: the copy in the slot is not needed
  // any more, but the page must not change under the write (folio_wait_writeback).
  while (PageFlag(p, PG_writeback)) h.cpu_relax();
  {
    LockGuard g(obj->lock, h);
    void** s = slot(obj, index, nullptr, nullptr);
    if (!s || *s != swp_to_radix_entry(e) || !PageSwapCache(p) || p->private_ != e.val) {
      // Brought back (or freed) by someone else meanwhile: the caller looks again.
      ctx_->page_alloc->put_page(h, p);
      return nullptr;
    }
    *s = p;
    ++obj->nrpages;
    p->mapping = reinterpret_cast<uint64_t>(obj);
    p->index = index;
  }
  --stats_.swapped;
  ++stats_.pages;
  ctx_->vmstat->mod(page_to_nid(p), NR_SHMEM, 1);
  ctx_->vmstat->mod(page_to_nid(p), NR_FILE_PAGES, 1);
  // Out of the swap cache (its reference becomes the object's), and the
  // object's reference on the slot dropped: the slot is free.
  cache.delete_from_swap_cache(h, p, 0);
  ctx_->swapfile->swap_free(h, e);
  SetPageFlag(p, PG_dirty);  // only the object holds the data now
  return p;
}

bool Shmem::shmem_writeout(hal::Hal& h, page* p) {
  address_space* obj = page_mapping_obj(p);
  if (!obj || obj->kind != MappingKind::shmem || PageSwapCache(p)) return false;
  if (!ctx_->swap_cache->add_to_swap(h, p)) return false;  // a slot, and the cache's reference
  const swp_entry_t e{p->private_};
  bool moved = false;
  if (ctx_->swapfile->swap_duplicate(h, e) == 0) {  // the object's reference on the slot
    LockGuard g(obj->lock, h);
    void** s = slot(obj, p->index, nullptr, nullptr);
    if (s && *s == p) {
      *s = swp_to_radix_entry(e);
      --obj->nrpages;
      moved = true;
    }
  }
  if (!moved) {
    if (ctx_->swapfile->swap_count(e)) ctx_->swapfile->swap_free(h, e);
    ctx_->swap_cache->folio_free_swap(h, p);
    return false;
  }
  p->mapping = 0;  // a swap-cache page now, like an anonymous one on its way out
  ++stats_.swapped;
  --stats_.pages;
  ctx_->vmstat->mod(page_to_nid(p), NR_SHMEM, -1);
  ctx_->vmstat->mod(page_to_nid(p), NR_FILE_PAGES, -1);
  ctx_->page_alloc->put_page(h, p);  // the object's reference; the swap cache holds its own
  return true;
}

page* Shmem::get_page(hal::Hal& h, address_space* obj, uint64_t index, bool* major) {
  if (index >= obj->nr_pages) return nullptr;
  ++stats_.faults;
  for (;;) {
    if (page* p = find_page(h, obj, index)) {
      get_page_unless_zero(p);
      return p;
    }
    const swp_entry_t e = swap_entry_at(h, obj, index);
    if (!e.val) break;
    if (page* p = shmem_swapin(h, obj, index, e, major)) return p;
    // Not brought back: a read error or no memory, unless it raced.
    if (swap_entry_at(h, obj, index).val == e.val) return nullptr;
  }
  page* p = ctx_->page_alloc->alloc_pages(h, GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 0);
  if (!p) return nullptr;
  SetPageFlag(p, PG_swapbacked);
  SetPageFlag(p, PG_uptodate);
  if (!add_page(h, obj, index, p)) {
    // Another CPU added one meanwhile (or no tree node): use what is there.
    ctx_->page_alloc->put_page(h, p);
    page* q = find_page(h, obj, index);
    if (q) get_page_unless_zero(q);
    return q;
  }
  ctx_->vmstat->mod(page_to_nid(p), NR_SHMEM, 1);
  ctx_->vmstat->mod(page_to_nid(p), NR_FILE_PAGES, 1);
  ++stats_.pages;
  ctx_->lru->add(h, p);
  fw::get_page(p);  // the caller's; the allocation's reference is the object's
  return p;
}

bool Shmem::replace_page(hal::Hal& h, address_space* obj, uint64_t index, page* src, page* dst) {
  LockGuard g(obj->lock, h);
  void** s = slot(obj, index, nullptr, nullptr);
  if (!s || *s != src) return false;
  *s = dst;
  dst->mapping = reinterpret_cast<uint64_t>(obj);
  dst->index = index;
  src->mapping = 0;
  if (page_to_nid(src) != page_to_nid(dst) && obj->kind != MappingKind::hugetlb) {
    // A page-cache page (soft offline) counts as a file page only; hugetlb
    // objects' pages count in no page-cache statistic.
    if (obj->kind != MappingKind::file) {
      ctx_->vmstat->mod(page_to_nid(src), NR_SHMEM, -1);
      ctx_->vmstat->mod(page_to_nid(dst), NR_SHMEM, 1);
    }
    ctx_->vmstat->mod(page_to_nid(src), NR_FILE_PAGES, -1);
    ctx_->vmstat->mod(page_to_nid(dst), NR_FILE_PAGES, 1);
  }
  return true;
}

bool Shmem::remove_page(hal::Hal& h, address_space* obj, uint64_t index, page* p, uint64_t shadow) {
  LockGuard g(obj->lock, h);
  void** s = slot(obj, index, nullptr, nullptr);
  if (!s || *s != p) return false;
  void* const nw = reinterpret_cast<void*>(static_cast<uintptr_t>(shadow));
  const unsigned i = static_cast<unsigned>(index & (kSlots - 1));
  workingset_update_node(obj, s - i, i, p, nw);
  *s = nw;
  --obj->nrpages;
  return true;
}

page* Shmem::find_in(void* node, unsigned level, uint64_t base, uint64_t start, uint64_t end, uint64_t* index) {
  void** slots = static_cast<void**>(node);
  const unsigned shift = 9 * (level - 1);
  const uint64_t span = 1ull << shift;
  unsigned i = start > base ? static_cast<unsigned>((start - base) >> shift) : 0;
  for (; i < kSlots; ++i) {
    const uint64_t first = base + i * span;
    if (first >= end) return nullptr;
    if (!slots[i]) continue;
    if (level == 1) {
      if (radix_is_shadow(slots[i])) continue;
      *index = first;
      return static_cast<page*>(slots[i]);
    }
    if (page* p = find_in(slots[i], level - 1, first, start, end, index)) return p;
  }
  return nullptr;
}

page* Shmem::find_next(hal::Hal& h, address_space* obj, uint64_t start, uint64_t end, uint64_t* index) {
  if (end > obj->nr_pages) end = obj->nr_pages;
  if (start >= end) return nullptr;
  LockGuard g(obj->lock, h);
  return obj->root ? find_in(obj->root, obj->height, 0, start, end, index) : nullptr;
}

uint64_t Shmem::clear_in(const address_space* obj, void* node, unsigned level, uint64_t base, uint64_t start,
                         uint64_t end) {
  void** slots = static_cast<void**>(node);
  const unsigned shift = 9 * (level - 1);
  const uint64_t span = 1ull << shift;
  uint64_t n = 0;
  const bool was_shadow_only = level == 1 && obj->kind == MappingKind::file && leaf_shadow_only(slots);
  for (unsigned i = start > base ? static_cast<unsigned>((start - base) >> shift) : 0; i < kSlots; ++i) {
    const uint64_t first = base + i * span;
    if (first >= end) break;
    if (!slots[i]) continue;
    if (level > 1) {
      n += clear_in(obj, slots[i], level - 1, first, start, end);
    } else if (radix_is_shadow(slots[i])) {
      slots[i] = nullptr;
      ++n;
    }
  }
  if (was_shadow_only && !leaf_shadow_only(slots)) ctx_->vmstat->mod(leaf_nid(node), WORKINGSET_NODES, -1);
  return n;
}

uint64_t Shmem::clear_shadows(hal::Hal& h, address_space* obj, uint64_t start, uint64_t end) {
  if (end > obj->nr_pages) end = obj->nr_pages;
  if (start >= end) return 0;
  LockGuard g(obj->lock, h);
  return obj->root ? clear_in(obj, obj->root, obj->height, 0, start, end) : 0;
}

void Shmem::free_shadow_leaf(hal::Hal& h, void* leaf, int nid) {
  ctx_->slab->kfree(h, leaf);
  --stats_.tree_nodes;
  ctx_->vmstat->mod(nid, WORKINGSET_NODES, -1);
  ctx_->vmstat->mod(nid, WORKINGSET_NODERECLAIM, 1);
}

uint64_t Shmem::reclaim_shadows_in(hal::Hal& h, void** slots, unsigned level, int nid, uint64_t* budget) {
  uint64_t freed = 0;
  for (unsigned i = 0; i < kSlots && *budget; ++i) {
    void** child = static_cast<void**>(slots[i]);
    if (!child) continue;
    if (level > 2) {
      freed += reclaim_shadows_in(h, child, level - 1, nid, budget);
      if (node_empty(child)) {  // xa_delete_node frees the parents it empties
        ctx_->slab->kfree(h, child);
        --stats_.tree_nodes;
        slots[i] = nullptr;
      }
      continue;
    }
    if (!leaf_shadow_only(child) || leaf_nid(child) != nid) continue;
    slots[i] = nullptr;
    free_shadow_leaf(h, child, nid);
    --*budget;
    ++freed;
  }
  return freed;
}

uint64_t Shmem::reclaim_shadow_nodes(hal::Hal& h, address_space* obj, int nid, uint64_t* budget) {
  if (obj->kind != MappingKind::file || !*budget) return 0;
  LockGuard g(obj->lock, h);
  void** root = static_cast<void**>(obj->root);
  if (!root) return 0;
  if (obj->height == 1) {
    if (!leaf_shadow_only(root) || leaf_nid(root) != nid) return 0;
    obj->root = nullptr;
    free_shadow_leaf(h, root, nid);
    --*budget;
    return 1;
  }
  const uint64_t freed = reclaim_shadows_in(h, root, obj->height, nid, budget);
  if (node_empty(root)) {
    ctx_->slab->kfree(h, root);
    --stats_.tree_nodes;
    obj->root = nullptr;
  }
  return freed;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<ShmemStats> shmem_stat_table[] = {
    {"objects", &ShmemStats::objects, "shared-memory and hugetlb objects alive", "count"},
    {"objects_created", &ShmemStats::objects_created, "shared-memory and hugetlb objects created", "count"},
    {"pages", &ShmemStats::pages, "shared-memory pages held by objects", "pages"},
    {"faults", &ShmemStats::faults, "page lookups of shared-memory faults", "count"},
    {"tree_nodes", &ShmemStats::tree_nodes, "radix-tree nodes of the objects", "count"},
    {"swapped", &ShmemStats::swapped, "shared-memory pages in swap", "pages"},
};
static_assert(stat_table_size(shmem_stat_table) == sizeof(ShmemStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Shmem::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, shmem_stat_table);
}

}  // namespace fw
