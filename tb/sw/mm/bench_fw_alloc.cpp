// Per-operation costs of the page and slab allocators on the host HAL
// (host time; the simulated time they charge is a parameter):
//   order-0 allocate+free through the per-CPU lists,
//   order-9 allocate+free (the per-CPU THP lists),
//   order-9 allocate+free through the buddy lists (no per-CPU list),
//   kmalloc(64)+kfree, and kmem_cache_alloc+free of a 256-byte cache.
#include <benchmark/benchmark.h>

#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

Rig& rig() {
  static Rig r(spec_mb(1024));
  return r;
}

void BM_order0_alloc_free_pcp(benchmark::State& st) {
  Rig& r = rig();
  fw::PageAlloc& pa = r.k->page_alloc();
  hosthal::HostHal& h = r.cpu();
  for (auto _ : st) {
    fw::page* p = pa.alloc_pages(h, fw::GFP_KERNEL, 0);
    benchmark::DoNotOptimize(p);
    pa.free_pages(h, p, 0);
  }
}
BENCHMARK(BM_order0_alloc_free_pcp);

void BM_order9_alloc_free(benchmark::State& st) {
  Rig& r = rig();
  fw::PageAlloc& pa = r.k->page_alloc();
  hosthal::HostHal& h = r.cpu();
  for (auto _ : st) {
    fw::page* p = pa.alloc_pages(h, fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_COMP, 9);
    benchmark::DoNotOptimize(p);
    pa.free_pages(h, p, 9);
  }
}
BENCHMARK(BM_order9_alloc_free);

void BM_order9_alloc_free_buddy(benchmark::State& st) {
  // Two blocks at a time: the second misses the one-block per-CPU list.
  Rig& r = rig();
  fw::PageAlloc& pa = r.k->page_alloc();
  hosthal::HostHal& h = r.cpu();
  for (auto _ : st) {
    fw::page* a = pa.alloc_pages(h, fw::GFP_KERNEL, 10);
    benchmark::DoNotOptimize(a);
    pa.free_pages(h, a, 10);
  }
}
BENCHMARK(BM_order9_alloc_free_buddy)->Name("BM_order10_alloc_free_buddy");

void BM_kmalloc64_kfree(benchmark::State& st) {
  Rig& r = rig();
  fw::Slab& s = r.k->slab();
  hosthal::HostHal& h = r.cpu();
  for (auto _ : st) {
    void* p = s.kmalloc(h, 64, fw::GFP_KERNEL);
    benchmark::DoNotOptimize(p);
    s.kfree(h, p);
  }
}
BENCHMARK(BM_kmalloc64_kfree);

void BM_kmem_cache_alloc_free(benchmark::State& st) {
  Rig& r = rig();
  fw::Slab& s = r.k->slab();
  hosthal::HostHal& h = r.cpu();
  static fw::kmem_cache* c = s.kmem_cache_create("bench256", 256, 0, 0, nullptr);
  for (auto _ : st) {
    void* p = s.kmem_cache_alloc(h, c, fw::GFP_KERNEL);
    benchmark::DoNotOptimize(p);
    s.kmem_cache_free(h, c, p);
  }
}
BENCHMARK(BM_kmem_cache_alloc_free);

}  // namespace

BENCHMARK_MAIN();
