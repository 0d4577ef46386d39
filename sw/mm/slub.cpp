#include "sw/mm/slub.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/format.h"
#include "sw/lib/printk.h"
#include "sw/lib/seq_file.h"
#include "sw/lib/string.h"
#include "sw/mm/internal.h"
#include "sw/mm/memblock.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pgtable.h"

namespace fw {

namespace {
constexpr unsigned MIN_PARTIAL = 5;
constexpr unsigned MAX_PARTIAL = 10;
constexpr unsigned MAX_OBJS_PER_PAGE = 32767;

bool kmem_cache_debug(const kmem_cache* s) { return s->flags & SLAB_DEBUG_FLAGS; }

unsigned order_objects(unsigned order, unsigned size) { return static_cast<unsigned>((PAGE_SIZE << order) / size); }

// Linux calc_slab_order: the smallest order in [min, max] whose leftover is
// at most 1/fract of the slab.
unsigned calc_slab_order(unsigned size, unsigned min_order, unsigned max_order, unsigned fract) {
  unsigned order = min_order;
  for (; order <= max_order; ++order) {
    const unsigned slab_size = static_cast<unsigned>(PAGE_SIZE << order);
    if (slab_size % size <= slab_size / fract) break;
  }
  return order;
}

const char* const kKmallocNames[KMALLOC_SHIFT_HIGH + 1] = {
    nullptr, "96", "192", "8", "16", "32", "64", "128", "256", "512", "1k", "2k", "4k", "8k",
};
const unsigned kKmallocSizes[KMALLOC_SHIFT_HIGH + 1] = {0, 96, 192, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};
}  // namespace

unsigned Slab::kmalloc_index(size_t size) {
  if (size <= 8) return 3;
  if (size <= 16) return 4;
  if (size <= 32) return 5;
  if (size <= 64) return 6;
  if (size <= 96) return 1;
  if (size <= 128) return 7;
  if (size <= 192) return 2;
  if (size <= 256) return 8;
  if (size <= 512) return 9;
  if (size <= 1024) return 10;
  if (size <= 2048) return 11;
  if (size <= 4096) return 12;
  return 13;
}

bool Slab::alloc_percpu(hal::Hal& h, Memblock& mb) {
  const uint64_t bytes = align_up(static_cast<uint64_t>(kMaxCaches) * ctx_->nodes->nr_cpus() * sizeof(kmem_cache_cpu), PAGE_SIZE);
  const uint64_t pa = mb.alloc_range(bytes, PAGE_SIZE, 0, ~0ull, NUMA_NO_NODE);
  void* host = pa ? h.direct_map(pa, bytes) : nullptr;
  if (!host) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "slub: no memory for the per-CPU slab pointers");
    return false;
  }
  mem_set(host, 0, bytes);
  percpu_ = static_cast<kmem_cache_cpu*>(host);
  return true;
}

bool Slab::calculate_sizes(kmem_cache* s) {
  const uint32_t flags = s->flags;
  uint32_t size = static_cast<uint32_t>(align_up(s->object_size, sizeof(void*)));
  // A right red zone even when the object fills its words.
  if ((flags & SLAB_RED_ZONE) && size == s->object_size) size += sizeof(void*);
  s->inuse = size;
  // The free pointer goes after the object when the object's bytes must be
  // kept: constructed state, poison, red zones.
  if ((flags & (SLAB_POISON | SLAB_RED_ZONE)) || s->ctor) {
    s->offset = size;
    size += sizeof(void*);
  } else {
    s->offset = static_cast<uint32_t>(align_down(s->object_size / 2, sizeof(void*)));
  }
  if (flags & SLAB_STORE_USER) size += 2 * sizeof(slab_track);
  s->red_left_pad = 0;
  if (flags & SLAB_RED_ZONE) {
    // Padding that catches overwrites from the previous object, and the
    // left red zone.
    size += sizeof(void*);
    s->red_left_pad = static_cast<uint32_t>(align_up(sizeof(void*), s->align));
    size += s->red_left_pad;
  }
  size = static_cast<uint32_t>(align_up(size, s->align));
  s->size = size;

  // Linux calculate_order: aim at min_objects per slab, accept growing waste.
  const Params& p = *ctx_->params;
  unsigned min_objects = p.slub_min_objects;
  // Linux: 4 * (fls(cpus) + 1), fls counting from 1.
  if (!min_objects) min_objects = 4 * (fls64(max(1u, ctx_->nodes->nr_cpus())) + 1 + 1);
  const unsigned max_order = p.slub_max_order;
  const unsigned max_objects = max(order_objects(max_order, size), 1u);
  min_objects = min(min_objects, max_objects);
  unsigned min_order = max<unsigned>(p.slub_min_order, get_order(static_cast<uint64_t>(min_objects) * size));
  unsigned order = MAX_PAGE_ORDER + 1;
  if (order_objects(min_order, size) > MAX_OBJS_PER_PAGE) {
    order = get_order(static_cast<uint64_t>(size) * MAX_OBJS_PER_PAGE) - 1;
  } else {
    for (unsigned fraction = 16; fraction > 1; fraction /= 2) {
      const unsigned o = calc_slab_order(size, min_order, max_order, fraction);
      if (o <= max_order) {
        order = o;
        break;
      }
    }
    if (order > max_order) order = get_order(size);
  }
  if (order > MAX_PAGE_ORDER) return false;
  s->order = order;
  s->objects = order_objects(order, size);
  s->min_order = get_order(size);
  if (!s->objects) return false;
  // Keep a few partial slabs per node: more for larger objects.
  s->min_partial = min(MAX_PARTIAL, max(MIN_PARTIAL, fls64(size) / 2));
  return true;
}

