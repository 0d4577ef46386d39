// The slab allocator, SLUB-style (Linux mm/slub.c, mm/slab_common.c).
//
// A kmem_cache hands out objects of one size from slabs: runs of 2^order
// pages of the buddy allocator (RECLAIMABLE for SLAB_RECLAIM_ACCOUNT caches,
// UNMOVABLE otherwise). Each CPU has an active slab whose free objects it
// takes without locks (the fast path: pop the CPU freelist); objects freed
// on other CPUs go to their slab's own freelist. A CPU whose active slab is
// used up takes a slab from its node's partial list, or a new one. A slab
// that becomes empty is freed to the buddy allocator once the node keeps
// min_partial partial slabs. The free pointer of a free object lives in the
// object (in its middle), or after it when the cache has a constructor or
// debugging.
//
// kmalloc: caches for 8 B .. 8 KiB (8, 16, 32, 64, 96, 128, 192, 256, 512,
// 1k, 2k, 4k, 8k), normal, reclaimable (kmalloc-rcl-*) and DMA
// (dma-kmalloc-*); larger requests are compound pages straight from the
// page allocator.
//
// Debugging (slub_debug / per-cache flags): red zones around every object
// (0xcc while allocated, 0xbb while free), poisoning of free objects (0x6b,
// last byte 0xa5), and sanity checks; an overwritten red zone (out of
// bounds), a free of a free object (double free), a pointer that is not an
// object, or a poisoned object written after free are reported in Linux's
// "BUG <cache> (Not tainted): <what>" form with the object, then repaired.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page.h"

namespace fw {

class Memblock;
struct seq_file;

// Cache flags (Linux's SLAB_* names; our values).
constexpr uint32_t SLAB_CONSISTENCY_CHECKS = 0x1;  // slub_debug F
constexpr uint32_t SLAB_RED_ZONE = 0x2;            // slub_debug Z
constexpr uint32_t SLAB_POISON = 0x4;              // slub_debug P
constexpr uint32_t SLAB_STORE_USER = 0x8;          // slub_debug U
constexpr uint32_t SLAB_DEBUG_FLAGS = 0xf;
constexpr uint32_t SLAB_HWCACHE_ALIGN = 0x100;
constexpr uint32_t SLAB_RECLAIM_ACCOUNT = 0x200;  // slabs are RECLAIMABLE
constexpr uint32_t SLAB_CACHE_DMA = 0x400;        // slabs from ZONE_DMA
constexpr uint32_t SLAB_KMALLOC = 0x800;

constexpr uint8_t SLUB_RED_INACTIVE = 0xbb;
constexpr uint8_t SLUB_RED_ACTIVE = 0xcc;
constexpr uint8_t POISON_FREE = 0x6b;
constexpr uint8_t POISON_END = 0xa5;

constexpr size_t KMALLOC_MIN_SIZE = 8;
constexpr size_t KMALLOC_MAX_CACHE_SIZE = 2 * PAGE_SIZE;
constexpr unsigned KMALLOC_SHIFT_HIGH = 13;
// kmalloc(0) returns this; kfree() ignores it.
#define ZERO_SIZE_PTR (reinterpret_cast<void*>(16))

enum kmalloc_cache_type : unsigned { KMALLOC_NORMAL, KMALLOC_RECLAIM, KMALLOC_DMA, NR_KMALLOC_TYPES };

struct kmem_cache_cpu {
  void* freelist;  // free objects of the active slab, for this CPU alone
  page* slab;      // the active slab (frozen)
};

struct kmem_cache_node {
  SpinLock list_lock;
  uint64_t nr_partial;
  list_head partial;
  list_head full;          // debug caches only: slabs with no free object
  uint64_t nr_slabs;
  uint64_t total_objects;
};

struct kmem_cache_stats {
  uint64_t alloc_fastpath = 0;
  uint64_t alloc_slowpath = 0;
  uint64_t free_fastpath = 0;
  uint64_t free_slowpath = 0;
  uint64_t alloc_slab = 0;    // slabs allocated
  uint64_t free_slab = 0;     // slabs freed
  uint64_t alloc_failed = 0;
  uint64_t errors = 0;        // debugging reports
};

struct kmem_cache {
  char name[32];
  bool in_use;
  uint32_t flags;
  uint32_t object_size;   // what the user asked for
  uint32_t size;          // the stride of objects in a slab (metadata and red zones included)
  uint32_t inuse;         // offset of the metadata after the object (free pointer outside, tracking)
  uint32_t offset;        // of the free pointer in a free object
  uint32_t align;
  uint32_t red_left_pad;  // left red zone
  uint32_t order;         // slab order
  uint32_t min_order;     // fallback order when the preferred one is not available
  uint32_t objects;       // objects per slab of `order`
  uint32_t min_partial;
  gfp_t allocflags;       // for the slab pages
  void (*ctor)(void*);
  kmem_cache_cpu* cpu_slab;  // [nr_cpus]
  kmem_cache_node node[hal::kMaxNodes];
  uint64_t active_objs;
  kmem_cache_stats stats;
};

// The (alloc or free) owner of an object, with SLAB_STORE_USER.
struct slab_track {
  uint64_t when_ns;
  uint32_t cpu;
  uint32_t pid;
};

struct SlabStats {
  uint64_t kmalloc_large = 0;       // requests above 8 KiB served by pages
  uint64_t kmalloc_large_pages = 0; // pages they hold now
  uint64_t errors = 0;              // debugging reports, all caches
};

class Slab {
 public:
  static constexpr unsigned kMaxCaches = 64;

