// swiotlb, the software IO TLB (Linux kernel/dma/swiotlb.c): a bounce pool
// reserved from memblock at boot, below 4 GiB and top-down (memblock_alloc_low),
// cut into 2 KiB slots (IO_TLB_SIZE). A mapping takes at most 128
// contiguous slots (IO_TLB_SEGSIZE) that never cross a 128-slot boundary;
// each slot's `list` counts the free slots from it to the end of its
// segment, as Linux keeps it. The pool is split into areas, one per CPU
// rounded up to a power of two; a CPU searches its own area first. Data is
// copied into the pool on map (for the device to read) and back on
// unmap or sync (what the device wrote), through Hal::phys_copy, so a
// bounce costs simulated time and sees poison.
//
// Whether there is a pool follows `firmware.swiotlb`: auto is x86's rule
// (pci_swiotlb_detect: on when RAM extends above 4 GiB), force bounces every
// streaming mapping (swiotlb=force), off has none (swiotlb=noforce), a size
// sets the pool's size (swiotlb=<slabs>; whether it is on still follows the
// rule). Statistics: io_tlb_nslabs, io_tlb_used, io_tlb_used_hiwater (the
// files Linux has in debugfs' swiotlb/), bytes bounced each way.
//
// Users: dma-direct (sw/dma/direct.cpp), the boot (sw/kernel/kernel.cpp),
// /proc/swiotlb.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/dma/mapping.h"
#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/context.h"

namespace fw {

class Memblock;
struct seq_file;

constexpr unsigned IO_TLB_SHIFT = 11;
constexpr uint64_t IO_TLB_SIZE = 1ull << IO_TLB_SHIFT;
constexpr unsigned IO_TLB_SEGSIZE = 128;
constexpr uint64_t IO_TLB_DEFAULT_SIZE = 64ull << 20;
constexpr uint64_t IO_TLB_MIN_SLABS = (1ull << 20) >> IO_TLB_SHIFT;
constexpr uint64_t INVALID_PHYS_ADDR = ~0ull;

// `firmware.swiotlb` values below kSwiotlbSizeMin are these words.
enum SwiotlbMode : uint64_t { SWIOTLB_AUTO = 0, SWIOTLB_FORCE = 1, SWIOTLB_OFF = 2 };
constexpr uint64_t kSwiotlbSizeMin = IO_TLB_SIZE * IO_TLB_SEGSIZE;  // one segment

// One slot's bookkeeping, in simulated DRAM (Linux struct io_tlb_slot).
struct io_tlb_slot {
  uint64_t orig_addr;   // the buffer this slot bounces for, INVALID_PHYS_ADDR when free
  uint64_t alloc_size;  // bytes of the mapping from this slot on
  uint16_t list;        // free slots from here to the end of the segment
  uint16_t pad_slots;
  uint32_t pad;
};
static_assert(sizeof(io_tlb_slot) == 24, "as Linux's, on x86-64");

struct io_tlb_area {
  uint64_t used;
  unsigned index;  // where the next search starts
  SpinLock lock;
};

struct SwiotlbStats {
  uint64_t mappings = 0;             // bounce buffers handed out
  uint64_t full = 0;                 // requests the pool could not serve
  uint64_t bounced_to_device = 0;    // bytes copied into the pool
  uint64_t bounced_from_device = 0;  // bytes copied back out
};

class Swiotlb {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Boot, after CMA, while memblock allocates (Linux pci_swiotlb_detect +
  // swiotlb_init): reserves the pool when `firmware.swiotlb` says so.
  // Returns false (after logging) only when it cannot boot.
  bool boot(hal::Hal& h, Memblock& mb);
  // The boot message Linux prints once the IOMMU drivers have had their
  // say (pci_iommu_init).
  void print_info(hal::Hal& h);

  bool active() const { return nslabs_ != 0; }
  bool force_bounce() const { return force_bounce_; }
  // Returns true when paddr lies in the pool (is_swiotlb_buffer).
  bool is_swiotlb_buffer(uint64_t paddr) const { return active() && paddr >= start_ && paddr < end_; }
  uint64_t start() const { return start_; }
  uint64_t end() const { return end_; }
  uint64_t nslabs() const { return nslabs_; }
  uint64_t used() const { return total_used_; }
  uint64_t used_hiwater() const { return used_hiwater_; }
  // The largest mapping: 128 slots (swiotlb_max_mapping_size).
  static size_t max_mapping_size() { return IO_TLB_SIZE * IO_TLB_SEGSIZE; }

  // Bounces [orig, orig+size) for dev: returns the bounce buffer's physical
  // address with the data copied in, or DMA_MAPPING_ERROR ("swiotlb buffer
  // is full ..." warned, unless attrs says not to). Linux
  // swiotlb_tbl_map_single.
  uint64_t tbl_map_single(hal::Hal& h, device* dev, uint64_t orig, size_t size, dma_data_direction dir,
                          unsigned long attrs);
  // Copies back what the device wrote (unless told not to) and frees the
  // slots (swiotlb_tbl_unmap_single).
  void tbl_unmap_single(hal::Hal& h, device* dev, uint64_t tlb_addr, size_t size, dma_data_direction dir,
                        unsigned long attrs);
  void sync_single_for_device(hal::Hal& h, uint64_t tlb_addr, size_t size, dma_data_direction dir);
  void sync_single_for_cpu(hal::Hal& h, uint64_t tlb_addr, size_t size, dma_data_direction dir);

  const SwiotlbStats& stats() const { return stats_; }
  void visit_stats(StatVisitor& v, const char* prefix) const;
  // /proc/swiotlb: debugfs' swiotlb/ files, one line each.
  void show(seq_file* m) const;

 private:
  // Returns the first slot of nslots... found in one area, or -1 (Linux
  // swiotlb_search_pool_area).
  int search_area(unsigned area_index, uint64_t orig, size_t alloc_size, uint64_t alloc_align_mask);
  // Returns the first slot, searching this CPU's area first, or -1 (Linux
  // swiotlb_find_slots without dynamic pools).
  int find_slots(hal::Hal& h, uint64_t orig, size_t alloc_size, uint64_t alloc_align_mask);
  void release_slots(hal::Hal& h, uint64_t tlb_addr);
  // Copies between the pool and the original buffer (swiotlb_bounce).
  void bounce(hal::Hal& h, uint64_t tlb_addr, size_t size, dma_data_direction dir);
  uint64_t slot_addr(uint64_t index) const { return start_ + (index << IO_TLB_SHIFT); }

  MmContext* ctx_ = nullptr;
  bool force_bounce_ = false;
  uint64_t start_ = 0, end_ = 0, nslabs_ = 0;
  io_tlb_slot* slots_ = nullptr;  // in simulated DRAM, reserved from memblock
  unsigned nareas_ = 0;
  uint64_t area_nslabs_ = 0;
  io_tlb_area* areas_ = nullptr;  // in simulated DRAM, reserved from memblock
  uint64_t total_used_ = 0, used_hiwater_ = 0;
  unsigned full_reports_ = 0;  // dev_warn_ratelimited: its burst
  uint64_t full_window_ns_ = 0;
  SwiotlbStats stats_;
};

}  // namespace fw