kmem_cache* Slab::kmem_cache_create(const char* name, size_t size, size_t align, uint32_t flags, void (*ctor)(void*)) {
  if (!size || size > (PAGE_SIZE << MAX_PAGE_ORDER) / 2) return nullptr;
  unsigned idx = 0;
  while (idx < kMaxCaches && caches_[idx].in_use) ++idx;
  if (idx == kMaxCaches || !percpu_) return nullptr;
  kmem_cache* s = &caches_[idx];
  *s = kmem_cache{};
  str_copy(s->name, name, sizeof s->name);
  s->flags = flags | (ctx_->params->slub_debug & SLAB_DEBUG_FLAGS);
  s->object_size = static_cast<uint32_t>(size);
  s->ctor = ctor;
  // Linux calculate_alignment: cache-line alignment shrinks for small objects.
  uint64_t a = align ? align : sizeof(void*);
  if (flags & SLAB_HWCACHE_ALIGN) {
    uint64_t ralign = 64;
    while (size <= ralign / 2) ralign /= 2;
    a = max(a, ralign);
  }
  s->align = static_cast<uint32_t>(align_up(max<uint64_t>(a, sizeof(void*)), sizeof(void*)));
  if (!calculate_sizes(s)) return nullptr;
  s->allocflags = 0;
  if (s->order) s->allocflags |= __GFP_COMP;
  if (flags & SLAB_CACHE_DMA) s->allocflags |= __GFP_DMA;
  if (flags & SLAB_RECLAIM_ACCOUNT) s->allocflags |= __GFP_RECLAIMABLE;
  s->cpu_slab = percpu_ + static_cast<uint64_t>(idx) * ctx_->nodes->nr_cpus();
  for (unsigned c = 0; c < ctx_->nodes->nr_cpus(); ++c) s->cpu_slab[c] = kmem_cache_cpu{nullptr, nullptr};
  for (unsigned n = 0; n < hal::kMaxNodes; ++n) {
    INIT_LIST_HEAD(&s->node[n].partial);
    INIT_LIST_HEAD(&s->node[n].full);
  }
  s->in_use = true;
  return s;
}

bool Slab::kmem_cache_init(hal::Hal& h) {
  static const char* const prefix[NR_KMALLOC_TYPES] = {"kmalloc-", "kmalloc-rcl-", "dma-kmalloc-"};
  static const uint32_t tflags[NR_KMALLOC_TYPES] = {0, SLAB_RECLAIM_ACCOUNT, SLAB_CACHE_DMA};
  for (unsigned t = 0; t < NR_KMALLOC_TYPES; ++t)
    for (unsigned i = 1; i <= KMALLOC_SHIFT_HIGH; ++i) {
      char name[32];
      fw::snprintf(name, sizeof name, "%s%s", prefix[t], kKmallocNames[i]);
      // kmalloc guarantees natural alignment for power-of-two sizes.
      const unsigned size = kKmallocSizes[i];
      const size_t align = is_power_of_2(size) ? size : sizeof(void*);
      kmem_cache* s = kmem_cache_create(name, size, align > PAGE_SIZE ? PAGE_SIZE : align, tflags[t] | SLAB_KMALLOC, nullptr);
      if (!s) {
        ctx_->log->printk(h, LOGLEVEL_ERR, "slub: cannot create %s", name);
        return false;
      }
      kmalloc_caches_[t][i] = s;
    }
  return true;
}

kmem_cache* Slab::kmalloc_cache(size_t size, gfp_t gfp) const {
  const unsigned t = (gfp & __GFP_DMA) ? KMALLOC_DMA : (gfp & __GFP_RECLAIMABLE) ? KMALLOC_RECLAIM : KMALLOC_NORMAL;
  return kmalloc_caches_[t][kmalloc_index(size)];
}

kmem_cache* Slab::find_cache(const char* name) {
  for (unsigned i = 0; i < kMaxCaches; ++i)
    if (caches_[i].in_use && str_eq(caches_[i].name, name)) return &caches_[i];
  return nullptr;
}

