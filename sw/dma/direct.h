// dma-direct (Linux kernel/dma/direct.c, direct.h, include/linux/dma-direct.h):
// DMA without an IOMMU, where a bus address is the physical address. A
// streaming mapping the device can reach is the buffer itself; one it
// cannot reach bounces through swiotlb when there is a pool, and otherwise
// fails with the "DMA addr ... overflow" warning. Coherent memory comes
// from the zone the coherent mask demands (ZONE_DMA up to 24 bits,
// ZONE_DMA32 up to 32, any above), retried in a lower zone when the page it
// got is out of reach; it never bounces.
//
// Internal to sw/dma: drivers use the API of sw/dma/mapping.h.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/dma/mapping.h"
#include "sw/hal/hal.h"

namespace fw {

constexpr uint64_t zone_dma_limit = DMA_BIT_MASK(24);

inline uint64_t min_not_zero(uint64_t a, uint64_t b) { return a == 0 ? b : b == 0 ? a : (a < b ? a : b); }

// Returns true when the device can reach [addr, addr+size) (dma_capable).
bool dma_capable(const device* dev, dma_addr_t addr, size_t size);
// Returns true when dma-direct can serve a device with this mask.
bool dma_direct_supported(const device* dev, uint64_t mask);
uint64_t dma_direct_get_required_mask(const device* dev);
size_t dma_direct_max_mapping_size(const device* dev);

// Return the bus address or DMA_MAPPING_ERROR.
dma_addr_t dma_direct_map_phys(hal::Hal& h, device* dev, uint64_t phys, size_t size, dma_data_direction dir,
                               unsigned long attrs);
void dma_direct_unmap_phys(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir,
                           unsigned long attrs);
void dma_direct_sync_single_for_cpu(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir);
void dma_direct_sync_single_for_device(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir);
// Returns nents, or -EIO when an entry could not be mapped (none stays mapped).
int dma_direct_map_sg(hal::Hal& h, device* dev, scatterlist* sgl, int nents, dma_data_direction dir,
                      unsigned long attrs);
void dma_direct_unmap_sg(hal::Hal& h, device* dev, scatterlist* sgl, int nents, dma_data_direction dir,
                         unsigned long attrs);

// Returns the zeroed buffer's kernel address with *dma_handle set, or nullptr.
void* dma_direct_alloc(hal::Hal& h, device* dev, size_t size, dma_addr_t* dma_handle, gfp_t gfp);
void dma_direct_free(hal::Hal& h, device* dev, size_t size, void* cpu_addr, dma_addr_t dma_addr);

}  // namespace fw
