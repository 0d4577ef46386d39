// The soak's page classification and memory_failure() oracle
// (tb/top/mf_oracle.h): each row of 6.18's table from kpageflags bits, and
// the names it predicts spelled as the firmware logs them.
#include "tb/top/mf_oracle.h"

#include <gtest/gtest.h>

#include <string>

#include "sw/mm/memory_failure.h"

namespace sim {
namespace {

using K = hal::PageInfo;

hal::PageInfo page(std::initializer_list<unsigned> kpf, int refcount = 1, int mapcount = 0, bool file = false) {
  hal::PageInfo pi{};
  for (unsigned b : kpf) pi.kpageflags |= 1ull << b;
  pi.refcount = refcount;
  pi.mapcount = mapcount;
  pi.free = refcount == 0;
  pi.file = file;
  return pi;
}

std::string outcome(const hal::PageInfo& pi, bool pte_dirty = false, int flags = 0) {
  const MfPrediction p = predict_memory_failure(pi, pte_dirty, flags);
  return std::string(p.type) + ": " + p.result;
}

TEST(MfOracle, KernelAndFreePages) {
  EXPECT_EQ(outcome(page({}, 0)), "free buddy page: Recovered");
  EXPECT_EQ(outcome(page({K::kSlab})), "get hwpoison page: Ignored");
  EXPECT_EQ(outcome(page({K::kPgtable})), "get hwpoison page: Ignored");
  EXPECT_EQ(outcome(page({K::kReserved})), "get hwpoison page: Ignored");
  EXPECT_EQ(outcome(page({})), "get hwpoison page: Ignored");  // held by the kernel, off the LRU
  EXPECT_EQ(outcome(page({K::kHwpoison, K::kLru, K::kAnon})), "already poisoned page: Failed");
  EXPECT_EQ(outcome(page({K::kHwpoison}, 0)), "already poisoned page: Failed");
}

TEST(MfOracle, AnonymousPagesByTheirDirtyBits) {
  const hal::PageInfo anon = page({K::kLru, K::kAnon, K::kSwapBacked, K::kMmap}, 2, 1);
  EXPECT_EQ(outcome(anon, true), "dirty LRU page: Recovered");
  EXPECT_EQ(outcome(anon, false), "clean LRU page: Recovered");
  EXPECT_EQ(outcome(page({K::kLru, K::kAnon, K::kSwapBacked, K::kDirty}, 1, 0)), "dirty LRU page: Recovered");
  // Mapped and mlocked: the unmap munlocks it first, so an LRU row.
  EXPECT_EQ(outcome(page({K::kLru, K::kAnon, K::kSwapBacked, K::kMlocked, K::kUnevictable, K::kMmap}, 2, 1), true),
            "dirty LRU page: Recovered");
  EXPECT_EQ(outcome(page({K::kLru, K::kAnon, K::kSwapBacked, K::kMlocked, K::kUnevictable}, 1, 0)),
            "clean mlocked LRU page: Recovered");
  // A THP's page: split, then the same rows.
  EXPECT_EQ(outcome(page({K::kLru, K::kAnon, K::kSwapBacked, K::kThp, K::kCompoundTail, K::kMmap}, 2, 1), true),
            "dirty LRU page: Recovered");
}

TEST(MfOracle, SwapCacheAndPageCache) {
  EXPECT_EQ(outcome(page({K::kLru, K::kAnon, K::kSwapBacked, K::kSwapCache, K::kDirty})),
            "dirty swapcache page: Delayed");
  EXPECT_EQ(outcome(page({K::kLru, K::kAnon, K::kSwapBacked, K::kSwapCache, K::kMmap}, 2, 1)),
            "clean swapcache page: Recovered");
  EXPECT_EQ(outcome(page({K::kLru}, 1, 0, true)), "clean LRU page: Recovered");
  EXPECT_EQ(outcome(page({K::kLru, K::kMmap}, 2, 1, true), true), "dirty LRU page: Recovered");
  EXPECT_EQ(outcome(page({K::kLru, K::kDirty}, 1, 0, true)), "dirty LRU page: Recovered");
  EXPECT_EQ(outcome(page({K::kLru, K::kUnevictable}, 1, 0, true)), "clean unevictable LRU page: Recovered");
}

TEST(MfOracle, UnderWritebackTheWriteDecides) {
  const MfPrediction p =
      predict_memory_failure(page({K::kLru, K::kAnon, K::kSwapBacked, K::kSwapCache, K::kWriteback, K::kMmap}, 3, 1),
                             false, 0);
  EXPECT_STREQ(p.type, "clean swapcache page");
  EXPECT_STREQ(p.result, "Recovered");
  EXPECT_STREQ(p.alt_type, "dirty swapcache page");
  EXPECT_STREQ(p.alt_result, "Delayed");
  EXPECT_EQ(predict_memory_failure(page({K::kLru, K::kAnon, K::kSwapBacked, K::kSwapCache}), false, 0).alt_type,
            nullptr);
}

TEST(MfOracle, HugetlbRowsOf618) {
  hal::PageInfo free_huge = page({K::kHuge, K::kCompoundHead}, 0);
  free_huge.hugetlb_spare = true;
  EXPECT_EQ(outcome(free_huge), "free huge page: Recovered");
  free_huge.hugetlb_spare = false;  // every free page promised: it stays
  EXPECT_EQ(outcome(free_huge), "free huge page: Failed");
  EXPECT_EQ(outcome(page({K::kHuge, K::kCompoundHead, K::kMmap}, 2, 1)), "huge page: Recovered");
  // A good tail page of a folio already poisoned elsewhere: the folio is
  // pre-poisoned (its own flag clear).
  hal::PageInfo tail = page({K::kHuge, K::kCompoundTail}, 2);
  tail.folio_hwpoison = true;
  EXPECT_EQ(outcome(tail), "already poisoned page: Failed");
}

TEST(MfOracle, MadviseHwpoisonHoldsAReference) {
  // MF_COUNT_INCREASED: no get_hwpoison_page, straight to the LRU rows.
  EXPECT_EQ(outcome(page({K::kLru, K::kAnon, K::kSwapBacked, K::kMmap}, 3, 1), true, kMfCountIncreased),
            "dirty LRU page: Recovered");
  EXPECT_EQ(kMfCountIncreased, fw::MF_COUNT_INCREASED);
}

TEST(MfOracle, PredictedNamesAreTheFirmwaresSpelling) {
  const char* const names[] = {"free buddy page", "get hwpoison page", "already poisoned page", "dirty LRU page",
                               "clean LRU page", "dirty swapcache page", "clean swapcache page",
                               "dirty mlocked LRU page", "clean mlocked LRU page", "dirty unevictable LRU page",
                               "clean unevictable LRU page", "free huge page", "huge page",
                               "reserved kernel page"};
  for (const char* n : names) {
    bool found = false;
    for (unsigned t = 0; t <= static_cast<unsigned>(fw::MfPageType::pgtable); ++t)
      found = found || std::string(fw::mf_page_type_name(static_cast<fw::MfPageType>(t))) == n;
    EXPECT_TRUE(found) << n;
  }
}

TEST(MfOracle, ClassifiesEveryState) {
  EXPECT_EQ(classify_page(page({}, 0)), SoakState::free);
  EXPECT_EQ(classify_page(page({K::kSlab})), SoakState::slab);
  EXPECT_EQ(classify_page(page({K::kPgtable})), SoakState::pgtable);
  EXPECT_EQ(classify_page(page({K::kReserved})), SoakState::reserved);
  EXPECT_EQ(classify_page(page({})), SoakState::kernel_other);
  EXPECT_EQ(classify_page(page({K::kHwpoison, K::kLru})), SoakState::poisoned);
  EXPECT_EQ(classify_page(page({K::kHuge, K::kCompoundHead}, 0)), SoakState::hugetlb);
  EXPECT_EQ(classify_page(page({K::kLru, K::kAnon, K::kSwapBacked, K::kMmap}, 1, 1)), SoakState::anon);
  EXPECT_EQ(classify_page(page({K::kLru, K::kAnon, K::kSwapBacked, K::kMmap}, 2, 2)), SoakState::anon_shared);
  EXPECT_EQ(classify_page(page({K::kLru, K::kAnon, K::kMlocked, K::kMmap}, 1, 1)), SoakState::anon_mlocked);
  EXPECT_EQ(classify_page(page({K::kLru, K::kAnon, K::kThp, K::kCompoundTail})), SoakState::anon_thp);
  EXPECT_EQ(classify_page(page({K::kLru, K::kAnon, K::kSwapCache, K::kSwapBacked})), SoakState::swapcache);
  EXPECT_EQ(classify_page(page({K::kLru, K::kSwapBacked, K::kMmap}, 2, 1)), SoakState::shmem);
  EXPECT_EQ(classify_page(page({K::kLru}, 1, 0, true)), SoakState::file_clean);
  EXPECT_EQ(classify_page(page({K::kLru, K::kMmap}, 2, 1, true)), SoakState::file_mapped);
  EXPECT_EQ(classify_page(page({K::kLru, K::kDirty}, 1, 0, true)), SoakState::file_dirty);
  EXPECT_TRUE(soak_state_kernel(SoakState::slab));
  EXPECT_FALSE(soak_state_kernel(SoakState::free));
  EXPECT_STREQ(soak_state_name(SoakState::anon_thp), "anon_thp");
}

}  // namespace
}  // namespace sim
