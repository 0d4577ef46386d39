#include "sw/mm/mmap.h"

#include "sw/hal/uapi.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"
#include "sw/lib/printk.h"
#include "sw/mm/filemap.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/khugepaged.h"
#include "sw/mm/memory.h"
#include "sw/mm/mman.h"
#include "sw/mm/page-writeback.h"
#include "sw/mm/page.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/shmem.h"
#include "sw/mm/slub.h"
#include "sw/mm/tlb.h"

namespace fw {

namespace {

constexpr uint64_t kStackRlimit = 8ull << 20;            // RLIMIT_STACK default
constexpr uint64_t kStackGuardGap = 256ull << PAGE_SHIFT;  // stack_guard_gap
constexpr uint64_t kMinGap = 128ull << 20;
// The 47-bit window mmap places into unless a hint asks for more (LA57).
constexpr uint64_t kDefaultMapWindow = (1ull << 47) - PAGE_SIZE;
constexpr uint64_t kNone = ~0ull;

uint64_t calc_vm_prot_bits(uint64_t prot) {
  return ((prot & PROT_READ) ? VM_READ : 0) | ((prot & PROT_WRITE) ? VM_WRITE : 0) |
         ((prot & PROT_EXEC) ? VM_EXEC : 0);
}

uint64_t vma_pages(const vm_area_struct* v) { return (v->vm_end - v->vm_start) >> PAGE_SHIFT; }
vm_area_struct* vma_of(rb_node* n) { return n ? rb_entry(n, vm_area_struct, vm_rb) : nullptr; }
// prev and next may become one VMA: at most one of them has pages of its
// own anon_vma (the survivor then takes the other's, Linux
// is_mergeable_anon_vma).
bool can_merge_anon(const vm_area_struct* a, const vm_area_struct* b) {
  return !a->anon_vma || !b->anon_vma || a->anon_vma == b->anon_vma;
}

// The end of the VMA before v (0 for the first): v's gap is [that, vm_start).
uint64_t prev_end_of(const vm_area_struct* v) {
  const list_head* p = v->vm_list.prev;
  return p == &v->vm_mm->mmap ? 0 : list_entry(const_cast<list_head*>(p), vm_area_struct, vm_list)->vm_end;
}

bool gap_recompute(rb_node* n) {
  vm_area_struct* v = vma_of(n);
  uint64_t m = v->vm_start - prev_end_of(v);
  if (n->left && vma_of(n->left)->rb_subtree_gap > m) m = vma_of(n->left)->rb_subtree_gap;
  if (n->right && vma_of(n->right)->rb_subtree_gap > m) m = vma_of(n->right)->rb_subtree_gap;
  if (v->rb_subtree_gap == m) return false;
  v->rb_subtree_gap = m;
  return true;
}

// The highest [a, a+len) inside a gap of n's subtree and inside [low, high).
uint64_t search_topdown(rb_node* n, uint64_t len, uint64_t low, uint64_t high) {
  if (!n) return kNone;
  vm_area_struct* v = vma_of(n);
  if (v->rb_subtree_gap < len) return kNone;
  // Gaps of the right subtree lie above v.
  if (v->vm_end < high) {
    const uint64_t r = search_topdown(n->right, len, low, high);
    if (r != kNone) return r;
  }
  const uint64_t pe = prev_end_of(v);
  const uint64_t gs = max(pe, low), ge = min(v->vm_start, high);
  if (ge > gs && ge - gs >= len) return ge - len;
  // Gaps of the left subtree lie below pe.
  if (pe > low) return search_topdown(n->left, len, low, high);
  return kNone;
}

// The lowest one.
uint64_t search_bottomup(rb_node* n, uint64_t len, uint64_t low, uint64_t high) {
  if (!n) return kNone;
  vm_area_struct* v = vma_of(n);
  if (v->rb_subtree_gap < len) return kNone;
  const uint64_t pe = prev_end_of(v);
  if (pe > low) {
    const uint64_t r = search_bottomup(n->left, len, low, high);
    if (r != kNone) return r;
  }
  const uint64_t gs = max(pe, low), ge = min(v->vm_start, high);
  if (ge > gs && ge - gs >= len) return gs;
  if (v->vm_end < high) return search_bottomup(n->right, len, low, high);
  return kNone;
}

}  // namespace

// ---------------------------------------------------------------- mm_struct

mm_struct* Mmap::mm_alloc(hal::Hal& h) {
  mm_struct* mm = static_cast<mm_struct*>(ctx_->slab->kmem_cache_zalloc(h, ctx_->mm_cachep, GFP_KERNEL));
  if (!mm) return nullptr;
  PgTable& pt = *ctx_->pgtable;
  mm->pgd = pt.alloc_table(h, false);
  if (!mm->pgd) {
    ctx_->slab->kmem_cache_free(h, ctx_->mm_cachep, mm);
    return nullptr;
  }
  // Share the kernel half: copy the kernel root's upper entries (Linux
  // pgd_ctor). Kernel tables below them are never freed, so the copies
  // stay valid.
  const uint64_t kroot = ctx_->tlb->kernel_root();
  for (unsigned i = x86::PT_ENTRIES / 2; i < x86::PT_ENTRIES; ++i) {
    uint64_t e;
    if (pt.read_entry(h, kroot + 8ull * i, &e) && e) pt.write_entry(h, mm->pgd + 8ull * i, e);
  }
  INIT_LIST_HEAD(&mm->mmap);
  mm->mm_rb.node = nullptr;
  mm->mm_users = 1;
  mm->pgtables = 1;
  mm->pcid = ctx_->tlb->alloc_pcid();
  mm->id = next_mm_id_++;
  mm->tlb_gen = 1;  // cpu_tlb_gen[] == 0: never loaded anywhere
  mm->task_size = pt.user_top() - PAGE_SIZE;
  // Linux's mmap_base() without randomization: below the stack rlimit plus
  // the guard gap, at least 128 MiB and at most 5/6 of the space.
  const uint64_t window = min(kDefaultMapWindow, mm->task_size);
  uint64_t gap = kStackRlimit + kStackGuardGap;
  gap = max(gap, kMinGap);
  gap = min(gap, window / 6 * 5);
  mm->mmap_base = align_up(window - gap, PAGE_SIZE);
  mm->mmap_legacy_base = align_up(window / 3, PAGE_SIZE);  // TASK_UNMAPPED_BASE
  ++stats_.mm_created;
  return mm;
}

void Mmap::release_vma(hal::Hal& h, vm_area_struct* vma) {
  if ((vma->vm_flags & VM_PFNMAP) && ctx_->pfnmap_owner) ctx_->pfnmap_owner->pfnmap_close(h, vma);
  ctx_->rmap->unlink_anon_vmas(h, vma);  // a no-op when already unlinked
  if (vma->vm_obj) {
    ctx_->shmem->unlink_vma(h, vma);
    ctx_->shmem->put(h, vma->vm_obj);
    vma->vm_obj = nullptr;
  }
  if (vma->resv_pages) {
    ctx_->hugetlb->unreserve(h, vma->huge_shift, vma->resv_pages);
    vma->resv_pages = 0;
  }
  ctx_->slab->kmem_cache_free(h, ctx_->vma_cachep, vma);
}

void Mmap::mm_destroy(hal::Hal& h, mm_struct* mm) {
  // Linux exit_mmap's order: zap every page, unlink the VMAs from the
  // reverse map, then free the page tables and the VMAs.
  ctx_->khugepaged->exit_mm(h, mm);
  // khugepaged may be collapsing in it right now: wait for its lock (it is
  // off khugepaged's list from here on). Released with the mm.
  mm->mmap_lock.lock(h);
  ctx_->tlb->drop_mm(h, mm);
  ctx_->memory->exit_mmap_tables(h, mm);
  for_each_vma(mm, [&](vm_area_struct* v) {
    ctx_->rmap->unlink_anon_vmas(h, v);
    ctx_->shmem->unlink_vma(h, v);
    return true;
  });
  ctx_->memory->free_all_pgtables(h, mm);
  while (!list_empty(&mm->mmap)) {
    vm_area_struct* v = list_first_entry(&mm->mmap, vm_area_struct, vm_list);
    remove_vma(h, mm, v);
  }
  ctx_->tlb->free_pcid(mm->pcid);
  mm->mmap_lock.unlock();
  ctx_->slab->kmem_cache_free(h, ctx_->mm_cachep, mm);
  ++stats_.mm_destroyed;
}

// ---------------------------------------------------------------- the VMA tree

vm_area_struct* Mmap::find_vma(mm_struct* mm, uint64_t addr) {
  vm_area_struct* c = mm->mmap_cache;
  if (c && c->vm_start <= addr && addr < c->vm_end) return c;
  vm_area_struct* best = nullptr;
  for (rb_node* n = mm->mm_rb.node; n;) {
    vm_area_struct* v = vma_of(n);
    if (v->vm_end > addr) {
      best = v;
      if (v->vm_start <= addr) break;
      n = n->left;
    } else {
      n = n->right;
    }
  }
  if (best) mm->mmap_cache = best;
  return best;
}

vm_area_struct* Mmap::vma_prev(mm_struct* mm, vm_area_struct* v) {
  list_head* p = v ? v->vm_list.prev : mm->mmap.prev;
  return p == &mm->mmap ? nullptr : list_entry(p, vm_area_struct, vm_list);
}

vm_area_struct* Mmap::vma_next(mm_struct* mm, vm_area_struct* v) {
  list_head* p = v->vm_list.next;
  return p == &mm->mmap ? nullptr : list_entry(p, vm_area_struct, vm_list);
}

bool Mmap::intersects(mm_struct* mm, uint64_t start, uint64_t end) {
  vm_area_struct* v = find_vma(mm, start);
  return v && v->vm_start < end;
}

void Mmap::vma_gap_update(vm_area_struct* vma) { rb_propagate(&vma->vm_rb, gap_recompute); }

void Mmap::vma_link(mm_struct* mm, vm_area_struct* vma) {
  rb_node** link = &mm->mm_rb.node;
  rb_node* parent = nullptr;
  vm_area_struct* prev = nullptr;
  while (*link) {
    parent = *link;
    vm_area_struct* v = vma_of(parent);
    if (vma->vm_start < v->vm_start) {
      link = &parent->left;
    } else {
      prev = v;
      link = &parent->right;
    }
  }
  vma->vm_mm = mm;
  // The list first: the gaps are computed from it.
  list_add(&vma->vm_list, prev ? &prev->vm_list : &mm->mmap);
  rb_link_node(&vma->vm_rb, parent, link);
  rb_insert_color(&vma->vm_rb, &mm->mm_rb, gap_recompute);
  if (vm_area_struct* next = vma_next(mm, vma)) vma_gap_update(next);
  else mm->highest_vm_end = vma->vm_end;
  ++mm->map_count;
}

void Mmap::vma_unlink(mm_struct* mm, vm_area_struct* vma) {
  vm_area_struct* next = vma_next(mm, vma);
  vm_area_struct* prev = vma_prev(mm, vma);
  rb_erase(&vma->vm_rb, &mm->mm_rb, gap_recompute);
  list_del(&vma->vm_list);
  if (next) vma_gap_update(next);
  else mm->highest_vm_end = prev ? prev->vm_end : 0;
  if (mm->mmap_cache == vma) mm->mmap_cache = nullptr;
  --mm->map_count;
}

void Mmap::vma_set_end(mm_struct* mm, vm_area_struct* vma, uint64_t end) {
  vma->vm_end = end;
  if (vm_area_struct* next = vma_next(mm, vma)) vma_gap_update(next);
  else mm->highest_vm_end = end;
}

void Mmap::vma_set_start(mm_struct* mm, vm_area_struct* vma, uint64_t start) {
  (void)mm;
  vma->vm_start = start;
  vma_gap_update(vma);
}

void Mmap::remove_vma(hal::Hal& h, mm_struct* mm, vm_area_struct* vma) {
  vma_unlink(mm, vma);
  mm->total_vm -= vma_pages(vma);
  if (vma->vm_flags & VM_ACCOUNT) mm->committed -= vma_pages(vma);
  release_vma(h, vma);
}

const char* Mmap::validate(mm_struct* mm) {
  // The list: ordered, disjoint, counted; the tree: the same VMAs in the
  // same order; red-black properties; every subtree gap.
  int count = 0;
  uint64_t prev_end = 0;
  vm_area_struct* last = nullptr;
  rb_node* n = rb_first(&mm->mm_rb);
  for (list_head* p = mm->mmap.next; p != &mm->mmap; p = p->next) {
    vm_area_struct* v = list_entry(p, vm_area_struct, vm_list);
    if (v->vm_start >= v->vm_end) return "empty VMA";
    if (v->vm_start < prev_end) return "VMAs overlap or are out of order";
    if (!n || vma_of(n) != v) return "the tree and the list differ";
    if (v->vm_mm != mm) return "VMA of another mm";
    prev_end = v->vm_end;
    last = v;
    ++count;
    n = rb_next(n);
  }
  if (n) return "the tree has more VMAs than the list";
  if (count != mm->map_count) return "map_count wrong";
  if ((last ? last->vm_end : 0) != mm->highest_vm_end) return "highest_vm_end wrong";
  if (mm->mm_rb.node && mm->mm_rb.node->red) return "red root";
  // Black heights and gaps, bottom-up with an explicit check per node.
  struct Check {
    static int black_height(rb_node* x, const char** err) {
      if (!x) return 1;
      if (x->red && ((x->left && x->left->red) || (x->right && x->right->red))) *err = "red node with a red child";
      if (x->left && x->left->parent != x) *err = "broken parent link";
      if (x->right && x->right->parent != x) *err = "broken parent link";
      const int l = black_height(x->left, err), r = black_height(x->right, err);
      if (l != r) *err = "black heights differ";
      vm_area_struct* v = vma_of(x);
      uint64_t m = v->vm_start - prev_end_of(v);
      if (x->left && vma_of(x->left)->rb_subtree_gap > m) m = vma_of(x->left)->rb_subtree_gap;
      if (x->right && vma_of(x->right)->rb_subtree_gap > m) m = vma_of(x->right)->rb_subtree_gap;
      if (m != v->rb_subtree_gap) *err = "rb_subtree_gap wrong";
      return l + (x->red ? 0 : 1);
    }
  };
  const char* err = nullptr;
  Check::black_height(mm->mm_rb.node, &err);
  return err;
}

// ---------------------------------------------------------------- splits and merges

int Mmap::split_vma(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr) {
  if ((vma->vm_flags & VM_HUGETLB) && (addr & ((1ull << vma->huge_shift) - 1))) return -EINVAL;
  if (static_cast<uint64_t>(mm->map_count) >= ctx_->params->max_map_count) return -ENOMEM;
  // A huge page across the new boundary is split first (Linux
  // vma_adjust_trans_huge).
  if (addr & (HPAGE_PMD_SIZE - 1)) ctx_->huge_memory->split_huge_pmd_address(h, vma, addr);
  vm_area_struct* n = static_cast<vm_area_struct*>(ctx_->slab->kmem_cache_zalloc(h, ctx_->vma_cachep, GFP_KERNEL));
  if (!n) return -ENOMEM;
  INIT_LIST_HEAD(&n->anon_vma_chain);
  // The new part's pages belong to the same anon_vmas.
  if (ctx_->rmap->anon_vma_clone(h, n, vma)) {
    ctx_->slab->kmem_cache_free(h, ctx_->vma_cachep, n);
    return -ENOMEM;
  }
  n->vm_start = addr;
  n->vm_end = vma->vm_end;
  n->vm_flags = vma->vm_flags;
  n->vm_page_prot = vma->vm_page_prot;
  n->vm_pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
  n->huge_shift = vma->huge_shift;
  n->resv_owner = vma->resv_owner;
  if (vma->resv_pages) {
    // Private hugetlb reservations: each part keeps those of its pages
    // that are not faulted in.
    const uint64_t lower = (addr - vma->vm_start) >> vma->huge_shift;
    const uint64_t present = ctx_->hugetlb->count_present(h, vma, vma->vm_start, addr);
    const uint64_t keep = min(vma->resv_pages, lower - min(lower, present));
    n->resv_pages = vma->resv_pages - keep;
    vma->resv_pages = keep;
  }
  vma_set_end(mm, vma, addr);
  vma_link(mm, n);
  if (vma->vm_obj) {
    n->vm_obj = vma->vm_obj;
    ctx_->shmem->get(n->vm_obj);
    ctx_->shmem->link_vma(h, n);
  }
  ++stats_.vma_splits;
  return 0;
}

bool Mmap::can_merge(const vm_area_struct* a, const vm_area_struct* b) const {
  if (!a || !b || a->vm_end != b->vm_start || a->vm_flags != b->vm_flags) return false;
  if (a->vm_flags & (VM_HUGETLB | VM_PFNMAP)) return false;  // reservations, drivers' buffers stay per VMA
  if (a->vm_obj != b->vm_obj) return false;
  if (a->vm_pgoff + vma_pages(a) != b->vm_pgoff) return false;
  // Pages of both must stay reachable through the survivor's reverse map
  // (Linux is_mergeable_anon_vma; here only identical ones).
  return a->anon_vma == b->anon_vma;
}

vm_area_struct* Mmap::try_merge_next(hal::Hal& h, mm_struct* mm, vm_area_struct* vma) {
  vm_area_struct* next = vma_next(mm, vma);
  if (!can_merge(vma, next)) return vma;
  const uint64_t end = next->vm_end;
  vma_unlink(mm, next);
  vma_set_end(mm, vma, end);
  release_vma(h, next);  // its pages are vma's now: no counters change
  ++stats_.vma_merges;
  return vma;
}

vm_area_struct* Mmap::vma_modify_flags(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end,
                                       uint64_t new_flags, int* err) {
  *err = 0;
  if (vma->vm_start < start) {
    if ((*err = split_vma(h, mm, vma, start))) return nullptr;
    vma = vma_next(mm, vma);
  }
  if (vma->vm_end > end) {
    if ((*err = split_vma(h, mm, vma, end))) return nullptr;
  }
  vma->vm_flags = new_flags;
  vma->vm_page_prot = vm_get_page_prot(new_flags, ctx_->pgtable->nx_bit() != 0);
  vm_area_struct* prev = vma_prev(mm, vma);
  if (prev && can_merge(prev, vma)) vma = try_merge_next(h, mm, prev);
  return try_merge_next(h, mm, vma);
}

// ---------------------------------------------------------------- placement

uint64_t Mmap::unmapped_area_topdown(mm_struct* mm, uint64_t len, uint64_t low, uint64_t high, uint64_t align) {
  // Room for the length plus any misalignment (Linux: length + align_mask).
  const uint64_t length = len + (align > PAGE_SIZE ? align - PAGE_SIZE : 0);
  if (length < len || high < low || high - low < length) return kNone;
  // The gap above the last VMA first, then the tree.
  uint64_t gs = max(mm->highest_vm_end, low), ge = high;
  uint64_t a = kNone;
  if (ge > gs && ge - gs >= length) {
    a = ge - length;
  } else {
    a = search_topdown(mm->mm_rb.node, length, low, high);
    if (a == kNone) return kNone;
  }
  // The highest aligned address in [a, a + length - len].
  return align > PAGE_SIZE ? align_down(a + length - len, align) : a;
}

uint64_t Mmap::unmapped_area_bottomup(mm_struct* mm, uint64_t len, uint64_t low, uint64_t high, uint64_t align) {
  const uint64_t length = len + (align > PAGE_SIZE ? align - PAGE_SIZE : 0);
  if (length < len || high < low || high - low < length) return kNone;
  uint64_t a = search_bottomup(mm->mm_rb.node, length, low, high);
  if (a == kNone) {
    const uint64_t gs = max(mm->highest_vm_end, low);
    if (high <= gs || high - gs < length) return kNone;
    a = gs;
  }
  return align > PAGE_SIZE ? align_up(a, align) : a;
}

int64_t Mmap::get_unmapped_area(mm_struct* mm, uint64_t addr, uint64_t len, uint64_t flags, uint64_t align) {
  const uint64_t task_size = mm->task_size;
  if (len > task_size) return -ENOMEM;
  if (!(flags & MAP_FIXED)) {
    // A hint is taken when the range there is free (x86
    // arch_get_unmapped_area_topdown).
    bool placed = false;
    if (addr) {
      addr = align > PAGE_SIZE && (flags & MAP_HUGETLB) ? align_up(addr, align) : (addr & PAGE_MASK);
      const bool valid = addr && task_size - len >= addr &&
                         ((addr > kDefaultMapWindow) == (addr + len > kDefaultMapWindow));
      if (valid && !intersects(mm, addr, addr + len)) placed = true;
      // THP alignment is for mappings placed by the kernel only.
      if (!(flags & MAP_HUGETLB)) align = PAGE_SIZE;
    }
    if (!placed) {
      // A hint above the 47-bit window opens the rest of the address space
      // (LA57): the top-down search then starts as far above mmap_base as
      // TASK_SIZE_MAX is above the window, and the bottom-up fallback ends
      // at TASK_SIZE_MAX (x86 arch_get_unmapped_area_topdown, find_start_end).
      // With 4 levels task_size is the window: nothing changes.
      const bool high = addr > kDefaultMapWindow;
      const uint64_t extra = task_size > kDefaultMapWindow ? task_size - kDefaultMapWindow : 0;
      addr = unmapped_area_topdown(mm, len, PAGE_SIZE, mm->mmap_base + (high ? extra : 0), align);
      if (addr == kNone)
        addr = unmapped_area_bottomup(mm, len, mm->mmap_legacy_base, high ? task_size : min(task_size, kDefaultMapWindow),
                                      align);
      if (addr == kNone) return -ENOMEM;
    }
  }
  if (addr > task_size - len) return -ENOMEM;
  if (addr & ~PAGE_MASK) return -EINVAL;
  if (addr < ctx_->params->mmap_min_addr) return -EPERM;  // security_mmap_addr
  return static_cast<int64_t>(addr);
}

// ---------------------------------------------------------------- mmap

vm_area_struct* Mmap::vma_merge_new_range(hal::Hal& h, mm_struct* mm, uint64_t addr, uint64_t end, uint64_t vm_flags) {
  vm_area_struct* next = find_vma(mm, addr);
  vm_area_struct* prev = vma_prev(mm, next);
  const bool merge_prev = prev && prev->vm_end == addr && prev->vm_flags == vm_flags && !prev->vm_obj &&
                          prev->vm_pgoff + vma_pages(prev) == (addr >> PAGE_SHIFT);
  bool merge_next = next && next->vm_start == end && next->vm_flags == vm_flags && !next->vm_obj &&
                    next->vm_pgoff == (end >> PAGE_SHIFT);
  if (merge_prev && merge_next && !can_merge_anon(prev, next)) merge_next = false;
  if (merge_prev) {
    vma_set_end(mm, prev, end);
    ++stats_.vma_merges;
    if (merge_next && !prev->anon_vma && next->anon_vma && ctx_->rmap->anon_vma_clone(h, prev, next))
      merge_next = false;
    if (merge_next) {
      const uint64_t nend = next->vm_end;
      vma_unlink(mm, next);
      vma_set_end(mm, prev, nend);
      release_vma(h, next);
      ++stats_.vma_merges;
    }
    return prev;
  }
  if (merge_next) {
    vma_set_start(mm, next, addr);
    next->vm_pgoff = addr >> PAGE_SHIFT;
    ++stats_.vma_merges;
    return next;
  }
  return nullptr;
}

namespace {

// An open file allows the mapping (Linux do_mmap's FMODE checks): read
// access always, write access for shared writable mappings.
bool file_may_map(const file* f, uint64_t type, uint64_t prot) {
  const uint64_t acc = f->f_flags & 3;
  if (acc == uapi::kOWronly) return false;
  return !((type == MAP_SHARED || type == MAP_SHARED_VALIDATE) && (prot & PROT_WRITE) && acc == uapi::kORdonly);
}

}  // namespace

int64_t Mmap::do_mmap(hal::Hal& h, mm_struct* mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                      int64_t fd, uint64_t off, const file* f) {
  (void)fd;
  // The checks in Linux's order: sys_mmap, ksys_mmap_pgoff, do_mmap.
  int64_t err = 0;
  const uint64_t type = flags & MAP_TYPE;
  unsigned huge_shift = 0;
  if (flags & MAP_ANONYMOUS) f = nullptr;  // the fd is ignored
  if (off & ~PAGE_MASK) err = -EINVAL;
  else if (!(flags & MAP_ANONYMOUS) && !f) err = -EBADF;
  else if (f && (flags & MAP_HUGETLB)) err = -EINVAL;
  else if (f && !file_may_map(f, type, prot)) err = -EACCES;
  else if (flags & MAP_HUGETLB) {
    huge_shift = ctx_->hugetlb->shift_from_mmap_flags(flags);
    if (!huge_shift) err = -EINVAL;  // no such huge page size
    else len = align_up(len, 1ull << huge_shift);  // Linux rounds hugetlb lengths up
  }
  if (!err && !len) err = -EINVAL;
  if (!err && type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE) err = -EINVAL;
  if (err) {
    ++stats_.mmap_failed;
    return err;
  }
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  if (!(flags & MAP_FIXED)) {
    addr &= PAGE_MASK;  // round_hint_to_min
    if (addr && addr < ctx_->params->mmap_min_addr) addr = align_up(ctx_->params->mmap_min_addr, PAGE_SIZE);
  }
  const uint64_t alen = align_up(len, PAGE_SIZE);
  if (alen < len || !alen) {
    ++stats_.mmap_failed;
    return -ENOMEM;
  }
  len = alen;
  const uint64_t pgoff = off >> PAGE_SHIFT;
  if (pgoff + (len >> PAGE_SHIFT) < pgoff) {
    ++stats_.mmap_failed;
    return -EOVERFLOW;
  }
  // Alignment: hugetlb to its page size; anonymous mappings of whole 2 MiB
  // multiples to 2 MiB while THP may apply.
  uint64_t align = PAGE_SIZE;
  if (huge_shift) {
    align = 1ull << huge_shift;
    if ((flags & MAP_FIXED) && (addr & (align - 1))) {
      ++stats_.mmap_failed;
      return -EINVAL;
    }
  } else if (!f && ctx_->params->transparent_hugepage != THP_NEVER && is_aligned(len, HPAGE_PMD_SIZE)) {
    align = HPAGE_PMD_SIZE;
  }

  LockGuard g(mm->mmap_lock, h);
  if (static_cast<uint64_t>(mm->map_count) > ctx_->params->max_map_count) err = -ENOMEM;
  int64_t a = err ? err : get_unmapped_area(mm, addr, len, flags, align);
  if (a >= 0 && (flags & MAP_FIXED_NOREPLACE) && intersects(mm, static_cast<uint64_t>(a), static_cast<uint64_t>(a) + len))
    a = -EEXIST;
  if (a < 0) {
    ++stats_.mmap_failed;
    return a;
  }
  addr = static_cast<uint64_t>(a);

  // MAP_FIXED replaces whatever was there.
  if (intersects(mm, addr, addr + len)) {
    const int r = munmap_locked(h, mm, addr, addr + len);
    if (r) {
      ++stats_.mmap_failed;
      return r;
    }
  }
  return mmap_region(h, mm, addr, len, prot, flags, huge_shift, f, pgoff);
}

int64_t Mmap::mmap_region(hal::Hal& h, mm_struct* mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                          unsigned huge_shift, const file* f, uint64_t pgoff) {
  const uint64_t end = addr + len;
  const bool shared = (flags & MAP_TYPE) != MAP_PRIVATE;
  uint64_t vm_flags = calc_vm_prot_bits(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (shared) vm_flags |= VM_SHARED | VM_MAYSHARE;
  if (flags & MAP_NORESERVE) vm_flags |= VM_NORESERVE;
  if (huge_shift) vm_flags |= VM_HUGETLB;
  // Private writable memory is committed (Committed_AS); hugetlb has its pool.
  if ((vm_flags & VM_WRITE) && !shared && !huge_shift && !(flags & MAP_NORESERVE)) vm_flags |= VM_ACCOUNT;
  const uint64_t page_prot = vm_get_page_prot(vm_flags, ctx_->pgtable->nx_bit() != 0);

  // Shared memory: its object. Hugetlb: its reservation (a fault must
  // never find the pool empty).
  address_space* obj = nullptr;
  uint64_t resv = 0;
  if (huge_shift && !(flags & MAP_NORESERVE)) {
    resv = len >> huge_shift;
    if (ctx_->hugetlb->reserve(h, huge_shift, resv)) {
      ++stats_.mmap_failed;
      return -ENOMEM;
    }
  }
  if (f) {
    obj = f->f_inode->i_mapping;  // the file's page cache (Linux vm_file->f_mapping)
    ctx_->shmem->get(obj);
  } else if (shared) {
    obj = huge_shift ? ctx_->shmem->create(h, MappingKind::hugetlb, huge_shift, len >> huge_shift)
                     : ctx_->shmem->create(h, MappingKind::shmem, PAGE_SHIFT, len >> PAGE_SHIFT);
    if (!obj) {
      if (resv) ctx_->hugetlb->unreserve(h, huge_shift, resv);
      ++stats_.mmap_failed;
      return -ENOMEM;
    }
    if (obj) obj->resv = resv;
  }

  // Private anonymous memory merges with alike neighbours.
  vm_area_struct* vma = !obj && !huge_shift ? vma_merge_new_range(h, mm, addr, end, vm_flags) : nullptr;
  if (!vma) {
    vma = static_cast<vm_area_struct*>(ctx_->slab->kmem_cache_zalloc(h, ctx_->vma_cachep, GFP_KERNEL));
    if (!vma) {
      if (obj) ctx_->shmem->put(h, obj);
      else if (resv) ctx_->hugetlb->unreserve(h, huge_shift, resv);
      ++stats_.mmap_failed;
      return -ENOMEM;
    }
    INIT_LIST_HEAD(&vma->anon_vma_chain);
    vma->vm_start = addr;
    vma->vm_end = end;
    vma->vm_flags = vm_flags;
    vma->vm_page_prot = page_prot;
    vma->vm_pgoff = f ? pgoff : obj ? 0 : addr >> PAGE_SHIFT;
    vma->huge_shift = static_cast<uint8_t>(huge_shift);
    if (huge_shift && !obj) {
      vma->resv_owner = true;
      vma->resv_pages = resv;
    }
    vma_link(mm, vma);
    if (obj) {
      vma->vm_obj = obj;  // the reference create() gave
      ctx_->shmem->link_vma(h, vma);
    }
  }
  mm->total_vm += len >> PAGE_SHIFT;
  if (vm_flags & VM_ACCOUNT) mm->committed += len >> PAGE_SHIFT;
  ++stats_.mmap_ok;
  ctx_->khugepaged->enter_vma(h, vma);
  if (flags & MAP_POPULATE) {
    // Errors do not fail the mmap (Linux mm_populate ignores them).
    if (populate(h, mm, addr, end, false, false)) ++stats_.populate_failed;
  }
  return static_cast<int64_t>(addr);
}

int Mmap::do_msync(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t len, uint64_t flags) {
  // Linux's checks: known flags, not both ASYNC and SYNC, an aligned start.
  if ((flags & ~(uapi::kMsAsync | uapi::kMsInvalidate | uapi::kMsSync)) || (start & ~PAGE_MASK)) return -EINVAL;
  if ((flags & uapi::kMsAsync) && (flags & uapi::kMsSync)) return -EINVAL;
  const uint64_t end = start + align_up(len, PAGE_SIZE);
  if (end < start) return -ENOMEM;
  int err = 0;
  bool hole = false;
  LockGuard g(mm->mmap_lock, h);
  uint64_t at = start;
  while (at < end) {
    vm_area_struct* vma = find_vma(mm, at);
    if (!vma || vma->vm_start >= end) {
      hole = true;
      break;
    }
    if (vma->vm_start > at) hole = true;
    const uint64_t s = max(at, vma->vm_start), e = min(end, vma->vm_end);
    address_space* obj = vma->vm_obj;
    if ((flags & uapi::kMsSync) && obj && obj->kind == MappingKind::file && (vma->vm_flags & VM_SHARED)) {
      const uint64_t first = linear_page_index(vma, s), last = linear_page_index(vma, e);
      const int rc = ctx_->writeback->sync_range(h, obj->host, first, last);
      if (rc && !err) err = rc;
    }
    at = e;
  }
  if (err) return err;
  return hole ? -ENOMEM : 0;
}

int64_t Mmap::mmap_pfn(hal::Hal& h, mm_struct* mm, uint64_t pa, uint64_t len) {
  LockGuard g(mm->mmap_lock, h);
  const int64_t a = get_unmapped_area(mm, 0, len, MAP_SHARED, PAGE_SIZE);
  if (a < 0) return a;
  const uint64_t addr = static_cast<uint64_t>(a);
  auto* vma = static_cast<vm_area_struct*>(ctx_->slab->kmem_cache_zalloc(h, ctx_->vma_cachep, GFP_KERNEL));
  if (!vma) return -ENOMEM;
  INIT_LIST_HEAD(&vma->anon_vma_chain);
  vma->vm_start = addr;
  vma->vm_end = addr + len;
  vma->vm_flags = VM_READ | VM_WRITE | VM_SHARED | VM_MAYREAD | VM_MAYWRITE | VM_MAYSHARE | VM_PFNMAP | VM_IO |
                  VM_DONTCOPY | VM_DONTEXPAND;
  vma->vm_page_prot = vm_get_page_prot(vma->vm_flags, ctx_->pgtable->nx_bit() != 0);
  vma->vm_pgoff = pa >> PAGE_SHIFT;
  vma_link(mm, vma);
  mm->total_vm += len >> PAGE_SHIFT;
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    if (ctx_->pgtable->map(h, mm->pgd, addr + off, pa + off, x86::LEVEL_PT, vma->vm_page_prot | x86::PTE_D, _PAGE_TABLE,
                           false)) {
      munmap_locked(h, mm, addr, addr + len);
      return -ENOMEM;
    }
  }
  ++stats_.mmap_ok;
  return a;
}

int Mmap::populate(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, bool write, bool madvise) {
  for (uint64_t addr = start; addr < end;) {
    vm_area_struct* vma = find_vma(mm, addr);
    if (!vma || vma->vm_start > addr) return -ENOMEM;  // a hole
    const uint64_t e = min(end, vma->vm_end);
    if (vma->vm_flags & VM_PFNMAP) {  // mapped whole already (Linux: VM_PFNMAP is not populated)
      if (madvise) return -EINVAL;
      addr = e;
      continue;
    }
    bool w = write;
    if (madvise) {
      // Linux faultin_vma_page_range: incompatible permissions are EINVAL.
      if (write && !(vma->vm_flags & VM_WRITE)) return -EINVAL;
      if (!(vma->vm_flags & VM_ACCESS_FLAGS)) return -EINVAL;
    } else {
      // mmap: writes break copy-on-write in private writable mappings.
      if (!(vma->vm_flags & VM_ACCESS_FLAGS)) {
        addr = e;
        continue;
      }
      w = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
    }
    const int r = ctx_->memory->populate_range(h, mm, vma, addr, e, w);
    if (r) return r;
    addr = e;
  }
  return 0;
}

// ---------------------------------------------------------------- munmap

int Mmap::munmap_locked(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end) {
  vm_area_struct* vma = find_vma(mm, start);
  if (!vma || vma->vm_start >= end) return 0;
  // Hugetlb VMAs split only at their page size.
  if ((vma->vm_flags & VM_HUGETLB) && vma->vm_start < start && (start & ((1ull << vma->huge_shift) - 1)))
    return -EINVAL;
  vm_area_struct* last = find_vma(mm, end - 1);
  // A driver's buffer goes whole or not at all (departure: Linux splits it).
  if (((vma->vm_flags & VM_PFNMAP) && vma->vm_start < start) ||
      (last && (last->vm_flags & VM_PFNMAP) && last->vm_start < end && last->vm_end > end))
    return -EINVAL;
  if (last && last->vm_start < end && last->vm_end > end && (last->vm_flags & VM_HUGETLB) &&
      (end & ((1ull << last->huge_shift) - 1)))
    return -EINVAL;
  // Split the VMAs that straddle the range's ends.
  if (vma->vm_start < start) {
    // A split in the middle of one VMA leaves one more than before.
    if (vma->vm_end > end && static_cast<uint64_t>(mm->map_count) >= ctx_->params->max_map_count) return -ENOMEM;
    const int r = split_vma(h, mm, vma, start);
    if (r) return r;
    vma = vma_next(mm, vma);
  }
  last = find_vma(mm, end - 1);
  if (last && last->vm_start < end && last->vm_end > end) {
    const int r = split_vma(h, mm, last, end);
    if (r) return r;
  }
  // Neighbours bound the page tables that may go (free_pgtables).
  vm_area_struct* before = vma_prev(mm, vma);
  const uint64_t floor = before ? before->vm_end : 0;
  // Detach the VMAs of the range.
  list_head detached;
  INIT_LIST_HEAD(&detached);
  while (vma && vma->vm_start < end) {
    vm_area_struct* nx = vma_next(mm, vma);
    vma_unlink(mm, vma);
    list_add_tail(&vma->vm_list, &detached);
    vma = nx;
  }
  const uint64_t ceiling = vma ? vma->vm_start : ctx_->pgtable->user_top();
  // Linux's unmap_region: zap, unlink from the reverse map, free the
  // tables, flush, free the pages; then the VMAs.
  ctx_->memory->unmap_region(h, mm, start, end, floor, ceiling, &detached);
  while (!list_empty(&detached)) {
    vm_area_struct* v = list_first_entry(&detached, vm_area_struct, vm_list);
    list_del(&v->vm_list);
    mm->total_vm -= vma_pages(v);
    if (v->vm_flags & VM_ACCOUNT) mm->committed -= vma_pages(v);
    release_vma(h, v);
  }
  return 0;
}

int Mmap::do_munmap(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t len) {
  // Linux do_vmi_munmap's checks.
  if ((start & ~PAGE_MASK) || start > mm->task_size || len > mm->task_size - start) {
    ++stats_.munmap_failed;
    return -EINVAL;
  }
  len = align_up(len, PAGE_SIZE);
  if (!len) {
    ++stats_.munmap_failed;
    return -EINVAL;
  }
  LockGuard g(mm->mmap_lock, h);
  const int r = munmap_locked(h, mm, start, start + len);
  if (r) ++stats_.munmap_failed;
  else ++stats_.munmap_ok;
  return r;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<MmapStats> mmap_stat_table[] = {
    {"mmap_ok", &MmapStats::mmap_ok, "successful mmap calls", "count"},
    {"mmap_failed", &MmapStats::mmap_failed, "failed mmap calls", "count"},
    {"munmap_ok", &MmapStats::munmap_ok, "successful munmap calls", "count"},
    {"munmap_failed", &MmapStats::munmap_failed, "failed munmap calls", "count"},
    {"vma_merges", &MmapStats::vma_merges, "mappings merged into a neighbouring VMA", "count"},
    {"vma_splits", &MmapStats::vma_splits, "VMAs split", "count"},
    {"mm_created", &MmapStats::mm_created, "address spaces created", "count"},
    {"mm_destroyed", &MmapStats::mm_destroyed, "address spaces destroyed", "count"},
    {"populate_failed", &MmapStats::populate_failed, "MAP_POPULATE mappings that could not be faulted in completely", "count"},
};
static_assert(stat_table_size(mmap_stat_table) == sizeof(MmapStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Mmap::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, mmap_stat_table);
}

}  // namespace fw
