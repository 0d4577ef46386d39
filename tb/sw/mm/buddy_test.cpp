// The buddy allocator: split and merge, migrate types and pageblocks,
// fallbacks (claiming whole pageblocks, stealing, ALLOC_NOFRAGMENT,
// watermark boosting), compound pages, high-atomic reserves, and a
// randomized run of millions of steps checked after every step.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;
using fw::page;

namespace {

uint64_t pageblocks_of(fw::zone& z, unsigned mt) {
  uint64_t n = 0;
  for (uint64_t pfn = z.zone_start_pfn; pfn < z.zone_end_pfn(); pfn = fw::pageblock_end_pfn(pfn))
    n += z.get_pfnblock_migratetype(pfn) == mt;
  return n;
}

uint64_t ev(fw::Kernel& k, unsigned e) { return k.vmstat().event[e]; }

// Two nodes; node 0 has DMA and DMA32, node 1 Normal and (movablecore)
// Movable; a CMA area in node 1's Movable zone. Small, so that every
// pfn can be checked often.
hal::BootInfo two_node_machine() {
  const uint64_t G4 = 4 * GiB;
  return custom_boot({{0, 0x9fc00},
                      {0x9fc00, 0x400, hal::E820Type::reserved},
                      {0xf0000, 0x10000, hal::E820Type::reserved},
                      {1 * MiB, 23 * MiB},
                      {G4, 40 * MiB}},
                     {{0, 24 * MiB}, {G4, G4 + 40 * MiB}}, 2);
}

fw::Params two_node_params() {
  fw::Params p = quiet_params();
  p.movablecore = 16 * MiB;
  p.cma = 4 * MiB;
  return p;
}

TEST(fw_buddy, boot_state_is_consistent) {
  for (uint64_t mib : {64, 128, 5 * 1024}) {
    Rig r(spec_mb(mib));
    full_check(*r.k, {});
    if (HasFatalFailure()) return;
    EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
    EXPECT_GT(r.k->page_alloc().nr_free_blocks(fw::MAX_PAGE_ORDER) << fw::MAX_PAGE_ORDER, r.k->nr_free_pages() / 2);
  }
  Rig r(two_node_machine(), two_node_params());
  full_check(*r.k, {});
  fw::pglist_data& n1 = r.k->nodes().node(1);
  EXPECT_GT(n1.node_zones[fw::ZONE_MOVABLE].managed_pages, 0u);
  EXPECT_EQ(n1.node_zones[fw::ZONE_MOVABLE].cma_pages, 1024u);
  EXPECT_EQ(pageblocks_of(n1.node_zones[fw::ZONE_MOVABLE], fw::MIGRATE_CMA), 2u);
}

TEST(fw_buddy, split_then_merge_restores_the_free_lists) {
  Rig r(spec_mb(64));
  fw::PageAlloc& pa = r.k->page_alloc();
  // Order 5: above the per-CPU orders, straight from the buddy lists.
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  ASSERT_EQ(z->idx, static_cast<unsigned>(fw::ZONE_DMA32));
  auto zone_blocks = [&] {
    std::vector<uint64_t> v;
    for (unsigned o = 0; o < fw::NR_PAGE_ORDERS; ++o) v.push_back(z->free_area[o].nr_free);
    return v;
  };
  const auto before = zone_blocks();
  unsigned split = 5;
  while (before[split] == 0) ++split;
  const uint64_t splits0 = r.k->buddy().stats().splits, merges0 = r.k->buddy().stats().merges;
  page* p = pa.alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE, 5);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->_refcount, 1);
  EXPECT_FALSE(fw::PageBuddy(p));
  EXPECT_EQ(r.k->nodes().page_to_pfn(p) % 32, 0u);
  const auto mid = zone_blocks();
  for (unsigned o = 5; o < fw::NR_PAGE_ORDERS; ++o) {
    if (o < split) {
      EXPECT_EQ(mid[o], before[o] + 1) << "order " << o << " gains one half";
    }
    else if (o == split) EXPECT_EQ(mid[o], before[o] - 1);
    else EXPECT_EQ(mid[o], before[o]);
  }
  EXPECT_EQ(r.k->buddy().stats().splits - splits0, split - 5);
  pa.free_pages(r.cpu(), p, 5);
  EXPECT_EQ(zone_blocks(), before);
  EXPECT_EQ(r.k->buddy().stats().merges - merges0, split - 5);
  full_check(*r.k, {});
}

