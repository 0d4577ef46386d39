// Scatter-gather lists (Linux include/linux/scatterlist.h, lib/scatterlist.c):
// a buffer as pieces of physical memory, each mapped for a device by
// dma_map_sg. Built from pinned user pages by
// sg_alloc_table_from_pages_segment, which joins physically contiguous
// pages into one piece up to the device's largest segment (as Linux does;
// it is dma_map_sg that, without an IOMMU, merges nothing).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/dma/mapping.h"
#include "sw/hal/hal.h"
#include "sw/mm/context.h"

namespace fw {

struct scatterlist {
  page* pg;                // the first page of the piece
  uint32_t offset;         // into that page
  uint32_t length;         // bytes
  dma_addr_t dma_address;  // set by dma_map_sg
  uint32_t dma_length;
};

struct sg_table {
  scatterlist* sgl;
  unsigned nents;       // mapped entries (dma_map_sgtable)
  unsigned orig_nents;  // entries of sgl
};

inline void sg_set_page(scatterlist* sg, page* p, uint32_t len, uint32_t offset) {
  sg->pg = p;
  sg->length = len;
  sg->offset = offset;
  sg->dma_address = 0;
  sg->dma_length = 0;
}

// Builds sgt over `size` bytes of the n_pages pages starting `offset` bytes
// into the first, one entry per run of physically contiguous pages of at
// most max_segment bytes. Returns 0 or -ENOMEM (the list could not be
// allocated).
int sg_alloc_table_from_pages_segment(hal::Hal& h, MmContext* ctx, sg_table* sgt, page** pages, unsigned n_pages,
                                      unsigned offset, uint64_t size, uint64_t max_segment, gfp_t gfp);
void sg_free_table(hal::Hal& h, MmContext* ctx, sg_table* sgt);

}  // namespace fw