uint64_t Slab::nr_slabs(const kmem_cache* s) const {
  uint64_t n = 0;
  for (unsigned i = 0; i < hal::kMaxNodes; ++i) n += s->node[i].nr_slabs;
  return n;
}

uint64_t Slab::total_objects(const kmem_cache* s) const {
  uint64_t n = 0;
  for (unsigned i = 0; i < hal::kMaxNodes; ++i) n += s->node[i].total_objects;
  return n;
}

// ---------------------------------------------------------------- slabs

page* Slab::new_slab(hal::Hal& h, kmem_cache* s, gfp_t gfp, int nid) {
  PageAlloc& pa = *ctx_->page_alloc;
  MmNodes& nodes = *ctx_->nodes;
  const gfp_t keep = gfp & (__GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HIGH | __GFP_THISNODE | __GFP_NOFAIL |
                            __GFP_NORETRY | __GFP_NOWARN | __GFP_NOMEMALLOC);
  for (int tries = 0; tries < 4; ++tries) {
    unsigned order = s->order;
    // The preferred order opportunistically, then the smallest that fits.
    page* p = pa.alloc_pages(h, ((keep | s->allocflags | __GFP_NOWARN | __GFP_NORETRY) & ~__GFP_NOFAIL), order, nid);
    if (!p && s->min_order < s->order) {
      order = s->min_order;
      p = pa.alloc_pages(h, keep | (s->allocflags & ~__GFP_COMP) | (order ? __GFP_COMP : 0), order, nid);
    }
    if (!p) return nullptr;
    const uint64_t phys = nodes.page_to_phys(p);
    char* base = static_cast<char*>(h.direct_map(phys, PAGE_SIZE << order));
    if (!base || base != nodes.page_address(p)) {
      // Not directly mappable (poison): keep the bad pages out, try again.
      for (uint64_t i = 0; i < (1ull << order); ++i)
        if (!h.direct_map(phys + i * PAGE_SIZE, PAGE_SIZE) && !PageHWPoison(p + i)) {
          SetPageHWPoison(p + i);
          ctx_->vmstat->mod(page_to_nid(p), NR_HWPOISON, 1);
        }
      pa.free_pages(h, p, order);
      continue;
    }
    SetPageFlag(p, PG_slab);
    p->slab_cache = s;
    p->objects = static_cast<uint16_t>(order_objects(order, s->size));
    p->inuse = 0;
    p->frozen = 1;
    void* next = nullptr;
    for (unsigned i = p->objects; i-- > 0;) {
      void* obj = base + static_cast<uint64_t>(i) * s->size + s->red_left_pad;
      if (kmem_cache_debug(s)) init_object(s, obj, SLUB_RED_INACTIVE);
      if (s->ctor) s->ctor(obj);
      set_freepointer(s, obj, next);
      next = obj;
    }
    p->freelist = next;
    kmem_cache_node& n = s->node[page_to_nid(p)];
    {
      LockGuard g(n.list_lock, h);
      ++n.nr_slabs;
      n.total_objects += p->objects;
    }
    ctx_->vmstat->mod(page_to_nid(p), (s->flags & SLAB_RECLAIM_ACCOUNT) ? NR_SLAB_RECLAIMABLE : NR_SLAB_UNRECLAIMABLE,
                      static_cast<int64_t>(1ull << order));
    ++s->stats.alloc_slab;
    return p;
  }
  return nullptr;
}

void Slab::discard_slab(hal::Hal& h, kmem_cache* s, page* slab) {
  const unsigned order = compound_order(slab);
  kmem_cache_node& n = s->node[page_to_nid(slab)];
  {
    LockGuard g(n.list_lock, h);
    --n.nr_slabs;
    n.total_objects -= slab->objects;
  }
  ctx_->vmstat->mod(page_to_nid(slab), (s->flags & SLAB_RECLAIM_ACCOUNT) ? NR_SLAB_RECLAIMABLE : NR_SLAB_UNRECLAIMABLE,
                    -static_cast<int64_t>(1ull << order));
  ClearPageFlag(slab, PG_slab);
  slab->slab_list.next = slab->slab_list.prev = nullptr;
  slab->slab_cache = nullptr;
  slab->freelist = nullptr;
  slab->inuse = 0;
  slab->objects = 0;
  slab->frozen = 0;
  ++s->stats.free_slab;
  ctx_->page_alloc->free_pages(h, slab, order);
}

