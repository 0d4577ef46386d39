// The memory manager's shared context: the per-Kernel "globals" every mm
// subsystem reaches (there is no global mutable state in the firmware, so
// several Kernels can live in one process). The Kernel fills it in.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"

namespace fw {

class Log;
class Memblock;
class MmNodes;
class Buddy;
class Pcp;
class Watermark;
class PageAlloc;
class Slab;
class Vmalloc;
class Cma;
class Compaction;
class Migrate;
class PageIsolation;
class Rmap;
class Lru;
class Kswapd;
class Vmscan;
class Workingset;
class Shrinkers;
class Swapfile;
class SwapCache;
class OomKiller;
class MemoryFailure;
class PgTable;
class Tlb;
class Memory;
class Mmap;
class Shmem;
class Hugetlb;
class HugeMemory;
class Khugepaged;
class Fork;
class Mprotect;
class Madvise;
class Dma;
class Gup;
class Filemap;
class Readahead;
class Writeback;
struct BlockDevices;
struct list_head;
struct vm_area_struct;
struct Params;
struct VmStat;
struct kmem_cache;

// The owner of VM_PFNMAP mappings (a driver that lets user space mmap its
// memory: sw/drivers/dma): told when such a VMA goes (Linux vm_ops->close).
class PfnmapOwner {
 public:
  virtual void pfnmap_close(hal::Hal& h, vm_area_struct* vma) = 0;

 protected:
  ~PfnmapOwner() = default;
};

struct MmContext {
  Log* log = nullptr;
  const Params* params = nullptr;
  const hal::BootInfo* boot = nullptr;
  Memblock* memblock = nullptr;
  MmNodes* nodes = nullptr;
  Buddy* buddy = nullptr;          // the free lists
  Pcp* pcp = nullptr;              // per-CPU page lists
  Watermark* watermark = nullptr;  // watermarks and reserves
  PageAlloc* page_alloc = nullptr; // alloc_pages / free_pages
  Slab* slab = nullptr;            // kmem_cache, kmalloc
  Vmalloc* vmalloc = nullptr;
  Cma* cma = nullptr;
  Compaction* compaction = nullptr;
  Migrate* migrate = nullptr;
  PageIsolation* isolation = nullptr;
  Rmap* rmap = nullptr;
  Lru* lru = nullptr;
  Kswapd* kswapd = nullptr;
  Vmscan* vmscan = nullptr;            // reclaim (sw/mm/vmscan.h)
  Workingset* workingset = nullptr;    // shadow entries, refaults (sw/mm/workingset.h)
  Shrinkers* shrinkers = nullptr;      // shrink_slab (sw/mm/shrinker.h)
  Swapfile* swapfile = nullptr;        // swap areas and slots (sw/mm/swapfile.h)
  SwapCache* swap_cache = nullptr;     // sw/mm/swap_state.h
  OomKiller* oom = nullptr;            // the OOM killer (sw/mm/oom_kill.h)
  MemoryFailure* memory_failure = nullptr;  // poisoned pages (sw/mm/memory_failure.h)
  PgTable* pgtable = nullptr;
  Tlb* tlb = nullptr;
  Memory* memory = nullptr;
  Mmap* mmap = nullptr;
  Shmem* shmem = nullptr;              // shared anonymous memory objects
  Hugetlb* hugetlb = nullptr;          // hugetlbfs pools and faults
  HugeMemory* huge_memory = nullptr;   // transparent huge pages
  Khugepaged* khugepaged = nullptr;
  Fork* fork = nullptr;
  Mprotect* mprotect = nullptr;
  Madvise* madvise = nullptr;
  VmStat* vmstat = nullptr;
  Dma* dma = nullptr;                   // the DMA API's state (sw/dma)
  Gup* gup = nullptr;                   // pinning user pages (sw/mm/gup.h)
  Filemap* filemap = nullptr;           // the page cache (sw/mm/filemap.h)
  Readahead* readahead = nullptr;       // sw/mm/readahead.h
  Writeback* writeback = nullptr;       // dirty limits, the flusher (sw/mm/page-writeback.h)
  BlockDevices* blockdevs = nullptr;    // the registered block devices (sw/block/bio.h)
  PfnmapOwner* pfnmap_owner = nullptr;  // whose VM_PFNMAP mappings there are
  kmem_cache* mm_cachep = nullptr;
  kmem_cache* vma_cachep = nullptr;
  const list_head* tasks = nullptr;  // the Kernel's task list (for_each_process: meminfo's Committed_AS)
  uint64_t charged_ns = 0;  // all firmware time charged, for statistics

  // Charges simulated time for firmware work on the calling CPU.
  void charge(hal::Hal& h, uint64_t ns) {
    if (!ns) return;
    charged_ns += ns;
    h.charge_ns(ns);
  }
};

}  // namespace fw
