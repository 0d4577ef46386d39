// The corrected-error collector (sw/drivers/ras/cec) on the host HAL, as
// Linux 6.18's drivers/ras/cec.c behaves: the packed entries (pfn, 2-bit
// age, 10-bit count) sorted by pfn; the action threshold (Intel's 2) takes
// the entry out and queues the page for soft offline, which the timer work
// does (the page's data moves to a new pfn); ageing every 128 insertions
// and every decay interval; a full table drops its least used entry; an
// invalid pfn; the collector switched off.
#include <gtest/gtest.h>

#include <string>

#include "sw/drivers/ras/cec.h"
#include "sw/lib/errno.h"
#include "sw/mm/memory_failure.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

TEST(fw_cec, threshold_soft_offlines_the_page_from_the_timer_work) {
  Rig r(spec_mb(128));
  hal::Hal& h = r.cpu();
  fw::Cec& cec = r.k->cec();
  r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, fw::PAGE_SIZE));
  const uint64_t pa = r.access(0, a);
  r.write64(pa + 16, 0x5eed);
  const uint64_t pfn = pa >> fw::PAGE_SHIFT;

  EXPECT_EQ(cec.add(h, pfn), 0);
  ASSERT_EQ(cec.size(), 1u);
  EXPECT_EQ(cec.pfn_at(0), pfn);
  EXPECT_EQ(cec.count_at(0), 1u);
  EXPECT_EQ(cec.decay_at(0), 3u);
  // The second error reaches the threshold: out of the table, queued.
  EXPECT_EQ(cec.add(h, pfn), 1);
  EXPECT_EQ(cec.size(), 0u);
  EXPECT_EQ(cec.queued(), 1u);
  char line[64];
  std::snprintf(line, sizeof line, "RAS: Soft-offlining pfn: 0x%llx", static_cast<unsigned long long>(pfn));
  EXPECT_TRUE(has(r.console(), line)) << r.console();
  // Nothing moved yet: the work runs at the next tick.
  EXPECT_EQ(r.access(0, a, x86::Access::read), pa);
  cec.tick(h);
  EXPECT_EQ(cec.queued(), 0u);
  const uint64_t npa = r.access(0, a, x86::Access::read);
  EXPECT_NE(npa >> fw::PAGE_SHIFT, pfn);
  EXPECT_EQ(r.read64(npa + 16), 0x5eedu);
  EXPECT_TRUE(fw::PageHWPoison(r.k->nodes().pfn_to_page(pfn)));
  EXPECT_EQ(r.k->ctx().memory_failure->num_poisoned_pages(), 1u);
  EXPECT_EQ(cec.stats().ces_entered, 2u);
  EXPECT_EQ(cec.stats().pfns_poisoned, 1u);
  EXPECT_EQ(cec.stats().offlined, 1u);
  EXPECT_EQ(r.stats().at("cec.offlined"), 1u);
  // An error on a pfn with no memory is only reported.
  EXPECT_EQ(cec.add(h, 1ull << 30), 0);
  EXPECT_EQ(cec.add(h, 1ull << 30), 1);
  EXPECT_TRUE(has(r.console(), "RAS: CEC: Invalid pfn: 0x40000000"));
  EXPECT_EQ(cec.queued(), 0u);
}

TEST(fw_cec, ageing_and_a_full_table) {
  fw::Params p = quiet_params();
  p.cec_action_threshold = 1023;
  p.cec_decay_interval_ms = 10;
  Rig r(spec_mb(128), p);
  hosthal::HostHal& h = r.cpu();
  fw::Cec& cec = r.k->cec();
  // Entries stay sorted by pfn whatever the order of arrival.
  for (uint64_t pfn : {0x300ull, 0x100ull, 0x200ull}) cec.add(h, pfn);
  ASSERT_EQ(cec.size(), 3u);
  EXPECT_EQ(cec.pfn_at(0), 0x100u);
  EXPECT_EQ(cec.pfn_at(2), 0x300u);
  cec.add(h, 0x200);
  EXPECT_EQ(cec.count_at(1), 2u);
  // The decay interval ages every entry once; a fresh error resets the age.
  h.advance_ns(9 * 1000000ull);
  cec.tick(h);
  EXPECT_EQ(cec.decay_at(0), 3u);
  h.advance_ns(1000000ull);
  cec.tick(h);
  EXPECT_EQ(cec.decay_at(0), 2u);
  EXPECT_EQ(cec.stats().decays_done, 1u);
  cec.add(h, 0x100);
  EXPECT_EQ(cec.decay_at(0), 3u);
  EXPECT_EQ(cec.decay_at(2), 2u);
  // 128 insertions or increments age the table too (1 since the cleaning).
  for (uint64_t i = 0; i < 126; ++i) cec.add(h, 0x1000 + i);
  EXPECT_EQ(cec.stats().decays_done, 1u);
  cec.add(h, 0x2000);
  EXPECT_EQ(cec.stats().decays_done, 2u);
  EXPECT_EQ(cec.decay_at(2), 1u) << "0x300: aged by time and by insertions";
  // Ages stop at 0.
  for (int i = 0; i < 3; ++i) cec.spring_cleaning();
  EXPECT_EQ(cec.decay_at(2), 0u);
  // Fill the table: 512 entries. The next new pfn drops the entry of lowest
  // age-and-count: among the oldest (age 0), one with a single error.
  for (uint64_t pfn = 0x10000; cec.size() < fw::Cec::kMaxElems; ++pfn) cec.add(h, pfn);
  EXPECT_EQ(cec.stats().evicted, 0u);
  const unsigned c200 = cec.count_at(1);
  EXPECT_EQ(cec.pfn_at(0), 0x100u);
  cec.add(h, 0x50000);
  EXPECT_EQ(cec.size(), fw::Cec::kMaxElems);
  EXPECT_EQ(cec.stats().evicted, 1u);
  // 0x100 (2 errors) and 0x200 (2 errors) stay; 0x300 (1 error, age 0) went.
  EXPECT_EQ(cec.pfn_at(0), 0x100u);
  EXPECT_EQ(cec.pfn_at(1), 0x200u);
  EXPECT_EQ(cec.count_at(1), c200);
  EXPECT_NE(cec.pfn_at(2), 0x300u);
  fwtest::StringSink s;
  cec.show(s);
  EXPECT_TRUE(has(s.s, "{ n: 512\n   0: [0000000000000100|00|002]\n")) << s.s.substr(0, 200);
  EXPECT_TRUE(has(s.s, "Action threshold: 1023\n"));
}

TEST(fw_cec, disabled_collector_takes_nothing) {
  fw::Params p = quiet_params();
  p.cec_disable = true;
  Rig r(spec_mb(128), p);
  EXPECT_EQ(r.k->cec().add(r.cpu(), 0x100), -ENODEV);
  EXPECT_EQ(r.k->cec().size(), 0u);
}

}  // namespace