TEST(fw_buddy, first_request_of_a_type_claims_a_whole_free_pageblock) {
  Rig r(spec_mb(64));
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  // Every block was movable at boot; boot's own allocations (page tables)
  // claimed one max-order block (two pageblocks) as unmovable.
  EXPECT_EQ(pageblocks_of(*z, fw::MIGRATE_UNMOVABLE), 2u);
  ASSERT_EQ(pageblocks_of(*z, fw::MIGRATE_RECLAIMABLE), 0u);
  const uint64_t claimed0 = ev(*r.k, fw::EXTFRAG_CLAIMED), frag0 = ev(*r.k, fw::EXTFRAG_FRAGMENTING);
  page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_RECLAIMABLE, 0);
  ASSERT_NE(p, nullptr);
  // The largest free block (order 10, two pageblocks) changed hands whole:
  // a fallback, not a fragmentation event.
  EXPECT_EQ(ev(*r.k, fw::EXTFRAG_CLAIMED) - claimed0, 1u);
  EXPECT_EQ(ev(*r.k, fw::EXTFRAG_FRAGMENTING) - frag0, 0u);
  EXPECT_EQ(pageblocks_of(*z, fw::MIGRATE_RECLAIMABLE), 2u);
  const uint64_t pfn = r.k->nodes().page_to_pfn(p);
  EXPECT_EQ(z->get_pfnblock_migratetype(pfn), fw::MIGRATE_RECLAIMABLE);
  // The block-count row (the last DMA32 line) shows both claims:
  // Unmovable, Movable, Reclaimable columns.
  const std::string pti = r.proc("pagetypeinfo");
  const size_t row = pti.rfind("Node 0, zone    DMA32 ");
  ASSERT_NE(row, std::string::npos) << pti;
  std::istringstream cols(pti.substr(row + std::strlen("Node 0, zone    DMA32 ")));
  uint64_t unmovable = 0, movable = 0, reclaimable = 0;
  cols >> unmovable >> movable >> reclaimable;
  EXPECT_EQ(unmovable, 2u) << pti;
  EXPECT_EQ(reclaimable, 2u) << pti;
  r.k->page_alloc().free_pages(r.cpu(), p, 0);
  full_check(*r.k, {});
}

// Fills every free pageblock of the zone but the last few pages of each
// with movable pages the test holds, so only partial movable blocks are
// left (the state in which fallbacks fragment).
std::vector<HeldBlock> fill_leaving_partial_blocks(Rig& r, fw::zone* z, std::vector<page*>* pages) {
  std::vector<HeldBlock> held;
  fw::PageAlloc& pa = r.k->page_alloc();
  for (;;) {
    page* p = pa.alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_THISNODE | fw::__GFP_NOWARN |
                                           fw::__GFP_NORETRY, 0);
    if (!p) break;
    if (r.k->nodes().page_zone(p) != z) {
      pa.free_pages(r.cpu(), p, 0);
      break;
    }
    pages->push_back(p);
    held.push_back({r.k->nodes().page_to_pfn(p), 0});
  }
  // Give back one page in 64 of each movable block: free but scattered.
  std::vector<page*> keep;
  std::vector<HeldBlock> kept;
  for (size_t i = 0; i < pages->size(); ++i) {
    if (held[i].pfn % 64 == 5) pa.free_pages(r.cpu(), (*pages)[i], 0);
    else {
      keep.push_back((*pages)[i]);
      kept.push_back(held[i]);
    }
  }
  *pages = keep;
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  return kept;
}

// A machine with a small Normal zone above a roomy DMA32 zone on one node:
// where ALLOC_NOFRAGMENT matters (Linux spreads to the lower zone first).
hal::BootInfo normal_over_dma32() {
  // (The flat memmap covers the hole below 4 GiB: 64 MiB of it.)
  return custom_boot({{0, 0x9fc00}, {0x9fc00, 0x400, hal::E820Type::reserved}, {1 * MiB, 511 * MiB}, {4 * GiB, 64 * MiB}},
                     {{0, 4 * GiB + 64 * MiB}});
}

