// DMA-API debugging (Linux kernel/dma/debug.c, CONFIG_DMA_API_DEBUG): a
// table of every mapping and coherent buffer the DMA API handed out, and
// the checks on each unmap, free and sync against it, reported with
// Linux's messages ("DMA-API: <driver> <device>: device driver frees DMA
// memory with different size ..."): unmapping what was never mapped (a
// double unmap too), with the wrong size, direction or function, a map
// whose error the driver never checked, syncs outside a mapping or in the
// wrong direction, and mappings a driver still holds when it lets go of its
// device (its last user closed it: mmcosim's stand-in for unbinding).
// `firmware.dma_debug` turns it off (dma_debug=off); as Linux, only the first
// `dma_debug_num_errors` reports are printed, every one is counted.
//
// Departures: entries are kmalloc'ed as needed rather than preallocated
// (Linux reserves 65536 at boot, which would change every run's memory);
// the report names the function that found the problem instead of a
// backtrace. /proc/dma_mappings stands for debugfs' dma-api/dump.
//
// Users: the DMA API (sw/dma/mapping.cpp), drivers (release), tests.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/dma/mapping.h"
#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/context.h"

namespace fw {

struct seq_file;

enum dma_debug_type : int { dma_debug_single, dma_debug_sg, dma_debug_coherent, dma_debug_noncoherent, dma_debug_phy };
enum map_err_types : int { MAP_ERR_CHECK_NOT_APPLICABLE, MAP_ERR_NOT_CHECKED, MAP_ERR_CHECKED };

struct dma_debug_entry {
  list_head list;
  device* dev;
  uint64_t dev_addr;
  uint64_t size;
  int type;
  int direction;
  int sg_call_ents;
  int sg_mapped_ents;
  uint64_t paddr;
  int map_err_type;
};

struct DmaDebugStats {
  uint64_t error_count = 0;  // every problem found
  uint64_t entries = 0;      // mappings tracked now
  uint64_t max_entries = 0;
  uint64_t leaked = 0;  // mappings still held when their driver let go of the device
};

class DmaDebug {
 public:
  static constexpr unsigned kHashSize = 1024;

  void init(MmContext* ctx);
  bool enabled() const { return enabled_; }

  // Called by the DMA API after the operation (debug_dma_*).
  void map_phys(hal::Hal& h, device* dev, uint64_t phys, size_t size, int dir, dma_addr_t dma_addr);
  void unmap_phys(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, int dir);
  void map_sg(hal::Hal& h, device* dev, scatterlist* sg, int nents, int mapped_ents, int dir);
  void unmap_sg(hal::Hal& h, device* dev, scatterlist* sg, int nents, int dir);
  void alloc_coherent(hal::Hal& h, device* dev, size_t size, dma_addr_t dma_addr, uint64_t paddr);
  void free_coherent(hal::Hal& h, device* dev, size_t size, uint64_t paddr, dma_addr_t dma_addr);
  void sync_single(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, int dir, bool to_cpu);
  void sync_sg(hal::Hal& h, device* dev, scatterlist* sg, int nents, int dir, bool to_cpu);
  void mapping_error(device* dev, dma_addr_t addr);
  // The driver lets go of dev: reports the mappings it still holds (Linux's
  // BUS_NOTIFY_UNBOUND_DRIVER check). Returns their number.
  unsigned device_release(hal::Hal& h, device* dev);
  // The mappings of dev tracked now.
  unsigned device_entries(const device* dev) const;

  const DmaDebugStats& stats() const { return stats_; }
  void visit_stats(StatVisitor& v, const char* prefix) const;
  // /proc/dma_mappings: one line per mapping, as dma-api/dump.
  void dump(seq_file* m) const;

 private:
  list_head* bucket(uint64_t dev_addr) { return &hash_[(dev_addr >> 13) % kHashSize]; }
  void add_entry(hal::Hal& h, const dma_debug_entry& ref);
  // The entry of ref's device at ref's address that best matches ref (Linux
  // bucket_find_exact), or nullptr.
  dma_debug_entry* find_exact(const dma_debug_entry& ref);
  // The entry of ref's device whose range holds ref's (bucket_find_contain).
  dma_debug_entry* find_contain(const dma_debug_entry& ref);
  void check_unmap(hal::Hal& h, const dma_debug_entry& ref);
  void check_sync(hal::Hal& h, const dma_debug_entry& ref, bool to_cpu);
  void remove(hal::Hal& h, dma_debug_entry* e);
  // err_printk: counts the problem; prints the first num_errors.
  void err_printk(hal::Hal& h, const device* dev, const char* where, const char* fmt, ...) FW_PRINTF(5, 6);

  MmContext* ctx_ = nullptr;
  bool enabled_ = true;
  list_head hash_[kHashSize];
  SpinLock lock_;
  uint64_t shown_ = 0;
  DmaDebugStats stats_;
};

}  // namespace fw
