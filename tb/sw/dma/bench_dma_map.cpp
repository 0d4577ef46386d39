// The cost of a streaming DMA mapping on the host HAL (host time): map +
// unmap of one buffer by the 32-bit device, when the device reaches it
// (dma-direct: the buffer is its own bus address) and when it does not
// (swiotlb: a bounce buffer, data copied in on map and, for a device that
// writes, back on unmap). Counters: copied_per_byte is the bytes swiotlb
// copied per byte mapped (0 direct; 1 to the device; 2 both ways).
// Figures: docs/dma.md. A figure of merit is the ratio bounce/direct,
// measured in the same run.
#include <benchmark/benchmark.h>

#include "tb/sw/dma/dma_rig.h"

using namespace fwtest;

namespace {

DmaRig& rig() {
  static DmaRig r;  // 8 GiB: swiotlb on, ordinary pages above 4 GiB
  return r;
}

void map_unmap(benchmark::State& st, fw::gfp_t zone, fw::dma_data_direction dir) {
  DmaRig& r = rig();
  fw::device* d = r.dev("dma1");
  const size_t size = static_cast<size_t>(st.range(0));
  const unsigned order = fw::get_order(size);
  fw::page* p = r.k->page_alloc().alloc_pages(r.cpu(), zone, order);
  const uint64_t before = r.stat("swiotlb.bounced_bytes_to_device") + r.stat("swiotlb.bounced_bytes_from_device");
  for (auto _ : st) {
    const fw::dma_addr_t a = fw::dma_map_page(r.cpu(), d, p, 0, size, dir);
    if (fw::dma_mapping_error(d, a)) st.SkipWithError("mapping failed");
    fw::dma_unmap_page(r.cpu(), d, a, size, dir);
  }
  const uint64_t copied =
      r.stat("swiotlb.bounced_bytes_to_device") + r.stat("swiotlb.bounced_bytes_from_device") - before;
  st.counters["copied_per_byte"] = static_cast<double>(copied) / (static_cast<double>(size) * st.iterations());
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * size));
  r.k->page_alloc().free_pages(r.cpu(), p, order);
}

void BM_map_unmap_direct(benchmark::State& st) { map_unmap(st, fw::GFP_DMA32, fw::DMA_TO_DEVICE); }
void BM_map_unmap_bounce_to_device(benchmark::State& st) { map_unmap(st, fw::GFP_KERNEL, fw::DMA_TO_DEVICE); }
void BM_map_unmap_bounce_bidirectional(benchmark::State& st) { map_unmap(st, fw::GFP_KERNEL, fw::DMA_BIDIRECTIONAL); }
BENCHMARK(BM_map_unmap_direct)->Arg(4096)->Arg(65536);
BENCHMARK(BM_map_unmap_bounce_to_device)->Arg(4096)->Arg(65536);
BENCHMARK(BM_map_unmap_bounce_bidirectional)->Arg(4096)->Arg(65536);

}  // namespace

BENCHMARK_MAIN();