void fragmenting_fallback_case(bool nofragment, uint64_t* fragmenting, uint64_t* boost, bool* from_normal) {
  fw::Params p = quiet_params();
  p.alloc_nofragment = nofragment;
  // THP off: khugepaged's min_free_kbytes, ten times larger here, puts
  // Normal's watermarks above the free pages the fill leaves there, so the
  // requests would go to DMA32 without falling back in Normal.
  p.transparent_hugepage = fw::THP_NEVER;
  Rig r(normal_over_dma32(), p);
  fw::zone* normal = &r.k->nodes().node(0).node_zones[fw::ZONE_NORMAL];
  std::vector<page*> pages;
  std::vector<HeldBlock> held = fill_leaving_partial_blocks(r, normal, &pages);
  ASSERT_GT(held.size(), 4000u);
  // Normal has free pages, but only single pages in movable pageblocks.
  // Unmovable requests use up their own free pages, then fall back.
  const uint64_t frag0 = ev(*r.k, fw::EXTFRAG_FRAGMENTING), fb0 = ev(*r.k, fw::EXTFRAG_FALLBACK);
  page* u = nullptr;
  for (int i = 0; i < 5000 && ev(*r.k, fw::EXTFRAG_FALLBACK) == fb0; ++i) {
    u = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
    ASSERT_NE(u, nullptr);
    held.push_back({r.k->nodes().page_to_pfn(u), 0});
  }
  ASSERT_GT(ev(*r.k, fw::EXTFRAG_FALLBACK), fb0);
  *fragmenting = ev(*r.k, fw::EXTFRAG_FRAGMENTING) - frag0;
  *boost = normal->watermark_boost;
  *from_normal = r.k->nodes().page_zone(u) == normal;
  full_check(*r.k, held);
  if (!nofragment) {
    EXPECT_GE(ev(*r.k, fw::KSWAPD_WAKE), 1u) << "the boost wakes kswapd";
    // kswapd's run (deferred work) ends the boost and asks kcompactd for
    // whole pageblocks.
    r.k->run_deferred_work(r.cpu());
    EXPECT_EQ(normal->watermark_boost, 0u);
  }
}

// Linux 6.18 fallbacks[]: where each type looks when its own list is
// empty, in order (the other kernel type first, movable last for the
// kernel types).
TEST(fw_buddy, fallbacks_follow_linux_s_order) {
  Rig r(spec_mb(64));
  fw::free_area a{};
  for (auto& l : a.free_list) INIT_LIST_HEAD(&l);
  fw::list_head blocks[fw::MIGRATE_PCPTYPES];
  for (unsigned mt = 0; mt < fw::MIGRATE_PCPTYPES; ++mt) {
    list_add(&blocks[mt], &a.free_list[mt]);
    ++a.nr_free;
  }
  const fw::Buddy& b = r.k->buddy();
  auto fallback = [&](unsigned mt) { return b.find_suitable_fallback(&a, 0, mt, false); };
  EXPECT_EQ(fallback(fw::MIGRATE_UNMOVABLE), fw::MIGRATE_RECLAIMABLE);
  EXPECT_EQ(fallback(fw::MIGRATE_MOVABLE), fw::MIGRATE_RECLAIMABLE);
  EXPECT_EQ(fallback(fw::MIGRATE_RECLAIMABLE), fw::MIGRATE_UNMOVABLE);
  // Without the first choice, the second.
  list_del(&blocks[fw::MIGRATE_RECLAIMABLE]);
  EXPECT_EQ(fallback(fw::MIGRATE_UNMOVABLE), fw::MIGRATE_MOVABLE);
  EXPECT_EQ(fallback(fw::MIGRATE_MOVABLE), fw::MIGRATE_UNMOVABLE);
  list_del(&blocks[fw::MIGRATE_UNMOVABLE]);
  EXPECT_EQ(fallback(fw::MIGRATE_RECLAIMABLE), fw::MIGRATE_MOVABLE);
}

TEST(fw_buddy, nofragment_spreads_to_a_lower_zone_instead_of_fragmenting) {
  uint64_t frag = 0, boost = 0;
  bool from_normal = false;
  fragmenting_fallback_case(true, &frag, &boost, &from_normal);
  if (HasFatalFailure()) return;
  EXPECT_EQ(frag, 0u);
  EXPECT_FALSE(from_normal) << "ALLOC_NOFRAGMENT takes a whole pageblock of DMA32 first";
  EXPECT_EQ(boost, 0u);
  fragmenting_fallback_case(false, &frag, &boost, &from_normal);
  if (HasFatalFailure()) return;
  EXPECT_GE(frag, 1u) << "without it the request falls back inside Normal's mixed blocks";
  EXPECT_TRUE(from_normal);
  // Each claim attempt below pageblock order boosts, whether it claims
  // the block or not (6.18 try_to_claim_block).
  EXPECT_GE(boost, fw::pageblock_nr_pages) << "a fragmenting fallback boosts the watermarks";
}

