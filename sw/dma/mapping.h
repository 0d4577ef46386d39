// The DMA API (Linux include/linux/dma-mapping.h, kernel/dma/mapping.c),
// for drivers: masks, coherent memory, streaming mappings of single buffers,
// pages and scatter-gather lists, syncs, and the mapping-error test. There
// is no IOMMU: every call goes to dma-direct (sw/dma/direct.cpp), which
// bounces through swiotlb (sw/dma/swiotlb.cpp) what the device cannot
// reach; dma-debug (sw/dma/debug.cpp) checks the calls as
// CONFIG_DMA_API_DEBUG does, and every mapping made or undone is reported to
// the bus-side DMA checker (sw/dma/checker.h).
//
// Each function takes the HAL of the calling CPU first (the firmware's way
// to reach memory and time), then Linux's arguments.
//
// Users: sw/drivers/dma, tests (tb/sw/dma).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/dma/device.h"
#include "sw/hal/hal.h"
#include "sw/mm/gfp.h"

namespace fw {

struct page;
struct scatterlist;
struct sg_table;

using dma_addr_t = uint64_t;

// What a failed streaming map returns; test it with dma_mapping_error().
constexpr dma_addr_t DMA_MAPPING_ERROR = ~0ull;

constexpr uint64_t DMA_BIT_MASK(unsigned n) { return n >= 64 ? ~0ull : (1ull << n) - 1; }

enum dma_data_direction : int {
  DMA_BIDIRECTIONAL = 0,
  DMA_TO_DEVICE = 1,
  DMA_FROM_DEVICE = 2,
  DMA_NONE = 3,
};
inline bool valid_dma_direction(int dir) {
  return dir == DMA_BIDIRECTIONAL || dir == DMA_TO_DEVICE || dir == DMA_FROM_DEVICE;
}

// Attributes (Linux's DMA_ATTR_* values).
constexpr unsigned long DMA_ATTR_SKIP_CPU_SYNC = 1ul << 5;
constexpr unsigned long DMA_ATTR_NO_WARN = 1ul << 8;

// ---- Masks ----
// Returns 0, or -EIO when the device cannot work with the mask (dma-direct:
// a mask below 24 bits, unless all RAM lies under it).
int dma_set_mask(hal::Hal& h, device* dev, uint64_t mask);
int dma_set_coherent_mask(hal::Hal& h, device* dev, uint64_t mask);
// Returns dma_set_mask's result, then dma_set_coherent_mask's.
int dma_set_mask_and_coherent(hal::Hal& h, device* dev, uint64_t mask);
// Returns the mask that covers all RAM (dma_get_required_mask).
uint64_t dma_get_required_mask(const device* dev);
// Returns true when the device cannot reach all RAM directly.
bool dma_addressing_limited(const device* dev);
// Returns the largest single mapping the device can get (swiotlb's 256 KiB
// when it may bounce), SIZE_MAX otherwise.
size_t dma_max_mapping_size(const device* dev);

// ---- Coherent memory ----
// Returns the kernel address (direct map) of a zeroed buffer the device
// reaches at *dma_handle, from the zone its coherent mask demands, or
// nullptr. Never bounces.
void* dma_alloc_coherent(hal::Hal& h, device* dev, size_t size, dma_addr_t* dma_handle, gfp_t gfp);
void dma_free_coherent(hal::Hal& h, device* dev, size_t size, void* cpu_addr, dma_addr_t dma_handle);

// ---- Streaming mappings ----
// Return the bus address the device uses, or DMA_MAPPING_ERROR.
dma_addr_t dma_map_page_attrs(hal::Hal& h, device* dev, page* p, size_t offset, size_t size, dma_data_direction dir,
                              unsigned long attrs);
void dma_unmap_page_attrs(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir,
                          unsigned long attrs);
inline dma_addr_t dma_map_page(hal::Hal& h, device* dev, page* p, size_t offset, size_t size, dma_data_direction dir) {
  return dma_map_page_attrs(h, dev, p, offset, size, dir, 0);
}
inline void dma_unmap_page(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir) {
  dma_unmap_page_attrs(h, dev, addr, size, dir, 0);
}
// ptr: a kernel address in the direct map.
dma_addr_t dma_map_single(hal::Hal& h, device* dev, void* ptr, size_t size, dma_data_direction dir);
void dma_unmap_single(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir);
// Returns the entries mapped (every one: without an IOMMU nothing merges),
// or 0 when one could not be mapped (then none is).
unsigned dma_map_sg_attrs(hal::Hal& h, device* dev, scatterlist* sg, int nents, dma_data_direction dir,
                          unsigned long attrs);
void dma_unmap_sg_attrs(hal::Hal& h, device* dev, scatterlist* sg, int nents, dma_data_direction dir,
                        unsigned long attrs);
inline unsigned dma_map_sg(hal::Hal& h, device* dev, scatterlist* sg, int nents, dma_data_direction dir) {
  return dma_map_sg_attrs(h, dev, sg, nents, dir, 0);
}
inline void dma_unmap_sg(hal::Hal& h, device* dev, scatterlist* sg, int nents, dma_data_direction dir) {
  dma_unmap_sg_attrs(h, dev, sg, nents, dir, 0);
}
// Returns 0 (sgt->nents set), or -EIO when an entry could not be mapped
// (the device cannot reach it and swiotlb cannot serve it).
int dma_map_sgtable(hal::Hal& h, device* dev, sg_table* sgt, dma_data_direction dir, unsigned long attrs);
void dma_unmap_sgtable(hal::Hal& h, device* dev, sg_table* sgt, dma_data_direction dir, unsigned long attrs);

// ---- Ownership between CPU and device (bouncing copies data) ----
void dma_sync_single_for_cpu(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir);
void dma_sync_single_for_device(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir);
void dma_sync_sg_for_cpu(hal::Hal& h, device* dev, scatterlist* sg, int nents, dma_data_direction dir);
void dma_sync_sg_for_device(hal::Hal& h, device* dev, scatterlist* sg, int nents, dma_data_direction dir);

// Returns -ENOMEM (6.18's value) when addr is DMA_MAPPING_ERROR, else 0;
// tells dma-debug the driver checked.
int dma_mapping_error(device* dev, dma_addr_t addr);

}  // namespace fw