page* Slab::get_partial(hal::Hal& h, kmem_cache* s, int nid) {
  const unsigned nr = ctx_->nodes->nr_nodes();
  for (unsigned k = 0; k < nr; ++k) {
    const unsigned node = (static_cast<unsigned>(nid) + k) % nr;  // the local node first
    kmem_cache_node& n = s->node[node];
    if (!n.nr_partial) continue;
    LockGuard g(n.list_lock, h);
    if (list_empty(&n.partial)) continue;
    page* slab = list_first_entry(&n.partial, page, slab_list);
    list_del(&slab->slab_list);
    --n.nr_partial;
    slab->frozen = 1;
    return slab;
  }
  return nullptr;
}

void Slab::deactivate_slab(hal::Hal& h, kmem_cache* s, page* slab, void* freelist) {
  kmem_cache_node& n = s->node[page_to_nid(slab)];
  bool discard = false;
  {
    LockGuard g(n.list_lock, h);
    // The CPU's private free objects go back to the slab.
    while (freelist) {
      void* next = get_freepointer(s, freelist);
      set_freepointer(s, freelist, slab->freelist);
      slab->freelist = freelist;
      --slab->inuse;
      freelist = next;
    }
    slab->frozen = 0;
    if (!slab->inuse && n.nr_partial >= s->min_partial) {
      discard = true;
    } else if (slab->freelist) {
      list_add_tail(&slab->slab_list, &n.partial);
      ++n.nr_partial;
    } else if (kmem_cache_debug(s)) {
      list_add_tail(&slab->slab_list, &n.full);
    } else {
      slab->slab_list.next = slab->slab_list.prev = nullptr;  // full: on no list
    }
  }
  if (discard) discard_slab(h, s, slab);
}

void* Slab::take_freelist(kmem_cache* s, page* slab, kmem_cache_cpu* c, bool debug) {
  void* obj = slab->freelist;
  if (debug) {
    slab->freelist = get_freepointer(s, obj);
    ++slab->inuse;
  } else {
    slab->freelist = nullptr;
    slab->inuse = slab->objects;
    c->freelist = get_freepointer(s, obj);
  }
  return obj;
}

void* Slab::slab_alloc_slow(hal::Hal& h, kmem_cache* s, gfp_t gfp, int nid, kmem_cache_cpu* c) {
  ++s->stats.alloc_slowpath;
  const bool debug = kmem_cache_debug(s);
  MmNodes& nodes = *ctx_->nodes;
  if (nid < 0) nid = nodes.cpu_to_node(h.cpu());
  page* slab = c->slab;
  if (slab && page_to_nid(slab) != nid && static_cast<unsigned>(nid) < nodes.nr_nodes() && (gfp & __GFP_THISNODE)) {
    deactivate_slab(h, s, slab, c->freelist);
    c->slab = nullptr;
    c->freelist = nullptr;
    slab = nullptr;
  }
  if (slab) {
    // Objects other CPUs freed into our active slab meanwhile.
    kmem_cache_node& n = s->node[page_to_nid(slab)];
    LockGuard g(n.list_lock, h);
    if (slab->freelist) return take_freelist(s, slab, c, debug);
  }
  if (slab) {
    deactivate_slab(h, s, slab, c->freelist);
    c->slab = nullptr;
    c->freelist = nullptr;
  }
  slab = get_partial(h, s, nid);
  if (!slab) slab = new_slab(h, s, gfp, nid);
  if (!slab) return nullptr;
  c->slab = slab;
  return take_freelist(s, slab, c, debug);
}

void* Slab::kmem_cache_alloc(hal::Hal& h, kmem_cache* s, gfp_t gfp, int nid) {
  const unsigned cpu = h.cpu();
  kmem_cache_cpu* c = &s->cpu_slab[cpu];
  void* obj = c->freelist;
  if (obj && nid < 0) {
    // The fast path: this CPU's own freelist, no lock.
    c->freelist = get_freepointer(s, obj);
    ++s->stats.alloc_fastpath;
  } else {
    obj = slab_alloc_slow(h, s, gfp, nid, c);
    if (!obj) {
      ++s->stats.alloc_failed;
      return nullptr;
    }
    if (kmem_cache_debug(s) && !alloc_debug_processing(h, s, c->slab, obj)) {
      // The object is unusable (reported); take another.
      return kmem_cache_alloc(h, s, gfp, nid);
    }
  }
  ++s->active_objs;
  if (gfp & __GFP_ZERO) mem_set(obj, 0, s->object_size);
  ctx_->charge(h, ctx_->params->cost_slab_alloc_ns);
  return obj;
}

void Slab::slab_free_slow(hal::Hal& h, kmem_cache* s, page* slab, void* obj) {
  ++s->stats.free_slowpath;
  kmem_cache_node& n = s->node[page_to_nid(slab)];
  bool discard = false;
  {
    LockGuard g(n.list_lock, h);
    void* prior = slab->freelist;
    set_freepointer(s, obj, prior);
    slab->freelist = obj;
    --slab->inuse;
    if (slab->frozen) return;  // some CPU's active slab: it will find the object
    if (!slab->inuse && n.nr_partial >= s->min_partial) {
      if (prior) {
        list_del(&slab->slab_list);
        --n.nr_partial;
      } else if (kmem_cache_debug(s)) {
        list_del(&slab->slab_list);  // off the full list
      }
      discard = true;
    } else if (!prior) {
      // It was full: now it has room.
      if (kmem_cache_debug(s)) list_del(&slab->slab_list);
      list_add_tail(&slab->slab_list, &n.partial);
      ++n.nr_partial;
    }
  }
  if (discard) discard_slab(h, s, slab);
}