  void init(MmContext* ctx) { ctx_ = ctx; }
  // Boot, while memblock still allocates: the per-CPU slab pointers. Returns
  // false (after logging) when memblock has no room.
  bool alloc_percpu(hal::Hal& h, Memblock& mb);
  // Boot, after the page allocator: the kmalloc caches. Returns false when
  // one cannot be created.
  bool kmem_cache_init(hal::Hal& h);

  // Returns a new cache, or nullptr when no slot or no layout fits. align: 0
  // for the default.
  kmem_cache* kmem_cache_create(const char* name, size_t size, size_t align, uint32_t flags, void (*ctor)(void*));
  void kmem_cache_destroy(hal::Hal& h, kmem_cache* s);
  // Returns an object of s (zeroed with __GFP_ZERO), preferably from node
  // nid, or nullptr.
  void* kmem_cache_alloc(hal::Hal& h, kmem_cache* s, gfp_t gfp, int nid = -1);
  void kmem_cache_free(hal::Hal& h, kmem_cache* s, void* obj);
  void* kmem_cache_zalloc(hal::Hal& h, kmem_cache* s, gfp_t gfp) { return kmem_cache_alloc(h, s, gfp | __GFP_ZERO); }

  // Returns size bytes from the kmalloc caches (above 8 KiB: pages),
  // ZERO_SIZE_PTR for 0, or nullptr.
  void* kmalloc(hal::Hal& h, size_t size, gfp_t gfp);
  void* kzalloc(hal::Hal& h, size_t size, gfp_t gfp) { return kmalloc(h, size, gfp | __GFP_ZERO); }
  void kfree(hal::Hal& h, const void* p);
  // Returns the usable size of a kmalloc'ed object.
  size_t ksize(const void* p) const;
  // Returns the kmalloc cache serving size bytes for gfp (normal, reclaimable
  // or DMA).
  kmem_cache* kmalloc_cache(size_t size, gfp_t gfp) const;

  // Gives every CPU's active slab back and frees the empty slabs (Linux
  // kmem_cache_shrink). Returns the slabs freed.
  uint64_t kmem_cache_shrink(hal::Hal& h, kmem_cache* s);
  // kmem_cache_shrink of every cache. Returns the slabs freed.
  uint64_t shrink_all(hal::Hal& h);
  // Debugging: checks every object of every slab of s, reporting
  // corruption (Linux validate_slab_cache). Returns the errors found.
  uint64_t validate(hal::Hal& h, kmem_cache* s);

  template <typename F>
  void for_each_cache(F&& f) const {
    for (unsigned i = 0; i < kMaxCaches; ++i)
      if (caches_[i].in_use) f(caches_[i]);
  }
  // Returns the cache called name, or nullptr.
  kmem_cache* find_cache(const char* name);
  const SlabStats& stats() const { return stats_; }
  // <prefix>.kmalloc_large..errors, then <prefix>.<cache>.* of every cache.
  void visit_stats(StatVisitor& v, const char* prefix) const;
  uint64_t nr_slabs(const kmem_cache* s) const;
  uint64_t total_objects(const kmem_cache* s) const;
  // The cache an object belongs to, nullptr when it is not a slab object.
  kmem_cache* virt_to_cache(const void* obj) const;