TEST(fw_buddy, small_movable_fallbacks_steal_without_claiming) {
  // A movable order-0 request that finds only small reclaimable free blocks
  // steals one without taking the pageblock (Linux's __rmqueue_steal); the
  // pageblock stays reclaimable, mixed now: a fragmentation event. THP
  // off: khugepaged's min_free_kbytes would leave free blocks of order 4
  // and more below the watermark, which a movable request may claim.
  fw::Params p = quiet_params();
  p.transparent_hugepage = fw::THP_NEVER;
  Rig r(spec_mb(64), p);
  fw::PageAlloc& pa = r.k->page_alloc();
  fw::zone* dma = &r.k->nodes().node(0).node_zones[fw::ZONE_DMA];
  std::vector<page*> got;
  while (page* p = pa.alloc_pages(r.cpu(), fw::GFP_DMA | fw::__GFP_MOVABLE | fw::__GFP_NOWARN | fw::__GFP_NORETRY, 0))
    got.push_back(p);
  ASSERT_GT(got.size(), 3000u);
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  // Make every DMA pageblock reclaimable, free pages moved along.
  {
    fw::LockGuard g(dma->lock, r.cpu());
    for (uint64_t pfn = dma->zone_start_pfn; pfn < dma->zone_end_pfn(); pfn = fw::pageblock_end_pfn(pfn)) {
      const uint64_t b = std::max(fw::pageblock_start_pfn(pfn), dma->zone_start_pfn);
      if (fw::pageblock_start_pfn(pfn) < dma->zone_start_pfn) {
        dma->set_pfnblock_migratetype(b, fw::MIGRATE_RECLAIMABLE);  // the partial first block holds nothing free
        continue;
      }
      r.k->buddy().move_freepages_block(dma, b, dma->get_pfnblock_migratetype(b), fw::MIGRATE_RECLAIMABLE);
    }
  }
  // One page in four back: order-0 holes in reclaimable blocks, too few
  // for a claim (which needs half of a block free or alike).
  std::vector<HeldBlock> held;
  std::vector<page*> kept;
  for (page* p : got) {
    const uint64_t pfn = r.k->nodes().page_to_pfn(p);
    if (pfn % 4 == 1) pa.free_pages(r.cpu(), p, 0);
    else {
      kept.push_back(p);
      held.push_back({pfn, 0});
    }
  }
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  const uint64_t reclaimable = pageblocks_of(*dma, fw::MIGRATE_RECLAIMABLE);
  full_check(*r.k, held);
  const uint64_t frag0 = ev(*r.k, fw::EXTFRAG_FRAGMENTING), claimed0 = ev(*r.k, fw::EXTFRAG_CLAIMED);
  page* m = pa.alloc_pages(r.cpu(), fw::GFP_DMA | fw::__GFP_MOVABLE, 0);
  ASSERT_NE(m, nullptr);
  EXPECT_GT(ev(*r.k, fw::EXTFRAG_FRAGMENTING), frag0);
  EXPECT_EQ(ev(*r.k, fw::EXTFRAG_CLAIMED), claimed0) << "order-0 movable requests never claim";
  EXPECT_EQ(pageblocks_of(*dma, fw::MIGRATE_RECLAIMABLE), reclaimable);
  EXPECT_EQ(dma->get_pfnblock_migratetype(r.k->nodes().page_to_pfn(m)), fw::MIGRATE_RECLAIMABLE);
  held.push_back({r.k->nodes().page_to_pfn(m), 0});
  full_check(*r.k, held);
  pa.free_pages(r.cpu(), m, 0);
  for (page* p : kept) pa.free_pages(r.cpu(), p, 0);
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  full_check(*r.k, {});
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_buddy, compound_pages) {
  Rig r(spec_mb(64));
  fw::PageAlloc& pa = r.k->page_alloc();
  for (unsigned order : {1u, 3u, 9u, 10u}) {
    page* p = pa.alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_COMP, order);
    ASSERT_NE(p, nullptr) << order;
    EXPECT_TRUE(fw::PageHead(p));
    EXPECT_EQ(fw::compound_order(p), order);
    EXPECT_EQ(fw::compound_nr(p), 1ull << order);
    for (uint64_t i = 1; i < (1ull << order); ++i) {
      ASSERT_TRUE(fw::PageTail(p + i));
      ASSERT_EQ(fw::compound_head(p + i), p);
      ASSERT_EQ(p[i]._refcount, 0);
    }
    get_page(p);
    pa.put_page(r.cpu(), p + 1);  // through a tail: drops the head's reference
    EXPECT_EQ(p->_refcount, 1);
    pa.put_page(r.cpu(), p);  // the last: the whole compound page goes
    EXPECT_FALSE(fw::PageHead(p));
  }
  page* q = pa.alloc_pages(r.cpu(), fw::GFP_KERNEL, 2);  // not compound
  EXPECT_FALSE(fw::PageCompound(q));
  EXPECT_FALSE(fw::PageTail(q + 1));
  pa.free_pages(r.cpu(), q, 2);
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  full_check(*r.k, {});
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_buddy, high_order_atomic_requests_reserve_a_pageblock) {
  Rig r(spec_mb(64));
  fw::PageAlloc& pa = r.k->page_alloc();
  // Below the low watermarks the atomic request reaches the slow path,
  // where ALLOC_HIGHATOMIC reserves its pageblock for later ones.
  std::vector<page*> got;
  while (page* p = pa.alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_NOWARN | fw::__GFP_NORETRY, 0))
    got.push_back(p);
  page* p = pa.alloc_pages(r.cpu(), fw::GFP_ATOMIC, 2);
  ASSERT_NE(p, nullptr);
  fw::zone* z = r.k->nodes().page_zone(p);
  EXPECT_EQ(z->nr_reserved_highatomic, fw::pageblock_nr_pages);
  EXPECT_EQ(pageblocks_of(*z, fw::MIGRATE_HIGHATOMIC), 1u);
  EXPECT_EQ(ev(*r.k, fw::HIGHATOMIC_RESERVED), 1u);
  std::vector<HeldBlock> held;
  for (page* q : got) held.push_back({r.k->nodes().page_to_pfn(q), 0});
  held.push_back({r.k->nodes().page_to_pfn(p), 2});
  full_check(*r.k, held);
  pa.free_pages(r.cpu(), p, 2);
  for (page* q : got) pa.free_pages(r.cpu(), q, 0);
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  full_check(*r.k, {});
  // The reserve stays, its free pages are not for ordinary requests.
  EXPECT_GT(z->nr_free_highatomic, 0u);
}

