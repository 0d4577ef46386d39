// The DMA API (sw/dma/mapping.h; Linux kernel/dma/mapping.c): every call
// goes to dma-direct, is checked by dma-debug, counted, and the ranges it
// maps or unmaps are reported to the bus-side checker.
#include "sw/dma/mapping.h"

#include "sw/dma/direct.h"
#include "sw/dma/dma.h"
#include "sw/dma/scatterlist.h"
#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"

namespace fw {

namespace {

Dma& dma_of(const device* dev) { return *dev->dma; }

}  // namespace

// ---------------------------------------------------------------- masks

int dma_set_mask(hal::Hal& h, device* dev, uint64_t mask) {
  (void)h;
  if (!dev->dma_mask || !dma_direct_supported(dev, mask)) {
    ++dma_of(dev).stats().mask_rejected;
    return -EIO;
  }
  *dev->dma_mask = mask;
  return 0;
}

int dma_set_coherent_mask(hal::Hal& h, device* dev, uint64_t mask) {
  (void)h;
  if (!dma_direct_supported(dev, mask)) {
    ++dma_of(dev).stats().mask_rejected;
    return -EIO;
  }
  dev->coherent_dma_mask = mask;
  return 0;
}

int dma_set_mask_and_coherent(hal::Hal& h, device* dev, uint64_t mask) {
  const int rc = dma_set_mask(h, dev, mask);
  return rc ? rc : dma_set_coherent_mask(h, dev, mask);
}

uint64_t dma_get_required_mask(const device* dev) { return dma_direct_get_required_mask(dev); }

bool dma_addressing_limited(const device* dev) {
  return min_not_zero(*dev->dma_mask, dev->bus_dma_limit) < dma_get_required_mask(dev);
}

size_t dma_max_mapping_size(const device* dev) { return dma_direct_max_mapping_size(dev); }

// ---------------------------------------------------------------- coherent

void* dma_alloc_coherent(hal::Hal& h, device* dev, size_t size, dma_addr_t* dma_handle, gfp_t gfp) {
  Dma& dma = dma_of(dev);
  // The zone follows the mask, not the caller (dma_alloc_attrs).
  gfp &= ~(__GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM);
  void* cpu_addr = dev->coherent_dma_mask ? dma_direct_alloc(h, dev, size, dma_handle, gfp) : nullptr;
  if (!cpu_addr) {
    ++dma.stats().alloc_coherent_failed;
    return nullptr;
  }
  ++dma.stats().alloc_coherent;
  dma.debug().alloc_coherent(h, dev, size, *dma_handle, *dma_handle);
  dma.checker().map(h, dev, *dma_handle, PAGE_ALIGN(size));
  dma.trace(h, "dma: %s: coherent %zu bytes at %#lx", dev_name(dev), size, static_cast<unsigned long>(*dma_handle));
  return cpu_addr;
}

void dma_free_coherent(hal::Hal& h, device* dev, size_t size, void* cpu_addr, dma_addr_t dma_handle) {
  Dma& dma = dma_of(dev);
  if (!cpu_addr) return;
  ++dma.stats().free_coherent;
  dma.debug().free_coherent(h, dev, size, dma_handle, dma_handle);
  dma.checker().unmap(h, dev, dma_handle, PAGE_ALIGN(size));
  dma_direct_free(h, dev, size, cpu_addr, dma_handle);
}

// ---------------------------------------------------------------- streaming

dma_addr_t dma_map_page_attrs(hal::Hal& h, device* dev, page* p, size_t offset, size_t size, dma_data_direction dir,
                              unsigned long attrs) {
  Dma& dma = dma_of(dev);
  const uint64_t phys = dma.ctx()->nodes->page_to_phys(p) + offset;
  const dma_addr_t addr = dma_direct_map_phys(h, dev, phys, size, dir, attrs);
  ++dma.stats().map_page;
  if (addr == DMA_MAPPING_ERROR) {
    ++dma.stats().map_errors;
  } else {
    dma.checker().map(h, dev, addr, size);
    dma.trace(h, "dma: %s: map %#lx+%zu at %#lx", dev_name(dev), static_cast<unsigned long>(phys), size,
              static_cast<unsigned long>(addr));
  }
  dma.debug().map_phys(h, dev, phys, size, dir, addr);
  return addr;
}

void dma_unmap_page_attrs(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir,
                          unsigned long attrs) {
  Dma& dma = dma_of(dev);
  ++dma.stats().unmap_page;
  dma.checker().unmap(h, dev, addr, size);
  dma.trace(h, "dma: %s: unmap %#lx+%zu", dev_name(dev), static_cast<unsigned long>(addr), size);
  dma_direct_unmap_phys(h, dev, addr, size, dir, attrs);
  dma.debug().unmap_phys(h, dev, addr, size, dir);
}

dma_addr_t dma_map_single(hal::Hal& h, device* dev, void* ptr, size_t size, dma_data_direction dir) {
  const MmNodes& nodes = *dma_of(dev).ctx()->nodes;
  page* p = nodes.virt_to_page(ptr);
  if (!p) return DMA_MAPPING_ERROR;
  const size_t offset = static_cast<size_t>(reinterpret_cast<uintptr_t>(ptr) & (PAGE_SIZE - 1));
  return dma_map_page_attrs(h, dev, p, offset, size, dir, 0);
}

void dma_unmap_single(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir) {
  dma_unmap_page_attrs(h, dev, addr, size, dir, 0);
}

unsigned dma_map_sg_attrs(hal::Hal& h, device* dev, scatterlist* sg, int nents, dma_data_direction dir,
                          unsigned long attrs) {
  Dma& dma = dma_of(dev);
  const int ents = dma_direct_map_sg(h, dev, sg, nents, dir, attrs);
  ++dma.stats().map_sg;
  if (ents <= 0) {
    ++dma.stats().map_errors;
    return 0;
  }
  dma.stats().map_sg_entries += static_cast<uint64_t>(ents);
  for (int i = 0; i < ents; ++i) dma.checker().map(h, dev, sg[i].dma_address, sg[i].dma_length);
  dma.debug().map_sg(h, dev, sg, nents, ents, dir);
  return static_cast<unsigned>(ents);
}

void dma_unmap_sg_attrs(hal::Hal& h, device* dev, scatterlist* sg, int nents, dma_data_direction dir,
                        unsigned long attrs) {
  Dma& dma = dma_of(dev);
  ++dma.stats().unmap_sg;
  dma.debug().unmap_sg(h, dev, sg, nents, dir);
  for (int i = 0; i < nents; ++i) dma.checker().unmap(h, dev, sg[i].dma_address, sg[i].dma_length);
  dma_direct_unmap_sg(h, dev, sg, nents, dir, attrs);
}

int dma_map_sgtable(hal::Hal& h, device* dev, sg_table* sgt, dma_data_direction dir, unsigned long attrs) {
  const unsigned n = dma_map_sg_attrs(h, dev, sgt->sgl, static_cast<int>(sgt->orig_nents), dir, attrs);
  if (!n) return -EIO;
  sgt->nents = n;
  return 0;
}

void dma_unmap_sgtable(hal::Hal& h, device* dev, sg_table* sgt, dma_data_direction dir, unsigned long attrs) {
  dma_unmap_sg_attrs(h, dev, sgt->sgl, static_cast<int>(sgt->orig_nents), dir, attrs);
}

// ---------------------------------------------------------------- sync

void dma_sync_single_for_cpu(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir) {
  ++dma_of(dev).stats().sync_for_cpu;
  dma_direct_sync_single_for_cpu(h, dev, addr, size, dir);
  dma_of(dev).debug().sync_single(h, dev, addr, size, dir, true);
}

void dma_sync_single_for_device(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir) {
  ++dma_of(dev).stats().sync_for_device;
  dma_direct_sync_single_for_device(h, dev, addr, size, dir);
  dma_of(dev).debug().sync_single(h, dev, addr, size, dir, false);
}

void dma_sync_sg_for_cpu(hal::Hal& h, device* dev, scatterlist* sg, int nents, dma_data_direction dir) {
  ++dma_of(dev).stats().sync_for_cpu;
  for (int i = 0; i < nents; ++i) dma_direct_sync_single_for_cpu(h, dev, sg[i].dma_address, sg[i].dma_length, dir);
  dma_of(dev).debug().sync_sg(h, dev, sg, nents, dir, true);
}

void dma_sync_sg_for_device(hal::Hal& h, device* dev, scatterlist* sg, int nents, dma_data_direction dir) {
  ++dma_of(dev).stats().sync_for_device;
  for (int i = 0; i < nents; ++i) dma_direct_sync_single_for_device(h, dev, sg[i].dma_address, sg[i].dma_length, dir);
  dma_of(dev).debug().sync_sg(h, dev, sg, nents, dir, false);
}

int dma_mapping_error(device* dev, dma_addr_t addr) {
  dma_of(dev).debug().mapping_error(dev, addr);
  return addr == DMA_MAPPING_ERROR ? -ENOMEM : 0;
}

}  // namespace fw