void Slab::kmem_cache_free(hal::Hal& h, kmem_cache* s, void* obj) {
  if (!obj || obj == ZERO_SIZE_PTR) return;
  page* p = ctx_->nodes->virt_to_page(obj);
  page* slab = p ? compound_head(p) : nullptr;
  if (!slab || !PageSlab(slab) || slab->slab_cache != s) {
    ++s->stats.errors;
    ++stats_.errors;
    ctx_->log->printk(h, LOGLEVEL_ERR, "BUG %s (Not tainted): kmem_cache_free of %p, which is not an object of this cache",
                      s->name, obj);
    return;
  }
  do_slab_free(h, s, slab, obj);
}

void Slab::do_slab_free(hal::Hal& h, kmem_cache* s, page* slab, void* obj) {
  if (kmem_cache_debug(s)) {
    if (!free_debug_processing(h, s, slab, obj)) return;  // reported, not freed
  }
  --s->active_objs;
  ctx_->charge(h, ctx_->params->cost_slab_alloc_ns);
  kmem_cache_cpu* c = &s->cpu_slab[h.cpu()];
  if (slab == c->slab && !kmem_cache_debug(s)) {
    // The fast path: back onto this CPU's freelist.
    set_freepointer(s, obj, c->freelist);
    c->freelist = obj;
    ++s->stats.free_fastpath;
    return;
  }
  slab_free_slow(h, s, slab, obj);
}

kmem_cache* Slab::virt_to_cache(const void* obj) const {
  page* p = ctx_->nodes->virt_to_page(obj);
  if (!p) return nullptr;
  p = compound_head(p);
  return PageSlab(p) ? p->slab_cache : nullptr;
}

// ---------------------------------------------------------------- kmalloc

void* Slab::kmalloc(hal::Hal& h, size_t size, gfp_t gfp) {
  if (!size) return ZERO_SIZE_PTR;
  if (size <= KMALLOC_MAX_CACHE_SIZE) return kmem_cache_alloc(h, kmalloc_cache(size, gfp), gfp);
  // Large: a compound page of its own.
  const unsigned order = get_order(size);
  page* p = ctx_->page_alloc->alloc_pages(h, gfp | __GFP_COMP, order);
  if (!p) return nullptr;
  void* a = h.direct_map(ctx_->nodes->page_to_phys(p), PAGE_SIZE << order);
  if (!a || a != ctx_->nodes->page_address(p)) {
    ctx_->page_alloc->free_pages(h, p, order);
    return nullptr;
  }
  ++stats_.kmalloc_large;
  stats_.kmalloc_large_pages += 1ull << order;
  ctx_->vmstat->mod(page_to_nid(p), NR_SLAB_UNRECLAIMABLE, static_cast<int64_t>(1ull << order));
  return a;
}

void Slab::kfree(hal::Hal& h, const void* ptr) {
  if (!ptr || ptr == ZERO_SIZE_PTR) return;
  page* p = ctx_->nodes->virt_to_page(ptr);
  if (!p) {
    ++stats_.errors;
    ctx_->log->printk(h, LOGLEVEL_ERR, "BUG: kfree of %p, which is not kernel memory", ptr);
    return;
  }
  page* head = compound_head(p);
  if (PageSlab(head)) {
    do_slab_free(h, head->slab_cache, head, const_cast<void*>(ptr));
    return;
  }
  // A large kmalloc: the pointer must be the start of its compound page.
  if (p != head || !PageHead(head) || ptr != ctx_->nodes->page_address(head)) {
    ++stats_.errors;
    ctx_->log->printk(h, LOGLEVEL_ERR, "BUG: kfree of %p, which kmalloc did not return", ptr);
    return;
  }
  const unsigned order = compound_order(head);
  stats_.kmalloc_large_pages -= 1ull << order;
  ctx_->vmstat->mod(page_to_nid(head), NR_SLAB_UNRECLAIMABLE, -static_cast<int64_t>(1ull << order));
  ctx_->page_alloc->free_pages(h, head, order);
}

size_t Slab::ksize(const void* ptr) const {
  if (!ptr || ptr == ZERO_SIZE_PTR) return 0;
  page* p = ctx_->nodes->virt_to_page(ptr);
  if (!p) return 0;
  p = compound_head(p);
  if (PageSlab(p)) return p->slab_cache->object_size;
  return PAGE_SIZE << compound_order(p);
}

