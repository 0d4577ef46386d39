// What the testbench's RAS soak reads of memory failure through
// hal::FirmwareDebug (host HAL): the observer sees every memory_failure()
// call at entry, before the page changed, and its logged outcome; page_info
// gives a page's /proc/kpageflags bits and counts, page_pte_dirty the Dirty
// bits of the entries mapping it; corrupt_pfn queues a software injection
// (hwpoison-inject's corrupt-pfn) that the next deferred work runs, and
// refuses when the queue is full.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "sw/lib/errno.h"
#include "sw/mm/memory_failure.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

using K = hal::PageInfo;

struct Recorder final : hal::MemoryFailureObserver {
  explicit Recorder(hal::FirmwareDebug& d) : dbg(d) {}
  void memory_failure_entry(hal::Hal&, uint64_t pfn, int flags) override {
    hal::PageInfo pi{};
    EXPECT_TRUE(dbg.page_info(pfn, pi));
    entries.push_back({pfn, flags, pi});
  }
  void memory_failure_result(hal::Hal&, uint64_t pfn, const char* type, const char* result) override {
    results.push_back(std::to_string(pfn) + " " + type + ": " + result);
  }
  struct Entry {
    uint64_t pfn;
    int flags;
    hal::PageInfo pi;
  };
  hal::FirmwareDebug& dbg;
  std::vector<Entry> entries;
  std::vector<std::string> results;
};

TEST(fw_memory_failure_observer, sees_the_page_at_entry_and_the_outcome) {
  Rig r(spec_mb(64));
  hal::FirmwareDebug& dbg = *r.k;
  Recorder rec(dbg);
  dbg.set_memory_failure_observer(&rec);
  fw::page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  ASSERT_NE(p, nullptr);
  const uint64_t pfn = r.k->nodes().page_to_pfn(p);
  r.k->page_alloc().put_page(r.cpu(), p);
  EXPECT_EQ(r.k->memory_failure().memory_failure(r.cpu(), pfn, 0), 0);
  ASSERT_EQ(rec.entries.size(), 1u);
  EXPECT_EQ(rec.entries[0].pfn, pfn);
  EXPECT_TRUE(rec.entries[0].pi.free);
  EXPECT_FALSE(rec.entries[0].pi.has(K::kHwpoison)) << "seen before memory_failure() marked it";
  ASSERT_EQ(rec.results.size(), 1u);
  EXPECT_EQ(rec.results[0], std::to_string(pfn) + " free buddy page: Recovered");
  // Again: already poisoned at entry.
  r.k->memory_failure().memory_failure(r.cpu(), pfn, 0);
  ASSERT_EQ(rec.entries.size(), 2u);
  EXPECT_TRUE(rec.entries[1].pi.has(K::kHwpoison));
  EXPECT_EQ(rec.results[1], std::to_string(pfn) + " already poisoned page: Failed");
  dbg.set_memory_failure_observer(nullptr);
  r.k->memory_failure().memory_failure(r.cpu(), pfn, 0);
  EXPECT_EQ(rec.entries.size(), 2u) << "no observer, nothing seen";
}

TEST(fw_memory_failure_observer, page_info_and_dirty_entries_of_a_user_page) {
  Rig r(spec_mb(64));
  hal::FirmwareDebug& dbg = *r.k;
  r.start_process(0, "app");
  const uint64_t va = static_cast<uint64_t>(r.mmap(0, 0, 2 * PAGE_SIZE));
  const uint64_t pa = r.access(0, va, x86::Access::write);
  hal::PageInfo pi{};
  ASSERT_TRUE(dbg.page_info(pa >> 12, pi));
  EXPECT_TRUE(pi.has(K::kLru));
  EXPECT_TRUE(pi.has(K::kAnon));
  EXPECT_TRUE(pi.has(K::kMmap));
  EXPECT_FALSE(pi.free);
  EXPECT_FALSE(pi.file);
  EXPECT_EQ(pi.mapcount, 1);
  EXPECT_TRUE(dbg.page_pte_dirty(r.cpu(), pa >> 12)) << "written through its PTE";
  // A slab page: the kernel's, off the LRU, no entries to walk.
  void* obj = r.k->slab().kmalloc(r.cpu(), 64, fw::GFP_KERNEL);
  ASSERT_NE(obj, nullptr);
  const uint64_t slab_pfn = r.k->nodes().page_to_pfn(r.k->nodes().virt_to_page(obj));
  ASSERT_TRUE(dbg.page_info(slab_pfn, pi));
  EXPECT_TRUE(pi.has(K::kSlab));
  EXPECT_FALSE(pi.has(K::kLru));
  EXPECT_FALSE(dbg.page_pte_dirty(r.cpu(), slab_pfn));
  EXPECT_FALSE(dbg.page_info(~0ull >> 20, pi)) << "outside the memory map";
}

TEST(fw_memory_failure_observer, corrupt_pfn_is_a_queued_software_injection) {
  Rig r(spec_mb(64));
  hal::FirmwareDebug& dbg = *r.k;
  void* obj = r.k->slab().kmalloc(r.cpu(), 64, fw::GFP_KERNEL);
  ASSERT_NE(obj, nullptr);
  const uint64_t pfn = r.k->nodes().page_to_pfn(r.k->nodes().virt_to_page(obj));
  ASSERT_TRUE(dbg.corrupt_pfn(r.cpu(), pfn));
  EXPECT_FALSE(fw::PageHWPoison(r.k->nodes().pfn_to_page(pfn))) << "not before the deferred work";
  r.k->memory_failure().memory_failure_work(r.cpu());
  EXPECT_TRUE(fw::PageHWPoison(r.k->nodes().pfn_to_page(pfn)));
  char want[96];
  std::snprintf(want, sizeof want, "Injecting memory failure at pfn %#lx", static_cast<unsigned long>(pfn));
  EXPECT_NE(r.console().find(want), std::string::npos) << r.console();
  std::snprintf(want, sizeof want, "Memory failure: %#lx: recovery action for get hwpoison page: Ignored",
                static_cast<unsigned long>(pfn));
  EXPECT_NE(r.console().find(want), std::string::npos) << r.console();
  // Software injection: unpoison may still give pages back.
  EXPECT_EQ(r.k->unpoison_pfn(r.cpu(), pfn), -EBUSY) << "a slab page is not given back, but not refused as hardware";
  // The queue holds 16.
  for (int i = 0; i < 16; ++i) EXPECT_TRUE(dbg.corrupt_pfn(r.cpu(), pfn));
  EXPECT_FALSE(dbg.corrupt_pfn(r.cpu(), pfn));
  r.k->memory_failure().memory_failure_work(r.cpu());
  EXPECT_TRUE(dbg.corrupt_pfn(r.cpu(), pfn));
}

}  // namespace
