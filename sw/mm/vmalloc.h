// vmalloc (Linux mm/vmalloc.c): virtually contiguous kernel memory from
// scattered pages. An area of the vmalloc range (VMALLOC_START..END, 32 TiB
// with 4-level paging, 12800 TiB with 5) is found first-fit among the busy
// areas, one guard page after each area left unmapped; every page is
// allocated on its own and mapped in the kernel's page tables (global,
// non-executable). The tables one level below the root are allocated for
// the whole range at boot (Linux preallocate_vmalloc_pages), so every
// address space, which copies the kernel half of the root when it is
// created, sees later vmalloc mappings. vfree unmaps, flushes the TLB on
// every CPU (an IPI to the others) and frees the pages at once (Linux
// purges lazily).
//
// Addresses are the simulated kernel's virtual addresses: the firmware, host
// code, reaches the memory through vread/vwrite or vmalloc_to_page.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"
#include "sw/mm/page.h"

namespace fw {

struct kmem_cache;

constexpr uint64_t VMALLOC_START_L4 = 0xffffc90000000000ull;
constexpr uint64_t VMALLOC_SIZE_L4 = 32ull << 40;
constexpr uint64_t VMALLOC_START_L5 = 0xffa0000000000000ull;
constexpr uint64_t VMALLOC_SIZE_L5 = 12800ull << 40;

struct vm_struct {
  uint64_t addr;       // first byte of the area
  uint64_t size;       // bytes, the guard page included
  page** pages;        // nr_pages pointers (kmalloc)
  uint32_t nr_pages;
  uint32_t flags;
};

struct vmap_area {
  uint64_t va_start;
  uint64_t va_end;     // exclusive, guard included
  list_head list;      // busy areas by address
  vm_struct* vm;
};

struct VmallocStats {
  uint64_t areas = 0;        // alive
  uint64_t pages = 0;        // mapped now
  uint64_t allocs = 0;
  uint64_t frees = 0;
  uint64_t failed = 0;
  uint64_t table_pages_prealloc = 0;
};

class Vmalloc {
 public:
  void init(MmContext* ctx);
  // Boot, with the kernel's root table: the upper-level tables of the vmalloc
  // range, and the caches. Returns false (after logging) when out of memory.
  bool boot(hal::Hal& h, uint64_t kernel_root);

  // Returns the kernel virtual address of `size` bytes (zeroed with
  // __GFP_ZERO; vzalloc), 0 on failure.
  uint64_t vmalloc(hal::Hal& h, uint64_t size, gfp_t gfp = GFP_KERNEL);
  uint64_t vzalloc(hal::Hal& h, uint64_t size) { return vmalloc(h, size, GFP_KERNEL | __GFP_ZERO); }
  void vfree(hal::Hal& h, uint64_t addr);

  // Returns the area starting at addr, or nullptr.
  const vm_struct* find_vm_area(uint64_t addr) const;
  // Returns the page mapped at addr through the kernel's page tables, as
  // Linux's vmalloc_to_page, or nullptr.
  page* vmalloc_to_page(hal::Hal& h, uint64_t addr);
  // Copy len bytes from / to vmalloc memory at addr. Return false when a page
  // is unmapped or holds poison.
  bool vread(hal::Hal& h, uint64_t addr, void* buf, uint64_t len);
  bool vwrite(hal::Hal& h, uint64_t addr, const void* buf, uint64_t len);

  uint64_t start() const { return start_; }
  uint64_t end() const { return start_ + size_; }
  uint64_t total_bytes() const { return size_; }
  const VmallocStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Returns a free range of size bytes plus a guard page in the vmalloc
  // range, or nullptr (Linux alloc_vmap_area).
  vmap_area* alloc_vmap_area(hal::Hal& h, uint64_t size);
  void unmap_area(hal::Hal& h, vm_struct* vm);

  MmContext* ctx_ = nullptr;
  uint64_t start_ = VMALLOC_START_L4;
  uint64_t size_ = VMALLOC_SIZE_L4;
  uint64_t kernel_root_ = 0;
  list_head busy_;
  SpinLock lock_;
  kmem_cache* va_cache_ = nullptr;
  VmallocStats stats_;
};

}  // namespace fw
