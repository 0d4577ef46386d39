// Scatter-gather tables (sw/dma/scatterlist.h; Linux lib/scatterlist.c).
#include "sw/dma/scatterlist.h"

#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/slub.h"

namespace fw {

int sg_alloc_table_from_pages_segment(hal::Hal& h, MmContext* ctx, sg_table* sgt, page** pages, unsigned n_pages,
                                      unsigned offset, uint64_t size, uint64_t max_segment, gfp_t gfp) {
  const MmNodes& nodes = *ctx->nodes;
  // First pass: how many runs of contiguous pages (each at most max_segment).
  auto joins = [&](unsigned i, uint64_t run_bytes) {
    return nodes.page_to_pfn(pages[i]) == nodes.page_to_pfn(pages[i - 1]) + 1 && run_bytes + PAGE_SIZE <= max_segment;
  };
  unsigned chunks = 0;
  uint64_t run = 0;
  for (unsigned i = 0; i < n_pages; ++i) {
    if (i == 0 || !joins(i, run)) {
      ++chunks;
      run = 0;
    }
    run += PAGE_SIZE;
  }
  sgt->sgl = static_cast<scatterlist*>(ctx->slab->kzalloc(h, chunks * sizeof(scatterlist), gfp));
  if (!sgt->sgl) return -ENOMEM;
  sgt->orig_nents = chunks;
  sgt->nents = 0;
  // Second pass: fill the entries, trimming the first by offset and the last to size.
  unsigned e = 0;
  uint64_t left = size;
  for (unsigned i = 0; i < n_pages && left;) {
    unsigned j = i + 1;
    uint64_t bytes = PAGE_SIZE;
    while (j < n_pages && joins(j, bytes)) bytes += PAGE_SIZE, ++j;
    const uint32_t off = i == 0 ? offset : 0;
    const uint64_t len = bytes - off < left ? bytes - off : left;
    sg_set_page(&sgt->sgl[e++], pages[i], static_cast<uint32_t>(len), off);
    left -= len;
    i = j;
  }
  sgt->orig_nents = e;
  return 0;
}

void sg_free_table(hal::Hal& h, MmContext* ctx, sg_table* sgt) {
  if (sgt->sgl) ctx->slab->kfree(h, sgt->sgl);
  sgt->sgl = nullptr;
  sgt->nents = sgt->orig_nents = 0;
}

}  // namespace fw