// ---------------------------------------------------------------- shrinking

void Slab::flush_cpu_slab(hal::Hal& h, kmem_cache* s, unsigned cpu) {
  kmem_cache_cpu* c = &s->cpu_slab[cpu];
  if (!c->slab) return;
  page* slab = c->slab;
  void* fl = c->freelist;
  c->slab = nullptr;
  c->freelist = nullptr;
  deactivate_slab(h, s, slab, fl);
}

uint64_t Slab::kmem_cache_shrink(hal::Hal& h, kmem_cache* s) {
  for (unsigned c = 0; c < ctx_->nodes->nr_cpus(); ++c) flush_cpu_slab(h, s, c);
  uint64_t freed = 0;
  for (unsigned nid = 0; nid < ctx_->nodes->nr_nodes(); ++nid) {
    kmem_cache_node& n = s->node[nid];
    list_head discard;
    INIT_LIST_HEAD(&discard);
    {
      LockGuard g(n.list_lock, h);
      for (list_head* l = n.partial.next; l != &n.partial;) {
        list_head* next = l->next;
        page* slab = list_entry(l, page, slab_list);
        if (!slab->inuse) {
          list_del(&slab->slab_list);
          --n.nr_partial;
          list_add(&slab->slab_list, &discard);
        }
        l = next;
      }
    }
    while (!list_empty(&discard)) {
      page* slab = list_first_entry(&discard, page, slab_list);
      list_del(&slab->slab_list);
      discard_slab(h, s, slab);
      ++freed;
    }
  }
  return freed;
}

uint64_t Slab::shrink_all(hal::Hal& h) {
  uint64_t n = 0;
  for (unsigned i = 0; i < kMaxCaches; ++i)
    if (caches_[i].in_use) n += kmem_cache_shrink(h, &caches_[i]);
  return n;
}

void Slab::kmem_cache_destroy(hal::Hal& h, kmem_cache* s) {
  if (!s) return;
  kmem_cache_shrink(h, s);
  if (nr_slabs(s)) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "kmem_cache_destroy %s: Slab cache still has objects", s->name);
    return;
  }
  s->in_use = false;
}

// ---------------------------------------------------------------- debugging

void Slab::init_object(const kmem_cache* s, void* obj, uint8_t val) const {
  uint8_t* p = static_cast<uint8_t*>(obj);
  if (s->flags & SLAB_RED_ZONE) {
    mem_set(p - s->red_left_pad, val, s->red_left_pad);
    mem_set(p + s->object_size, val, s->inuse - s->object_size);
  }
  if ((s->flags & SLAB_POISON) && !s->ctor && val == SLUB_RED_INACTIVE && s->object_size) {
    mem_set(p, POISON_FREE, s->object_size - 1);
    p[s->object_size - 1] = POISON_END;
  }
}

void Slab::slab_bug(hal::Hal& h, kmem_cache* s, page* slab, const void* obj, const char* what, const void* at,
                    uint8_t found, uint8_t expected) {
  ++s->stats.errors;
  ++stats_.errors;
  Log& log = *ctx_->log;
  MmNodes& nodes = *ctx_->nodes;
  // Addresses as the kernel sees them: through its direct map.
  const uint64_t kbase = ctx_->pgtable->page_offset();
  const char* base = slab_base(slab);
  const uint64_t slab_pa = nodes.page_to_phys(slab);
  auto kva = [&](const void* p) {
    return static_cast<unsigned long>(kbase + slab_pa + static_cast<uint64_t>(static_cast<const char*>(p) - base));
  };
  const uint64_t off = static_cast<uint64_t>(static_cast<const char*>(obj) - base);
  log.printk(h, LOGLEVEL_ERR, "=============================================================================");
  log.printk(h, LOGLEVEL_ERR, "BUG %s (Not tainted): %s", s->name, what);
  log.printk(h, LOGLEVEL_ERR, "-----------------------------------------------------------------------------");
  if (at)
    log.printk(h, LOGLEVEL_ERR, "0x%lx @offset=%lu. First byte 0x%x instead of 0x%x", kva(at),
               static_cast<unsigned long>(static_cast<const char*>(at) - static_cast<const char*>(obj)), found, expected);
  log.printk(h, LOGLEVEL_ERR, "Slab 0x%lx (pfn %#lx) objects=%u used=%u fp=0x%lx flags=%#lx", kva(base),
             static_cast<unsigned long>(nodes.page_to_pfn(slab)), slab->objects, slab->inuse,
             slab->freelist ? kva(slab->freelist) : 0ul, static_cast<unsigned long>(slab->flags & ((1ull << NR_PAGEFLAGS) - 1)));
  log.printk(h, LOGLEVEL_ERR, "Object 0x%lx @offset=%lu size=%u", kva(obj), static_cast<unsigned long>(off), s->object_size);
  if (s->flags & SLAB_STORE_USER) {
    const slab_track* t = reinterpret_cast<const slab_track*>(static_cast<const char*>(obj) + s->offset + sizeof(void*));
    if (s->offset < s->inuse) t = reinterpret_cast<const slab_track*>(static_cast<const char*>(obj) + s->inuse);
    log.printk(h, LOGLEVEL_ERR, "INFO: Allocated on CPU%u at %lu ns, freed on CPU%u at %lu ns", t[0].cpu,
               static_cast<unsigned long>(t[0].when_ns), t[1].cpu, static_cast<unsigned long>(t[1].when_ns));
  }
}

