// Firmware bugs the RAS soak (tb/scenarios/ras/random-soak.yaml) found, each
// pinned on the host HAL: memory_failure() on a page of a transparent huge
// page must keep that page's PG_hwpoison through the split (it was reset
// with the tail's flags: the unmap then failed and the page stayed mapped);
// a scrub find (SRAO) whose #MC interrupts the firmware in a spin-wait is
// queued for the CPU's deferred work, not handled under the locks the
// interrupted code may hold (it ended in "spinlock recursion").
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "sw/lib/errno.h"
#include "sw/mm/memory_failure.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

std::string result_line(uint64_t pfn, const char* type, const char* result) {
  char s[160];
  std::snprintf(s, sizeof s, "Memory failure: %#lx: recovery action for %s: %s", static_cast<unsigned long>(pfn), type,
                result);
  return s;
}

fw::Params thp_always() {
  fw::Params p = quiet_params();
  p.transparent_hugepage = fw::THP_ALWAYS;
  return p;
}

TEST(fw_memory_failure_soak, thp_subpage_keeps_its_poison_through_the_split) {
  Rig r(spec_mb(256), thp_always());
  r.start_process(0, "thp");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB));
  ASSERT_EQ(a % (2 * MiB), 0u);
  for (uint64_t off = 0; off < 2 * MiB; off += PAGE_SIZE) ASSERT_NE(r.access(0, a + off), ~0ull);
  const uint64_t head_pfn = r.access(0, a, x86::Access::read) >> 12;
  fw::page* head = r.k->nodes().pfn_to_page(head_pfn);
  ASSERT_TRUE(fw::PageTransHuge(head));
  const uint64_t pfn = head_pfn + 5;  // a tail page
  EXPECT_EQ(r.k->memory_failure().memory_failure(r.cpu(), pfn, 0), 0);
  EXPECT_NE(r.console().find(result_line(pfn, "dirty LRU page", "Recovered")), std::string::npos) << r.console();
  EXPECT_EQ(r.console().find("failed to unmap"), std::string::npos) << r.console();
  fw::page* p = r.k->nodes().pfn_to_page(pfn);
  EXPECT_TRUE(fw::PageHWPoison(p)) << "the bad page keeps its flag through the split";
  EXPECT_FALSE(fw::page_mapped(p));
  EXPECT_FALSE(fw::PageHWPoison(r.k->nodes().pfn_to_page(pfn + 1)));
  // Again: already poisoned, not handled a second time.
  EXPECT_EQ(r.k->memory_failure().memory_failure(r.cpu(), pfn, 0), -EHWPOISON);
  EXPECT_NE(r.console().find(result_line(pfn, "already poisoned page", "Failed")), std::string::npos);
}

TEST(fw_memory_failure_soak, scrub_find_interrupting_the_kernel_is_queued) {
  Rig r(spec_mb(64));
  fw::page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  ASSERT_NE(p, nullptr);
  const uint64_t pfn = r.k->nodes().page_to_pfn(p);
  r.k->page_alloc().put_page(r.cpu(), p);
  hal::MachineCheck mc{};
  mc.pa = pfn << 12;
  mc.action_required = false;  // found by the scrubber
  mc.kernel_mode = true;       // delivered while the firmware spun in cpu_relax
  EXPECT_EQ(r.k->machine_check(r.cpu(), mc), hal::TrapOutcome::retry);
  const std::string recovered = result_line(pfn, "free buddy page", "Recovered");
  EXPECT_EQ(r.console().find(recovered), std::string::npos) << "not under the interrupted code's locks";
  EXPECT_FALSE(fw::PageHWPoison(p));
  r.k->memory_failure().memory_failure_work(r.cpu());
  EXPECT_NE(r.console().find(recovered), std::string::npos) << r.console();
  EXPECT_TRUE(fw::PageHWPoison(p));
  // Between two user operations (not in the kernel): handled at once, as before.
  fw::page* q = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  ASSERT_NE(q, nullptr);
  const uint64_t qpfn = r.k->nodes().page_to_pfn(q);
  r.k->page_alloc().put_page(r.cpu(), q);
  mc.pa = qpfn << 12;
  mc.kernel_mode = false;
  r.k->machine_check(r.cpu(), mc);
  EXPECT_NE(r.console().find(result_line(qpfn, "free buddy page", "Recovered")), std::string::npos);
}

}  // namespace
