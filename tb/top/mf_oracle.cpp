// The soak's page states and the memory_failure() outcome oracle. See
// mf_oracle.h. The oracle reads only the page's /proc/kpageflags bits and
// its counts, as a user-space tool (page-types) would: nothing of the
// firmware's memory_failure.cpp.
#include "tb/top/mf_oracle.h"

namespace sim {

namespace {

using K = hal::PageInfo;

const char* const kStateNames[] = {
    "anon",      "anon_shared", "anon_mlocked", "anon_thp", "shmem", "file_clean",
    "file_mapped", "file_dirty", "swapcache", "hugetlb",  "free",  "slab",
    "pgtable",   "reserved",    "kernel_other", "poisoned",
};
static_assert(sizeof(kStateNames) / sizeof(kStateNames[0]) == kSoakStates, "one name per state");

// error_states[] of 6.18, for an LRU page after its mappings went: the
// first row whose flags match. `dirty` already holds what the unmap found
// in the page-table entries.
MfPrediction lru_row(const hal::PageInfo& pi, bool dirty) {
  const bool swapcache = pi.has(K::kSwapCache) && pi.has(K::kSwapBacked);
  // The unmap took the last mapping of an mlocked page: it is munlocked
  // (back on an evictable list) before the row is chosen.
  const bool mlocked = pi.has(K::kMlocked) && pi.mapcount == 0;
  const bool unevictable = pi.has(K::kUnevictable) && (pi.mapcount == 0 || !pi.has(K::kMlocked));
  if (pi.has(K::kReserved)) return {"reserved kernel page", "Ignored"};
  if (swapcache) return dirty ? MfPrediction{"dirty swapcache page", "Delayed"}
                              : MfPrediction{"clean swapcache page", "Recovered"};
  if (mlocked) return {dirty ? "dirty mlocked LRU page" : "clean mlocked LRU page", "Recovered"};
  if (unevictable) return {dirty ? "dirty unevictable LRU page" : "clean unevictable LRU page", "Recovered"};
  // me_pagecache_clean / me_pagecache_dirty: dropped from the cache or
  // unmapped with poison entries; a dirty file page's error is kept for fsync.
  return {dirty ? "dirty LRU page" : "clean LRU page", "Recovered"};
}

}  // namespace

const char* soak_state_name(SoakState s) { return kStateNames[static_cast<unsigned>(s)]; }

bool soak_state_kernel(SoakState s) {
  return s == SoakState::slab || s == SoakState::pgtable || s == SoakState::reserved || s == SoakState::kernel_other;
}

SoakState classify_page(const hal::PageInfo& pi) {
  if (pi.has(K::kHwpoison)) return SoakState::poisoned;
  if (pi.has(K::kHuge)) return SoakState::hugetlb;
  if (pi.free) return SoakState::free;
  if (pi.has(K::kReserved)) return SoakState::reserved;
  if (pi.has(K::kSlab)) return SoakState::slab;
  if (pi.has(K::kPgtable)) return SoakState::pgtable;
  if (!pi.has(K::kLru)) return SoakState::kernel_other;
  if (pi.has(K::kSwapCache)) return SoakState::swapcache;
  if (pi.has(K::kAnon)) {
    if (pi.has(K::kThp)) return SoakState::anon_thp;
    if (pi.has(K::kMlocked)) return SoakState::anon_mlocked;
    return pi.mapcount > 1 ? SoakState::anon_shared : SoakState::anon;
  }
  if (!pi.file) return SoakState::shmem;
  if (pi.has(K::kDirty)) return SoakState::file_dirty;
  return pi.mapcount > 0 ? SoakState::file_mapped : SoakState::file_clean;
}

MfPrediction predict_memory_failure(const hal::PageInfo& pi, bool pte_dirty, int flags) {
  // TestSetPageHWPoison first: a page marked before is not handled again.
  if (pi.has(K::kHwpoison)) return {"already poisoned page", "Failed"};
  if (pi.has(K::kHuge)) {
    // A hugetlb folio is poisoned as a whole: a second bad page in it is
    // MF_HUGETLB_FOLIO_PRE_POISONED, "already poisoned".
    if (pi.folio_hwpoison) return {"already poisoned page", "Failed"};
    // try_memory_failure_hugetlb: a free one is dissolved (the buddy
    // allocator gets its good pages), one in use is unmapped (me_huge_page).
    // A free one stays when every free page of its pool is promised to a
    // mapping (dissolve_free_hugetlb_folio refuses: Failed).
    if (pi.refcount == 0) return {"free huge page", pi.hugetlb_spare ? "Recovered" : "Failed"};
    return {"huge page", "Recovered"};
  }
  if (!(flags & kMfCountIncreased)) {
    // get_hwpoison_page: a free page is taken off the buddy allocator
    // (take_page_off_buddy); a page not on an LRU list (slab, page table,
    // reserved, other kernel memory) is not HWPoisonHandlable.
    if (pi.free) return {"free buddy page", "Recovered"};
    if (!pi.has(K::kLru)) return {"get hwpoison page", "Ignored"};
  }
  // A THP is split first (try_to_split_thp_page); the bad page then goes
  // on alone with the flags it had. An anonymous THP splits here.
  // hwpoison_user_mappings: the unmap moves dirty page-table entries to the
  // page (try_to_unmap_one, folio_mkclean for shared file mappings).
  const bool dirty = pi.has(K::kDirty) || pte_dirty;
  // "already truncated LRU page": a page-cache page whose mapping went
  // (not observable in kpageflags; the oracle expects a live page).
  MfPrediction p = lru_row(pi, dirty);
  if (pi.has(K::kWriteback) && !dirty) {
    const MfPrediction failed_write = lru_row(pi, true);
    p.alt_type = failed_write.type;
    p.alt_result = failed_write.result;
  }
  return p;
}

}  // namespace sim