void Slab::set_track(hal::Hal& h, const kmem_cache* s, void* obj, bool alloc) const {
  if (!(s->flags & SLAB_STORE_USER)) return;
  char* p = static_cast<char*>(obj) + (s->offset >= s->inuse ? s->offset + sizeof(void*) : s->inuse);
  slab_track t{h.now_ns(), h.cpu(), 0};
  mem_copy(p + (alloc ? 0 : sizeof(slab_track)), &t, sizeof t);
}

bool Slab::check_valid_pointer(const kmem_cache* s, const page* slab, const void* obj) const {
  const char* base = slab_base(slab);
  const char* o = static_cast<const char*>(obj);
  if (o < base + s->red_left_pad) return false;
  const uint64_t off = static_cast<uint64_t>(o - base - s->red_left_pad);
  return off % s->size == 0 && off / s->size < slab->objects;
}

bool Slab::on_freelist(const kmem_cache* s, const page* slab, const void* search, void* cpu_freelist) const {
  unsigned n = 0;
  for (void* fp = slab->freelist; fp && n <= slab->objects; fp = get_freepointer(s, fp), ++n)
    if (fp == search) return true;
  n = 0;
  for (void* fp = cpu_freelist; fp && n <= slab->objects; fp = get_freepointer(s, fp), ++n)
    if (fp == search) return true;
  return false;
}

bool Slab::check_object(hal::Hal& h, kmem_cache* s, page* slab, void* obj, uint8_t val) {
  uint8_t* p = static_cast<uint8_t*>(obj);
  bool ok = true;
  auto check_bytes = [&](uint8_t* start, uint64_t len, uint8_t want, const char* what) {
    for (uint64_t i = 0; i < len; ++i)
      if (start[i] != want) {
        slab_bug(h, s, slab, obj, what, start + i, start[i], want);
        uint64_t end = len;
        while (end > i && start[end - 1] == want) --end;
        ctx_->log->printk(h, LOGLEVEL_ERR, "FIX %s: Restoring %s %p-%p=0x%x", s->name, what, start + i, start + end - 1, want);
        mem_set(start, want, len);
        ok = false;
        return;
      }
  };
  if (s->flags & SLAB_RED_ZONE) {
    check_bytes(p - s->red_left_pad, s->red_left_pad, val, "Left Redzone overwritten");
    check_bytes(p + s->object_size, s->inuse - s->object_size, val, "Right Redzone overwritten");
  }
  if ((s->flags & SLAB_POISON) && !s->ctor && val == SLUB_RED_INACTIVE && s->object_size) {
    check_bytes(p, s->object_size - 1, POISON_FREE, "Poison overwritten");
    check_bytes(p + s->object_size - 1, 1, POISON_END, "End Poison overwritten");
  }
  return ok;
}

bool Slab::alloc_debug_processing(hal::Hal& h, kmem_cache* s, page* slab, void* obj) {
  if ((s->flags & SLAB_CONSISTENCY_CHECKS) && !check_valid_pointer(s, slab, obj)) {
    slab_bug(h, s, slab, obj, "Freelist Pointer check fails", nullptr, 0, 0);
    return false;
  }
  // A free object must still look free: red zones inactive, poison intact
  // (a write after free shows here). Repaired, then handed out.
  check_object(h, s, slab, obj, SLUB_RED_INACTIVE);
  init_object(s, obj, SLUB_RED_ACTIVE);
  set_track(h, s, obj, true);
  return true;
}

