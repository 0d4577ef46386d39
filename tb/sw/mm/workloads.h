// The two allocator workloads of docs/firmware.md, shared by the tests that
// check their figures and the benchmark binaries that report them.
//
// Fragmentation: long-lived unmovable allocations (kernel pages and slab
// objects, 256 a round, 32 pages of them freed again) arrive between rounds
// of short-lived movable ones (a process mapping, touching and unmapping
// chunks of 16 KiB..1 MiB, keeping memory 90% full, a sixth of the chunks
// unmapped each round); a timer tick (kswapd, kcompactd) after every round;
// 100 rounds on a machine with 64 MiB of DMA32 and 192 MiB of Normal. Counted: fallbacks that take part of a pageblock of another
// migrate type (fragmentation events, Linux's mm_page_alloc_extfrag with
// fallback order below pageblock order).
//
// High order (Linux's tools/testing/selftests/mm/compaction_test.c): a
// process fills about 80% of free memory in 1 MiB chunks, unmaps every
// other chunk, then order-9 blocks are requested (as hugetlb does:
// GFP_HIGHUSER_MOVABLE, compound, __GFP_RETRY_MAYFAIL) until one fails.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "tb/sw/mm/fw_rig.h"

namespace fwtest {

// One node: DMA32 below 512 MiB and a Normal zone of 512 MiB above 4 GiB,
// as a PC with little memory above the hole looks.
inline hal::BootInfo frag_machine(uint64_t dma32_mib, uint64_t normal_mib) {
  return custom_boot({{0, 0x9fc00},
                      {0x9fc00, 0x400, hal::E820Type::reserved},
                      {0xf0000, 0x10000, hal::E820Type::reserved},
                      {1 * MiB, (dma32_mib - 1) * MiB},
                      {4 * GiB, normal_mib * MiB}},
                     {{0, 4 * GiB + normal_mib * MiB}});
}

struct FragConfig {
  uint64_t dma32_mib = 64, normal_mib = 192;
  unsigned rounds = 100;
  unsigned used_percent = 90;    // movable churn keeps memory this full
  unsigned unmap_divisor = 6;    // a 1/n of the chunks goes each round
  unsigned unmovable = 256;      // unmovable allocations per round
  unsigned unmovable_frees = 32; // long-lived pages that end each round
};

struct FragResult {
  uint64_t fragmenting = 0;  // fallbacks below pageblock order
  uint64_t fallbacks = 0;
  uint64_t claimed = 0;
  uint64_t boosts = 0;
  uint64_t kcompactd_runs = 0;
  uint64_t migrated = 0;
  uint64_t unmovable_pages = 0;  // held at the end
  uint64_t faults = 0;
};

inline FragResult run_fragmentation_workload(const fw::Params& params, uint64_t seed, const FragConfig& cfg = {}) {
  Rig r(frag_machine(cfg.dma32_mib, cfg.normal_mib), params);
  fw::Kernel& k = *r.k;
  std::mt19937_64 rng(seed);
  r.start_process(0, "churn");
  struct Chunk {
    uint64_t a, len;
  };
  std::vector<Chunk> chunks;
  std::vector<fw::page*> kpages;
  std::vector<void*> kobjs;
  const uint64_t managed = k.nodes().total_managed_pages();
  const uint64_t target_used = managed * cfg.used_percent / 100;
  const uint64_t ev0 = k.vmstat().event[fw::EXTFRAG_FRAGMENTING], fb0 = k.vmstat().event[fw::EXTFRAG_FALLBACK];
  const uint64_t cl0 = k.vmstat().event[fw::EXTFRAG_CLAIMED], bo0 = k.vmstat().event[fw::WATERMARK_BOOST];
  FragResult res;
  uint64_t mapped = 0;
  for (unsigned round = 0; round < cfg.rounds; ++round) {
    // Movable churn: map and touch until ~85% of memory is used, unmap a
    // random third.
    while (managed - k.nodes().total_free_pages() < target_used) {
      const uint64_t len = (4ull << (rng() % 7)) * PAGE_SIZE;  // 16 KiB .. 1 MiB
      const int64_t a = r.mmap(0, 0, len);
      if (a < 0) break;
      bool ok = true;
      for (uint64_t off = 0; off < len && ok; off += PAGE_SIZE) ok = r.access(0, static_cast<uint64_t>(a) + off) != ~0ull;
      if (!ok) return res;  // killed: the workload is mis-sized
      res.faults += len / PAGE_SIZE;
      chunks.push_back({static_cast<uint64_t>(a), len});
      mapped += len / PAGE_SIZE;
    }
    for (size_t n = chunks.size() / cfg.unmap_divisor; n > 0 && !chunks.empty(); --n) {
      const size_t i = rng() % chunks.size();
      r.munmap(0, chunks[i].a, chunks[i].len);
      mapped -= chunks[i].len / PAGE_SIZE;
      chunks[i] = chunks.back();
      chunks.pop_back();
    }
    // Long-lived unmovable allocations: pages and slab objects.
    for (unsigned i = 0; i < cfg.unmovable; ++i) {
      if (rng() % 2) {
        if (fw::page* p = k.page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_NOWARN, 0)) kpages.push_back(p);
      } else {
        const size_t size = 64u << (rng() % 6);
        const fw::gfp_t gfp = (rng() % 4 == 0) ? fw::GFP_KERNEL | fw::__GFP_RECLAIMABLE : fw::GFP_KERNEL;
        if (void* o = k.slab().kmalloc(r.cpu(), size, gfp | fw::__GFP_NOWARN)) kobjs.push_back(o);
      }
    }
    // A few of the long-lived ones end.
    for (unsigned i = 0; i < cfg.unmovable_frees && !kpages.empty(); ++i) {
      const size_t j = rng() % kpages.size();
      k.page_alloc().free_pages(r.cpu(), kpages[j], 0);
      kpages[j] = kpages.back();
      kpages.pop_back();
    }
    // Time passes: a timer tick runs kswapd and kcompactd.
    r.cpu().advance_ns(4000000);
    k.timer_tick(r.cpu());
  }
  res.fragmenting = k.vmstat().event[fw::EXTFRAG_FRAGMENTING] - ev0;
  res.fallbacks = k.vmstat().event[fw::EXTFRAG_FALLBACK] - fb0;
  res.claimed = k.vmstat().event[fw::EXTFRAG_CLAIMED] - cl0;
  res.boosts = k.vmstat().event[fw::WATERMARK_BOOST] - bo0;
  res.kcompactd_runs = k.vmstat().event[fw::KCOMPACTD_WAKE];
  res.migrated = k.vmstat().event[fw::PGMIGRATE_SUCCESS];
  res.unmovable_pages = kpages.size();
  for (fw::page* p : kpages) k.page_alloc().free_pages(r.cpu(), p, 0);
  for (void* o : kobjs) k.slab().kfree(r.cpu(), o);
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(k.nr_free_pages(), k.boot_free_pages()) << "the workload leaked";
  return res;
}