 private:
  // Returns the kmalloc size class of size (Linux kmalloc_index: 1 is 96 B, 2
  // is 192 B, n >= 3 is 2^n B).
  static unsigned kmalloc_index(size_t size);
  // Lays out s's objects and picks its slab order (Linux calculate_sizes).
  // Returns false when no order fits an object.
  bool calculate_sizes(kmem_cache* s);
  // Returns an object from the CPU's slab after refilling it from a partial
  // slab or a new one, or nullptr (Linux ___slab_alloc).
  void* slab_alloc_slow(hal::Hal& h, kmem_cache* s, gfp_t gfp, int nid, kmem_cache_cpu* c);
  // The first object of slab's (non-empty) freelist. A debug cache hands out
  // one object at a time (each is checked); otherwise the CPU c takes the
  // rest of the list and the slab counts as full.
  void* take_freelist(kmem_cache* s, page* slab, kmem_cache_cpu* c, bool debug);
  // Returns a new slab of s with its freelist built, or nullptr (Linux
  // new_slab).
  page* new_slab(hal::Hal& h, kmem_cache* s, gfp_t gfp, int nid);
  void discard_slab(hal::Hal& h, kmem_cache* s, page* slab);
  // Returns a partial slab, frozen for the CPU, node nid's first, or nullptr
  // (Linux get_partial).
  page* get_partial(hal::Hal& h, kmem_cache* s, int nid);
  void deactivate_slab(hal::Hal& h, kmem_cache* s, page* slab, void* freelist);
  void slab_free_slow(hal::Hal& h, kmem_cache* s, page* slab, void* obj);
  void do_slab_free(hal::Hal& h, kmem_cache* s, page* slab, void* obj);
  void flush_cpu_slab(hal::Hal& h, kmem_cache* s, unsigned cpu);

  // Object layout helpers.
  void* get_freepointer(const kmem_cache* s, void* obj) const {
    void* p;
    __builtin_memcpy(&p, static_cast<char*>(obj) + s->offset, sizeof p);
    return p;
  }
  void set_freepointer(const kmem_cache* s, void* obj, void* fp) const {
    __builtin_memcpy(static_cast<char*>(obj) + s->offset, &fp, sizeof fp);
  }
  char* slab_base(const page* slab) const { return static_cast<char*>(ctx_->nodes->page_address(slab)); }

  // Debugging.
  void init_object(const kmem_cache* s, void* obj, uint8_t val) const;
  // Checks obj's red zones and poison against what val (active or inactive)
  // says (Linux check_object). Returns false after reporting and repairing
  // damage.
  bool check_object(hal::Hal& h, kmem_cache* s, page* slab, void* obj, uint8_t val);
  // Returns true when obj is the start of an object of slab.
  bool check_valid_pointer(const kmem_cache* s, const page* slab, const void* obj) const;
  // Returns true when search is on slab's freelist (or on cpu_freelist).
  bool on_freelist(const kmem_cache* s, const page* slab, const void* search, void* cpu_freelist) const;
  // The debug checks of an allocation and of a free (Linux
  // alloc_debug_processing, free_debug_processing). Return false when the
  // object must not be handed out (bad pointer) or freed (bad pointer, double
  // free).
  bool alloc_debug_processing(hal::Hal& h, kmem_cache* s, page* slab, void* obj);
  bool free_debug_processing(hal::Hal& h, kmem_cache* s, page* slab, void* obj);
  void slab_bug(hal::Hal& h, kmem_cache* s, page* slab, const void* obj, const char* what, const void* at,
                uint8_t found, uint8_t expected);
  void set_track(hal::Hal& h, const kmem_cache* s, void* obj, bool alloc) const;

  MmContext* ctx_ = nullptr;
  kmem_cache caches_[kMaxCaches] = {};
  kmem_cache* kmalloc_caches_[NR_KMALLOC_TYPES][KMALLOC_SHIFT_HIGH + 1] = {};
  kmem_cache_cpu* percpu_ = nullptr;  // [kMaxCaches][nr_cpus], in simulated DRAM
  SlabStats stats_;
};

// /proc/slabinfo (Linux slab_show, version 2.1).
void slab_show(seq_file* m, const MmContext& ctx);

}  // namespace fw