bool Slab::free_debug_processing(hal::Hal& h, kmem_cache* s, page* slab, void* obj) {
  if (!check_valid_pointer(s, slab, obj)) {
    slab_bug(h, s, slab, obj, "Invalid object pointer", nullptr, 0, 0);
    return false;
  }
  // A double free: the object is on a freelist already, or (with red
  // zones) both its red zones read "inactive".
  bool already_free = false;
  if (s->flags & SLAB_CONSISTENCY_CHECKS) already_free = on_freelist(s, slab, obj, nullptr);
  if (!already_free && (s->flags & SLAB_RED_ZONE)) {
    const uint8_t* p = static_cast<const uint8_t*>(obj);
    already_free = true;
    for (uint64_t i = 0; i < s->red_left_pad && already_free; ++i)
      if (p[-static_cast<int64_t>(s->red_left_pad) + static_cast<int64_t>(i)] != SLUB_RED_INACTIVE) already_free = false;
    for (uint64_t i = s->object_size; i < s->inuse && already_free; ++i)
      if (p[i] != SLUB_RED_INACTIVE) already_free = false;
  }
  if (already_free) {
    slab_bug(h, s, slab, obj, "Object already free", nullptr, 0, 0);
    return false;
  }
  // Red zones written while allocated: an out-of-bounds access.
  check_object(h, s, slab, obj, SLUB_RED_ACTIVE);
  init_object(s, obj, SLUB_RED_INACTIVE);
  set_track(h, s, obj, false);
  return true;
}

uint64_t Slab::validate(hal::Hal& h, kmem_cache* s) {
  const uint64_t before = s->stats.errors;
  if (!kmem_cache_debug(s)) return 0;
  auto check_slab = [&](page* slab) {
    char* base = slab_base(slab);
    for (unsigned i = 0; i < slab->objects; ++i) {
      void* obj = base + static_cast<uint64_t>(i) * s->size + s->red_left_pad;
      check_object(h, s, slab, obj, on_freelist(s, slab, obj, nullptr) ? SLUB_RED_INACTIVE : SLUB_RED_ACTIVE);
    }
  };
  for (unsigned c = 0; c < ctx_->nodes->nr_cpus(); ++c)
    if (s->cpu_slab[c].slab) check_slab(s->cpu_slab[c].slab);
  for (unsigned nid = 0; nid < ctx_->nodes->nr_nodes(); ++nid) {
    kmem_cache_node& n = s->node[nid];
    for (list_head* l = n.partial.next; l != &n.partial; l = l->next) check_slab(list_entry(l, page, slab_list));
    for (list_head* l = n.full.next; l != &n.full; l = l->next) check_slab(list_entry(l, page, slab_list));
  }
  return s->stats.errors - before;
}


// ---------------------------------------------------------------- /proc and statistics

void slab_show(seq_file* m, const MmContext& ctx) {
  const Slab& slab = *ctx.slab;
  seq_printf(m, "slabinfo - version: 2.1\n");
  seq_printf(m, "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> "
                "<batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n");
  slab.for_each_cache([&](const kmem_cache& c) {
    const uint64_t slabs = slab.nr_slabs(&c);
    seq_printf(m, "%-17s %6lu %6lu %6u %4u %4u : tunables %4u %4u %4u : slabdata %6lu %6lu %6u\n", c.name,
               static_cast<unsigned long>(c.active_objs), static_cast<unsigned long>(slab.total_objects(&c)), c.size,
               c.objects, 1u << c.order, 0u, 0u, 0u, static_cast<unsigned long>(slabs), static_cast<unsigned long>(slabs),
               0u);
  });
}

namespace {

const StatDesc<SlabStats> slab_stat_table[] = {
    {"kmalloc_large", &SlabStats::kmalloc_large, "kmalloc requests above 8 KiB served by the page allocator", "count"},
    {"kmalloc_large_pages", &SlabStats::kmalloc_large_pages, "pages held by large kmalloc requests", "pages"},
    {"errors", &SlabStats::errors, "slab debugging reports (all caches)", "count"},
};
static_assert(stat_table_size(slab_stat_table) == sizeof(SlabStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Slab::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, slab_stat_table);
  for_each_cache([&](const kmem_cache& c) {
    // Statistic names have no '-': kmalloc-64 is slab.kmalloc_64.
    char cn[sizeof c.name];
    size_t i = 0;
    for (; c.name[i] && i + 1 < sizeof cn; ++i) cn[i] = c.name[i] == '-' ? '_' : c.name[i];
    cn[i] = '\0';
    e.fmt(c.active_objs, "objects in use", "count", "%s.active_objs", cn);
    e.fmt(total_objects(&c), "objects in the cache's slabs", "count", "%s.num_objs", cn);
    e.fmt(nr_slabs(&c), "slabs of the cache", "count", "%s.slabs", cn);
    e.fmt(c.stats.alloc_fastpath, "allocations from the CPU freelist", "count", "%s.alloc_fastpath", cn);
    e.fmt(c.stats.alloc_slowpath, "allocations through the slow path", "count", "%s.alloc_slowpath", cn);
    e.fmt(c.stats.free_fastpath, "frees to the CPU freelist", "count", "%s.free_fastpath", cn);
    e.fmt(c.stats.free_slowpath, "frees through the slow path", "count", "%s.free_slowpath", cn);
    e.fmt(c.stats.errors, "debugging reports", "count", "%s.errors", cn);
  });
}

}  // namespace fw