TEST(fw_buddy, poisoned_page_is_kept_out_of_use) {
  Rig r(spec_mb(64));
  fw::PageAlloc& pa = r.k->page_alloc();
  page* p = pa.alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  ASSERT_NE(p, nullptr);
  const uint64_t pa_ = r.k->nodes().page_to_phys(p);
  pa.free_pages(r.cpu(), p, 0);  // back at the head of its per-CPU list
  r.m->inject_poison(pa_ + 128);
  page* q = pa.alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_ZERO, 0);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p) << "the poisoned page was handed out";
  EXPECT_TRUE(fw::PageHWPoison(p));
  EXPECT_EQ(r.k->vmstat().node_total(fw::NR_HWPOISON), 1);
  EXPECT_EQ(ev(*r.k, fw::HWPOISON_ALLOC_SKIPPED), 1u);
  pa.free_pages(r.cpu(), q, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages() - 1);
  page* s = pa.alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  fw::SetPageHWPoison(s);
  pa.free_pages(r.cpu(), s, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages() - 2);
  full_check(*r.k, {{r.k->nodes().page_to_pfn(p), 0}, {r.k->nodes().page_to_pfn(s), 0}});
}

TEST(fw_buddy, zeroing_really_zeroes) {
  Rig r(spec_mb(64));
  fw::PageAlloc& pa = r.k->page_alloc();
  page* p = pa.alloc_pages(r.cpu(), fw::GFP_KERNEL, 2);
  const uint64_t phys = r.k->nodes().page_to_phys(p);
  std::memset(r.m->raw(phys, 4 * PAGE_SIZE), 0xab, 4 * PAGE_SIZE);
  pa.free_pages(r.cpu(), p, 2);
  page* q = pa.alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_ZERO, 2);
  ASSERT_EQ(q, p);  // LIFO per-CPU list: the same block comes back
  for (uint64_t i = 0; i < 4 * PAGE_SIZE; i += 8) ASSERT_EQ(r.read64(phys + i), 0u) << i;
  pa.free_pages(r.cpu(), q, 2);
}