struct HighOrderResult {
  uint64_t free_pages = 0;     // free when the order-9 requests start
  uint64_t reserve = 0;        // totalreserve_pages: what the watermarks keep free
  uint64_t blocks = 0;         // order-9 blocks obtained
  double fraction = 0;         // of free memory
  uint64_t migrated = 0;
};

inline HighOrderResult run_highorder_workload(uint64_t mem_mib, bool compaction) {
  Rig r(spec_mb(mem_mib));
  fw::Kernel& k = *r.k;
  r.start_process(0, "filler");
  const uint64_t chunk = 1 * MiB;
  const uint64_t target = k.nodes().total_free_pages() * 8 / 10 * PAGE_SIZE;
  std::vector<uint64_t> chunks;
  for (uint64_t done = 0; done < target; done += chunk) {
    const int64_t a = r.mmap(0, 0, chunk);
    if (a < 0) break;
    for (uint64_t off = 0; off < chunk; off += PAGE_SIZE) {
      const uint64_t pa = r.access(0, static_cast<uint64_t>(a) + off);
      if (pa == ~0ull) return {};
      r.write64(pa, static_cast<uint64_t>(a) + off);
    }
    chunks.push_back(static_cast<uint64_t>(a));
  }
  for (size_t i = 1; i < chunks.size(); i += 2) r.munmap(0, chunks[i], chunk);
  k.pcp().drain_all_pages(r.cpu(), nullptr);
  HighOrderResult res;
  res.free_pages = k.nodes().total_free_pages();
  res.reserve = k.watermark().totalreserve_pages();
  // hugetlb's request; without compaction: no direct path (and no ticks,
  // so no kcompactd).
  fw::gfp_t gfp = fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_COMP | fw::__GFP_RETRY_MAYFAIL | fw::__GFP_NOWARN;
  if (!compaction) gfp &= ~fw::__GFP_DIRECT_RECLAIM;
  std::vector<fw::page*> got;
  while (fw::page* p = k.page_alloc().alloc_pages(r.cpu(), gfp, 9)) got.push_back(p);
  res.blocks = got.size();
  res.fraction = static_cast<double>(res.blocks * 512) / static_cast<double>(res.free_pages);
  res.migrated = k.vmstat().event[fw::PGMIGRATE_SUCCESS];
  // The data the process kept survived.
  for (size_t i = 0; i < chunks.size(); i += 2)
    for (uint64_t off = 0; off < chunk; off += PAGE_SIZE) {
      const Walk w = r.walk(0, chunks[i] + off, x86::Access::read, true);
      EXPECT_EQ(w.status, Walk::ok);
      if (w.status != Walk::ok || r.read64(w.pa) != chunks[i] + off) {
        ADD_FAILURE() << "data lost at " << std::hex << chunks[i] + off;
        return res;
      }
    }
  for (fw::page* p : got) k.page_alloc().put_page(r.cpu(), p);
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(k.nr_free_pages(), k.boot_free_pages());
  return res;
}

}  // namespace fwtest
