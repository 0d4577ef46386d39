// A simple object cache for the firmware's dynamic objects (tasks,
// mm_structs, VMAs): objects carved from order-0 pages of the buddy
// allocator, so they live in simulated DRAM. Slab metadata lives in the
// slab page's struct page, as SLUB does; each object is preceded by a
// pointer to that struct page so freeing needs no reverse direct map.
// An empty slab goes straight back to the buddy allocator, so every page
// is accounted. Issue 3 replaces this with SLUB (per-CPU slabs, partial
// lists, kmalloc caches, debugging).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/context.h"

namespace fw {

class ObjCache {
 public:
  void init(MmContext* ctx, const char* name, size_t obj_size);

  // A zeroed object, nullptr when memory is exhausted.
  void* alloc(hal::Hal& h);
  void free(hal::Hal& h, void* obj);

  const char* name() const { return name_; }
  size_t obj_size() const { return obj_size_; }
  uint64_t active_objs() const { return active_; }
  uint64_t nr_slabs() const { return slabs_; }
  uint64_t objs_per_slab() const { return per_slab_; }

 private:
  MmContext* ctx_ = nullptr;
  const char* name_ = "";
  size_t obj_size_ = 0;
  size_t stride_ = 0;
  uint32_t per_slab_ = 0;
  list_head partial_;  // slabs with free objects
  list_head full_;
  uint64_t active_ = 0;
  uint64_t slabs_ = 0;
  SpinLock lock_;
};

}  // namespace fw