TEST(fw_buddy, checkers_catch_corruption) {
  // The checkers must be able to fail: corrupt a counter and a list.
  Rig r(spec_mb(64));
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  ++z->free_area[3].nr_free;
  EXPECT_NE(captured_failures([&] { full_check(*r.k, {}); }).find("nr_free"), std::string::npos);
  --z->free_area[3].nr_free;
  // A free block whose pageblock claims another type.
  page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE, 5);
  r.k->page_alloc().free_pages(r.cpu(), p, 5);
  uint64_t pfn = 0;
  for (unsigned o = 0; o < fw::NR_PAGE_ORDERS && !pfn; ++o)
    if (z->free_area[o].nr_free_mt[fw::MIGRATE_MOVABLE] && o < fw::pageblock_order)
      pfn = r.k->nodes().page_to_pfn(list_first_entry(&z->free_area[o].free_list[fw::MIGRATE_MOVABLE], page, lru));
  ASSERT_NE(pfn, 0u);
  z->set_pfnblock_migratetype(pfn, fw::MIGRATE_RECLAIMABLE);
  EXPECT_NE(captured_failures([&] { full_check(*r.k, {}); }).find("on the Movable list"), std::string::npos);
  z->set_pfnblock_migratetype(pfn, fw::MIGRATE_MOVABLE);
  // A page that leaked (allocated, forgotten, refcount dropped by hand).
  page* leak = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  leak->_refcount = 0;
  EXPECT_NE(captured_failures([&] { full_check(*r.k, {}); }).find("neither free, held, reserved nor allocated"),
            std::string::npos);
  leak->_refcount = 1;
  // The shadow check sees a block removed behind its back.
  {
    ShadowCheck shadow(*r.k);
    fw::zone* zz = r.k->nodes().node(0).zonelist[0];
    page* b = r.k->buddy().free_list_first(zz, fw::MAX_PAGE_ORDER, fw::MIGRATE_MOVABLE);
    fw::list_del(&b->lru);  // gone from the list, counters untouched
    --zz->free_area[fw::MAX_PAGE_ORDER].nr_free;
    --zz->free_area[fw::MAX_PAGE_ORDER].nr_free_mt[fw::MIGRATE_MOVABLE];
    page* x = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE, 7);
    (void)x;
    EXPECT_NE(captured_failures([&] { shadow.check_step(x, 7); }).find("shadow"), std::string::npos);
  }
}

// ---------------------------------------------------------------- randomized

struct RandomRun {
  uint64_t steps = 0, allocs = 0, fails = 0, frees = 0, full_checks = 0;
};

