#include "sw/dma/direct.h"

#include "sw/dma/dma.h"
#include "sw/dma/scatterlist.h"
#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/mm/cma.h"
#include "sw/mm/internal.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"

namespace fw {

namespace {

constexpr unsigned CMA_ALIGNMENT = 8;  // CONFIG_CMA_ALIGNMENT

MmContext& ctx_of(const device* dev) { return *dev->dma->ctx(); }

uint64_t dma_limit(const device* dev) { return min_not_zero(*dev->dma_mask, dev->bus_dma_limit); }

// Returns true when the coherent buffer [phys, phys+size) is within the
// coherent mask (dma_coherent_ok).
bool dma_coherent_ok(const device* dev, uint64_t phys, size_t size) {
  return phys + size - 1 <= min_not_zero(dev->coherent_dma_mask, dev->bus_dma_limit);
}

// The zone modifier the coherent mask calls for, and its limit
// (dma_direct_optimal_gfp_mask).
gfp_t dma_direct_optimal_gfp_mask(const device* dev, uint64_t* phys_limit) {
  *phys_limit = min_not_zero(dev->coherent_dma_mask, dev->bus_dma_limit);
  if (*phys_limit <= zone_dma_limit) return GFP_DMA;
  if (*phys_limit <= DMA_BIT_MASK(32)) return GFP_DMA32;
  return 0;
}

// Returns pages from the CMA area for a blocking request of more than a
// page, or nullptr (dma_alloc_contiguous, with cma= as the default area).
page* dma_alloc_contiguous(hal::Hal& h, device* dev, size_t size, gfp_t gfp) {
  Cma& cma = *ctx_of(dev).cma;
  if (!(gfp & __GFP_DIRECT_RECLAIM) || size <= PAGE_SIZE || !cma.present()) return nullptr;
  return cma.cma_alloc(h, size >> PAGE_SHIFT, min(get_order(size), CMA_ALIGNMENT));
}

void dma_free_contiguous(hal::Hal& h, device* dev, page* p, size_t size) {
  MmContext& ctx = ctx_of(dev);
  if (ctx.cma->present() && ctx.cma->cma_release(h, p, PAGE_ALIGN(size) >> PAGE_SHIFT)) return;
  ctx.page_alloc->free_pages(h, p, get_order(size));
}

// Returns pages the device reaches, trying the zone its mask calls for and
// then lower ones when what came back is out of reach
// (__dma_direct_alloc_pages).
page* dma_direct_alloc_pages(hal::Hal& h, device* dev, size_t size, gfp_t gfp) {
  MmContext& ctx = ctx_of(dev);
  uint64_t phys_limit = 0;
  gfp |= dma_direct_optimal_gfp_mask(dev, &phys_limit);
  page* p = dma_alloc_contiguous(h, dev, size, gfp);
  if (p) {
    if (dma_coherent_ok(dev, ctx.nodes->page_to_phys(p), size)) return p;
    dma_free_contiguous(h, dev, p, size);
  }
  const unsigned order = get_order(size);
  while ((p = ctx.page_alloc->alloc_pages(h, gfp, order, dev->numa_node)) &&
         !dma_coherent_ok(dev, ctx.nodes->page_to_phys(p), size)) {
    ctx.page_alloc->free_pages(h, p, order);
    ++dev->dma->stats().alloc_coherent_retries;
    if (phys_limit < DMA_BIT_MASK(64) && !(gfp & (GFP_DMA32 | GFP_DMA)))
      gfp |= GFP_DMA32;
    else if (!(gfp & GFP_DMA))
      gfp = (gfp & ~GFP_DMA32) | GFP_DMA;
    else
      return nullptr;
  }
  return p;
}

// A streaming mapping through the bounce pool (swiotlb_map). Returns the
// bounce buffer's bus address, or DMA_MAPPING_ERROR.
dma_addr_t swiotlb_map(hal::Hal& h, device* dev, uint64_t phys, size_t size, dma_data_direction dir,
                       unsigned long attrs) {
  Dma& dma = *dev->dma;
  const uint64_t tlb = dma.swiotlb().tbl_map_single(h, dev, phys, size, dir, attrs);
  if (tlb == DMA_MAPPING_ERROR) return DMA_MAPPING_ERROR;
  // The pool itself may be out of the device's reach (a 24-bit device: the
  // pool lies below 4 GiB, not below 16 MiB).
  if (!dma_capable(dev, tlb, size)) {
    dma.swiotlb().tbl_unmap_single(h, dev, tlb, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
    ++dma.stats().overflow;
    if (dma.warn_once(WARN_SWIOTLB_OVERFLOW_MAP))
      dma.dev_warn(h, dev, "swiotlb.c", "swiotlb_map", "swiotlb addr 0x%016lx+%zu overflow (mask %lx, bus limit %lx).",
                   static_cast<unsigned long>(tlb), size, static_cast<unsigned long>(*dev->dma_mask),
                   static_cast<unsigned long>(dev->bus_dma_limit));
    return DMA_MAPPING_ERROR;
  }
  ++dma.stats().bounced_maps;
  dma.trace(h, "dma: %s: map %#lx+%zu bounced to %#lx (%s)", dev_name(dev), static_cast<unsigned long>(phys), size,
            static_cast<unsigned long>(tlb),
            dir == DMA_TO_DEVICE     ? "to device"
            : dir == DMA_FROM_DEVICE ? "from device"
                                     : "both ways");
  return tlb;
}

}  // namespace

bool dma_capable(const device* dev, dma_addr_t addr, size_t size) {
  if (addr == DMA_MAPPING_ERROR) return false;
  return addr + size - 1 <= dma_limit(dev);
}

bool dma_direct_supported(const device* dev, uint64_t mask) {
  // 32-bit masks are served by ZONE_DMA32; below, the mask must at least
  // cover ZONE_DMA (or all RAM).
  if (mask >= DMA_BIT_MASK(32)) return true;
  const uint64_t max_pfn = ctx_of(dev).nodes->max_pfn();
  const uint64_t min_mask = min((max_pfn - 1) << PAGE_SHIFT, zone_dma_limit);
  return mask >= min_mask;
}

uint64_t dma_direct_get_required_mask(const device* dev) {
  const uint64_t max_dma = (ctx_of(dev).nodes->max_pfn() - 1) << PAGE_SHIFT;
  return (1ull << fls64(max_dma)) * 2 - 1;
}

size_t dma_direct_max_mapping_size(const device* dev) {
  const Swiotlb& sw = dev->dma->swiotlb();
  if (sw.active() && (dma_addressing_limited(dev) || sw.force_bounce())) return Swiotlb::max_mapping_size();
  return ~static_cast<size_t>(0);
}

dma_addr_t dma_direct_map_phys(hal::Hal& h, device* dev, uint64_t phys, size_t size, dma_data_direction dir,
                               unsigned long attrs) {
  Dma& dma = *dev->dma;
  if (dma.swiotlb().force_bounce()) return swiotlb_map(h, dev, phys, size, dir, attrs);
  const dma_addr_t dma_addr = phys;  // no offset between CPU and bus addresses
  if (!dma_capable(dev, dma_addr, size)) {
    if (dma.swiotlb().active()) return swiotlb_map(h, dev, phys, size, dir, attrs);
    ++dma.stats().overflow;
    if (dma.warn_once(WARN_DIRECT_OVERFLOW))
      dma.dev_warn(h, dev, "direct.h", "dma_direct_map_phys",
                   "DMA addr 0x%016lx+%zu overflow (mask %lx, bus limit %lx).", static_cast<unsigned long>(dma_addr),
                   size, static_cast<unsigned long>(*dev->dma_mask), static_cast<unsigned long>(dev->bus_dma_limit));
    return DMA_MAPPING_ERROR;
  }
  return dma_addr;
}

void dma_direct_sync_single_for_device(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir) {
  Swiotlb& sw = dev->dma->swiotlb();
  if (sw.is_swiotlb_buffer(addr)) sw.sync_single_for_device(h, addr, size, dir);
}

void dma_direct_sync_single_for_cpu(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir) {
  Swiotlb& sw = dev->dma->swiotlb();
  if (sw.is_swiotlb_buffer(addr)) sw.sync_single_for_cpu(h, addr, size, dir);
}

void dma_direct_unmap_phys(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, dma_data_direction dir,
                           unsigned long attrs) {
  if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC)) dma_direct_sync_single_for_cpu(h, dev, addr, size, dir);
  Swiotlb& sw = dev->dma->swiotlb();
  if (sw.is_swiotlb_buffer(addr)) {
    sw.tbl_unmap_single(h, dev, addr, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
    dev->dma->trace(h, "dma: %s: unmap bounce buffer %#lx+%zu", dev_name(dev), static_cast<unsigned long>(addr), size);
  }
}

int dma_direct_map_sg(hal::Hal& h, device* dev, scatterlist* sgl, int nents, dma_data_direction dir,
                      unsigned long attrs) {
  const MmNodes& nodes = *ctx_of(dev).nodes;
  for (int i = 0; i < nents; ++i) {
    scatterlist* sg = &sgl[i];
    sg->dma_address = dma_direct_map_phys(h, dev, nodes.page_to_phys(sg->pg) + sg->offset, sg->length, dir, attrs);
    if (sg->dma_address == DMA_MAPPING_ERROR) {
      dma_direct_unmap_sg(h, dev, sgl, i, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
      return -EIO;
    }
    sg->dma_length = sg->length;
  }
  return nents;
}

void dma_direct_unmap_sg(hal::Hal& h, device* dev, scatterlist* sgl, int nents, dma_data_direction dir,
                         unsigned long attrs) {
  for (int i = 0; i < nents; ++i) dma_direct_unmap_phys(h, dev, sgl[i].dma_address, sgl[i].dma_length, dir, attrs);
}

void* dma_direct_alloc(hal::Hal& h, device* dev, size_t size, dma_addr_t* dma_handle, gfp_t gfp) {
  MmContext& ctx = ctx_of(dev);
  size = PAGE_ALIGN(size);
  page* p = dma_direct_alloc_pages(h, dev, size, gfp & ~__GFP_ZERO);
  if (!p) return nullptr;
  const uint64_t phys = ctx.nodes->page_to_phys(p);
  // Cleared through the HAL, so memory holding an error is not handed out.
  if (h.phys_fill(phys, 0, size) != hal::MemStatus::ok) {
    dma_free_contiguous(h, dev, p, size);
    return nullptr;
  }
  *dma_handle = phys;
  return ctx.nodes->page_address(p);
}

void dma_direct_free(hal::Hal& h, device* dev, size_t size, void* cpu_addr, dma_addr_t dma_addr) {
  (void)cpu_addr;
  page* p = ctx_of(dev).nodes->phys_to_page(dma_addr);
  if (p) dma_free_contiguous(h, dev, p, PAGE_ALIGN(size));
}

}  // namespace fw
