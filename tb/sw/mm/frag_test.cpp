// The allocator workloads of docs/firmware.md as checks: fragmentation
// events fall by at least 90% with ALLOC_NOFRAGMENT and watermark boosting
// (Linux's reference figure for the change: 94%), and with compaction at
// least a third of free memory becomes order-9 blocks in the style of
// Linux's compaction selftest.
#include <gtest/gtest.h>

#include <cstdio>

#include "tb/sw/mm/workloads.h"

using namespace fwtest;

namespace {

TEST(fw_workload, fragmentation_events_fall_by_90_percent_with_nofragment_and_boosting) {
  fw::Params off = quiet_params();
  off.alloc_nofragment = false;
  off.watermark_boost_factor = 0;
  FragConfig cfg;
  if (const char* e = getenv("FRAG_CFG"))
    std::sscanf(e, "%lu,%lu,%u,%u,%u,%u,%u", &cfg.dma32_mib, &cfg.normal_mib, &cfg.rounds, &cfg.used_percent,
                &cfg.unmap_divisor, &cfg.unmovable, &cfg.unmovable_frees);
  const FragResult a = run_fragmentation_workload(off, 42, cfg);
  const FragResult b = run_fragmentation_workload(quiet_params(), 42, cfg);
  std::printf("fragmentation events: %lu without ALLOC_NOFRAGMENT and boosting (%lu fallbacks), %lu with (%lu "
              "fallbacks, %lu boosts, %lu kcompactd runs, %lu pages migrated): %.1f%% fewer\n",
              static_cast<unsigned long>(a.fragmenting), static_cast<unsigned long>(a.fallbacks),
              static_cast<unsigned long>(b.fragmenting), static_cast<unsigned long>(b.fallbacks),
              static_cast<unsigned long>(b.boosts), static_cast<unsigned long>(b.kcompactd_runs),
              static_cast<unsigned long>(b.migrated),
              a.fragmenting ? 100.0 * (1.0 - static_cast<double>(b.fragmenting) / static_cast<double>(a.fragmenting)) : 0.0);
  EXPECT_GT(a.fragmenting, 50u) << "the workload must fragment without the defences";
  EXPECT_LE(b.fragmenting * 10, a.fragmenting) << "less than a 90% reduction";
}

TEST(fw_workload, compaction_turns_a_third_of_free_memory_into_order9_blocks) {
  const HighOrderResult without = run_highorder_workload(1024, false);
  const HighOrderResult with = run_highorder_workload(1024, true);
  std::printf("order-9 blocks after fill 80%%/free every other 1 MiB chunk (1 GiB machine): without compaction %lu "
              "(%.1f%% of %lu free pages, %lu of them reserved), with compaction %lu (%.1f%%, %lu pages migrated)\n",
              static_cast<unsigned long>(without.blocks), 100 * without.fraction,
              static_cast<unsigned long>(without.free_pages), static_cast<unsigned long>(without.reserve),
              static_cast<unsigned long>(with.blocks), 100 * with.fraction,
              static_cast<unsigned long>(with.migrated));
  EXPECT_GE(with.fraction, 1.0 / 3.0);
  // The free scanner finds the freed chunks' blocks (orders 0..7, each at
  // an order-aligned head): nearly all free memory the watermarks do not
  // keep (totalreserve_pages) becomes order-9 blocks.
  EXPECT_GE(static_cast<double>(with.blocks * 512), 0.9 * static_cast<double>(with.free_pages - with.reserve))
      << "free pages left behind in pageblocks the free scanner skipped";
  EXPECT_LT(without.fraction, with.fraction);
}

}  // namespace