void random_run(uint64_t nsteps, uint64_t seed, RandomRun* out) {
  Rig r(two_node_machine(), two_node_params());
  fw::Kernel& k = *r.k;
  fw::PageAlloc& pa = k.page_alloc();
  std::mt19937_64 rng(seed);
  struct Held {
    page* p;
    uint64_t pfn;
    unsigned order;
  };
  std::vector<Held> held;
  const fw::gfp_t gfps[] = {
      fw::GFP_KERNEL,
      fw::GFP_KERNEL | fw::__GFP_RECLAIMABLE,
      fw::GFP_HIGHUSER_MOVABLE,
      fw::GFP_HIGHUSER_MOVABLE,
      fw::GFP_USER | fw::__GFP_MOVABLE,
      fw::GFP_KERNEL | fw::__GFP_DMA,
      fw::GFP_KERNEL | fw::__GFP_DMA32,
      fw::GFP_ATOMIC,
      fw::GFP_NOWAIT | fw::__GFP_MOVABLE,
  };
  ShadowCheck shadow(k);
  auto held_blocks = [&] {
    std::vector<HeldBlock> v;
    v.reserve(held.size());
    for (const Held& h : held) v.push_back({h.pfn, h.order});
    return v;
  };
  for (uint64_t step = 0; step < nsteps; ++step) {
    hosthal::HostHal& h = r.cpu(static_cast<unsigned>(rng() % 2));
    const unsigned roll = static_cast<unsigned>(rng() % 1000);
    if (held.empty() || roll < 520) {
      const unsigned orr = static_cast<unsigned>(rng() % 100);
      const unsigned order = orr < 70 ? 0 : orr < 88 ? 1 + rng() % 3 : orr < 97 ? 4 + rng() % 5 : 9 + rng() % 2;
      fw::gfp_t gfp = gfps[rng() % (sizeof gfps / sizeof gfps[0])] | fw::__GFP_NOWARN;
      if (order > 3) gfp |= fw::__GFP_NORETRY;
      if (order && rng() % 4 == 0) gfp |= fw::__GFP_COMP;
      int nid = static_cast<int>(rng() % 3) - 1;
      if (nid >= 0 && rng() % 3 == 0) gfp |= fw::__GFP_THISNODE;
      page* p = pa.alloc_pages(h, gfp, order, nid);
      shadow.check_step(p, order);
      ++out->allocs;
      if (!p) {
        ++out->fails;
      } else {
        const unsigned zi = fw::page_zonenum(p);
        if (gfp & fw::__GFP_DMA) {
          ASSERT_EQ(zi, static_cast<unsigned>(fw::ZONE_DMA));
        }
        if (gfp & fw::__GFP_DMA32) {
          ASSERT_LE(zi, static_cast<unsigned>(fw::ZONE_DMA32));
        }
        if (zi == fw::ZONE_MOVABLE) {
          ASSERT_EQ(fw::gfp_zone(gfp), static_cast<unsigned>(fw::ZONE_MOVABLE));
        }
        if (gfp & fw::__GFP_THISNODE) {
          ASSERT_EQ(fw::page_to_nid(p), nid);
        }
        if (k.cma().contains(k.nodes().page_to_pfn(p))) {
          ASSERT_EQ(fw::gfp_migratetype(gfp), fw::MIGRATE_MOVABLE);
        }
        if ((gfp & fw::__GFP_COMP) && order) {
          ASSERT_TRUE(fw::PageHead(p));
        }
        held.push_back({p, k.nodes().page_to_pfn(p), order});
      }
    } else if (roll < 995) {
      const size_t i = rng() % held.size();
      pa.free_pages(h, held[i].p, held[i].order);
      shadow.check_step(nullptr, 0);
      held[i] = held.back();
      held.pop_back();
      ++out->frees;
    } else if (roll < 998) {
      k.pcp().drain_all_pages(h, nullptr);
      shadow.check_step(nullptr, 0);
    } else {
      // Timer ticks: kswapd and kcompactd (nothing here is migratable).
      r.cpu(0).advance_ns(600000000);
      r.cpu(1).advance_ns(600000000);
      k.run_deferred_work(r.cpu(0));
      k.run_deferred_work(r.cpu(1));
      shadow.check_step(nullptr, 0);
    }
    ++out->steps;
    if (shadow.errors()) FAIL() << "shadow check failed at step " << step;
    if (step < 3000 || step % 50000 == 0) {
      full_check(k, held_blocks());
      ++out->full_checks;
      if (::testing::Test::HasFailure()) FAIL() << "full check failed at step " << step;
    }
  }
  full_check(k, held_blocks());
  uint64_t held_pages = 0;
  for (const Held& h : held) held_pages += 1ull << h.order;
  EXPECT_EQ(k.nr_free_pages() + held_pages, k.boot_free_pages());
  for (const Held& h : held) pa.free_pages(r.cpu(0), h.p, h.order);
  held.clear();
  k.pcp().drain_all_pages(r.cpu(0), nullptr);
  shadow.check_step(nullptr, 0);
  full_check(k, {});
  EXPECT_EQ(k.nr_free_pages(), k.boot_free_pages());
  EXPECT_EQ(shadow.errors(), 0u);
}

TEST(fw_buddy, randomized_two_million_steps_keep_every_invariant) {
  RandomRun run;
  random_run(2000000, 12345, &run);
  EXPECT_GT(run.fails, 0u) << "the run should meet exhaustion";
  EXPECT_GT(run.frees, 500000u);
  std::printf("randomized: %lu steps (%lu allocations, %lu failed, %lu frees), shadow-checked after every step, "
              "%lu full checks\n",
              static_cast<unsigned long>(run.steps), static_cast<unsigned long>(run.allocs),
              static_cast<unsigned long>(run.fails), static_cast<unsigned long>(run.frees),
              static_cast<unsigned long>(run.full_checks));
}

}  // namespace
