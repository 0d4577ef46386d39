// The buddy allocator: split and merge, zones, every page accounted, and a
// randomized run checked against an independent invariant checker.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "sw/mm/buddy.h"
#include "tb/fw/fw_rig.h"

using namespace fwtest;
using fw::page;

namespace {

struct Block {
  page* p;
  uint64_t pfn;
  unsigned order;
};

std::vector<uint64_t> free_blocks_by_order(fw::Kernel& k) {
  std::vector<uint64_t> v;
  for (unsigned o = 0; o < fw::NR_PAGE_ORDERS; ++o) v.push_back(k.buddy().nr_free_blocks(o));
  return v;
}

// Checks the allocator against its struct pages and free lists, from the
// outside. `held` are the blocks the test holds.
void check_invariants(fw::Kernel& k, const std::vector<Block>& held) {
  fw::MmNodes& nodes = k.nodes();
  uint64_t total_free = 0;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n) {
    for (unsigned zi = 0; zi < fw::MAX_NR_ZONES; ++zi) {
      fw::zone& z = nodes.node(n).node_zones[zi];
      if (!z.spanned_pages) continue;
      // pfn -> state: 0 unknown, 1 free, 2 held by the test
      std::vector<uint8_t> state(z.spanned_pages, 0);
      uint64_t zone_free = 0;
      for (unsigned o = 0; o < fw::NR_PAGE_ORDERS; ++o) {
        uint64_t listed = 0;
        for (unsigned t = 0; t < fw::MIGRATE_TYPES; ++t) {
          fw::list_head* head = &z.free_area[o].free_list[t];
          for (fw::list_head* l = head->next; l != head; l = l->next) {
            page* p = list_entry(l, page, lru);
            const uint64_t pfn = nodes.page_to_pfn(p);
            ++listed;
            ASSERT_TRUE(fw::PageBuddy(p)) << "listed page not PageBuddy, pfn " << pfn;
            ASSERT_EQ(fw::buddy_order(p), o) << "pfn " << pfn;
            ASSERT_EQ(pfn & ((1ull << o) - 1), 0u) << "misaligned block pfn " << pfn << " order " << o;
            ASSERT_TRUE(z.spans(pfn) && z.spans(pfn + (1ull << o) - 1)) << "block outside its zone";
            for (uint64_t i = 0; i < (1ull << o); ++i) {
              uint8_t& s = state[pfn + i - z.zone_start_pfn];
              ASSERT_EQ(s, 0) << "pfn " << pfn + i << " in two free blocks";
              s = 1;
              ASSERT_FALSE(fw::PageReserved(p + i));
              ASSERT_EQ(p[i]._refcount, 0);
            }
            // Merged as far as possible: the buddy is not a free block of the same order.
            if (o < fw::MAX_PAGE_ORDER) {
              const uint64_t bp = pfn ^ (1ull << o);
              if (z.spans(bp)) {
                page* b = nodes.pfn_to_page(bp);
                ASSERT_FALSE(fw::PageBuddy(b) && fw::buddy_order(b) == o) << "unmerged buddies at pfn " << pfn;
              }
            }
          }
        }
        ASSERT_EQ(listed, z.free_area[o].nr_free) << "nr_free of order " << o;
        zone_free += listed << o;
      }
      ASSERT_EQ(zone_free, z.free_pages);
      total_free += zone_free;
      for (const Block& b : held) {
        if (!z.spans(b.pfn)) continue;
        for (uint64_t i = 0; i < (1ull << b.order); ++i) {
          uint8_t& s = state[b.pfn + i - z.zone_start_pfn];
          ASSERT_EQ(s, 0) << "held pfn " << b.pfn + i << " is also free or held twice";
          s = 2;
        }
      }
      // Every page accounted: free, held by the test, reserved, or owned by
      // the kernel (refcount > 0: page tables, object caches).
      uint64_t reserved = 0, kernel_owned = 0;
      for (uint64_t i = 0; i < z.spanned_pages; ++i) {
        page* p = nodes.pfn_to_page(z.zone_start_pfn + i);
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(fw::page_zonenum(p), zi);
        ASSERT_EQ(fw::page_to_nid(p), static_cast<int>(n));
        if (state[i]) continue;
        if (fw::PageReserved(p)) ++reserved;
        else if (p->_refcount > 0) ++kernel_owned;
        else if (fw::PageBuddy(p) || p->_refcount == 0) {
          // A tail page of a block the kernel holds (refcount on the head only).
        }
      }
      ASSERT_EQ(z.spanned_pages - z.managed_pages, reserved) << "zone " << z.name;
      (void)kernel_owned;
    }
  }
  ASSERT_EQ(total_free, k.buddy().nr_free_pages());
}

TEST(fw_buddy, boot_state_is_consistent) {
  Rig r(spec_mb(128));
  check_invariants(*r.k, {});
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  // Most memory sits in max-order blocks right after boot.
  EXPECT_GT(r.k->buddy().nr_free_blocks(fw::MAX_PAGE_ORDER) << fw::MAX_PAGE_ORDER, r.k->nr_free_pages() / 2);
}

TEST(fw_buddy, split_then_merge_restores_the_free_lists) {
  Rig r(spec_mb(64));
  fw::Buddy& b = r.k->buddy();
  // GFP_KERNEL on this machine is served by the first zone of the zonelist.
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  ASSERT_EQ(z->idx, static_cast<unsigned>(fw::ZONE_DMA32));
  auto zone_blocks = [&] {
    std::vector<uint64_t> v;
    for (unsigned o = 0; o < fw::NR_PAGE_ORDERS; ++o) v.push_back(z->free_area[o].nr_free);
    return v;
  };
  const auto before = zone_blocks();
  const auto before_all = free_blocks_by_order(*r.k);
  const uint64_t free0 = b.nr_free_pages();
  // The smallest order with a free block is the one that will be split.
  unsigned split = 0;
  while (before[split] == 0) ++split;
  const uint64_t splits0 = b.stats().splits;
  page* p = b.alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->_refcount, 1);
  EXPECT_FALSE(fw::PageBuddy(p));
  EXPECT_EQ(fw::page_zonenum(p), static_cast<unsigned>(fw::ZONE_DMA32));
  const auto mid = zone_blocks();
  EXPECT_EQ(b.nr_free_pages(), free0 - 1);
  for (unsigned o = 0; o < fw::NR_PAGE_ORDERS; ++o) {
    if (o < split) {
      EXPECT_EQ(mid[o], before[o] + 1) << "order " << o << " gains one half";
    } else if (o == split) {
      EXPECT_EQ(mid[o], before[o] - 1);
    } else {
      EXPECT_EQ(mid[o], before[o]);
    }
  }
  EXPECT_EQ(b.stats().splits - splits0, split);
  const uint64_t merges0 = b.stats().merges;
  b.free_pages(r.cpu(), p, 0);
  EXPECT_EQ(zone_blocks(), before);
  EXPECT_EQ(free_blocks_by_order(*r.k), before_all);
  EXPECT_EQ(b.stats().merges - merges0, split);
  EXPECT_EQ(b.nr_free_pages(), free0);
  check_invariants(*r.k, {});
}

TEST(fw_buddy, allocations_come_from_the_zone_gfp_asks_for) {
  Rig r(spec_mb(5 * 1024));  // DMA, DMA32 and Normal
  fw::Buddy& b = r.k->buddy();
  struct Case {
    fw::gfp_t gfp;
    unsigned zone;
  } cases[] = {{fw::GFP_DMA, fw::ZONE_DMA},
               {fw::GFP_DMA32, fw::ZONE_DMA32},
               {fw::GFP_KERNEL, fw::ZONE_NORMAL},
               {fw::GFP_HIGHUSER_MOVABLE, fw::ZONE_NORMAL}};
  for (const Case& c : cases) {
    page* p = b.alloc_pages(r.cpu(), c.gfp, 3);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(fw::page_zonenum(p), c.zone);
    const uint64_t pfn = r.k->nodes().page_to_pfn(p);
    EXPECT_EQ(pfn % 8, 0u);
    if (c.zone == fw::ZONE_DMA) {
      EXPECT_LT(pfn, fw::MAX_DMA_PFN);
    }
    if (c.zone == fw::ZONE_DMA32) {
      EXPECT_LT(pfn, fw::MAX_DMA32_PFN);
    }
    b.free_pages(r.cpu(), p, 3);
  }
  EXPECT_EQ(fw::gfp_zone(fw::__GFP_MOVABLE | fw::__GFP_HIGHMEM), static_cast<unsigned>(fw::ZONE_MOVABLE));
  EXPECT_EQ(fw::gfp_zone(fw::__GFP_MOVABLE), static_cast<unsigned>(fw::ZONE_NORMAL));
  EXPECT_EQ(fw::gfp_zone(fw::__GFP_DMA | fw::__GFP_MOVABLE), static_cast<unsigned>(fw::ZONE_DMA));
}

TEST(fw_buddy, exhausting_dma_falls_back_no_lower_and_fails_cleanly) {
  Rig r(spec_mb(64));
  fw::Buddy& b = r.k->buddy();
  fw::zone& dma = r.k->nodes().node(0).node_zones[fw::ZONE_DMA];
  const uint64_t dma_free = dma.free_pages;
  ASSERT_GT(dma_free, 3000u);
  std::vector<page*> got;
  while (page* p = b.alloc_pages(r.cpu(), fw::GFP_DMA | fw::__GFP_NOWARN, 0)) got.push_back(p);
  EXPECT_EQ(got.size(), dma_free);
  EXPECT_EQ(dma.free_pages, 0u);
  EXPECT_GT(b.stats().alloc_failed, 0u);
  // Normal requests fall back down to DMA32 (no Normal zone below 4 GiB) and still work.
  page* k = b.alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(fw::page_zonenum(k), static_cast<unsigned>(fw::ZONE_DMA32));
  b.free_pages(r.cpu(), k, 0);
  for (page* p : got) b.free_pages(r.cpu(), p, 0);
  EXPECT_EQ(dma.free_pages, dma_free);
  EXPECT_EQ(b.nr_free_pages(), r.k->boot_free_pages());
  EXPECT_EQ(b.alloc_pages(r.cpu(), fw::GFP_KERNEL, fw::MAX_PAGE_ORDER + 1), nullptr);
  check_invariants(*r.k, {});
}

TEST(fw_buddy, randomized_alloc_free_keeps_every_invariant) {
  Rig r(spec_mb(96));
  fw::Buddy& b = r.k->buddy();
  std::mt19937_64 rng(12345);
  std::vector<Block> held;
  const fw::gfp_t gfps[] = {fw::GFP_KERNEL, fw::GFP_DMA, fw::GFP_DMA32, fw::GFP_HIGHUSER_MOVABLE};
  uint64_t fails = 0;
  for (int step = 0; step < 20000; ++step) {
    const bool do_alloc = held.empty() || (rng() % 100) < 55;
    if (do_alloc) {
      // Mostly small orders, sometimes big ones.
      const unsigned order = (rng() % 10 == 0) ? rng() % (fw::MAX_PAGE_ORDER + 1) : rng() % 4;
      const fw::gfp_t gfp = gfps[rng() % 4] | fw::__GFP_NOWARN;
      page* p = b.alloc_pages(r.cpu(), gfp, order);
      if (!p) {
        ++fails;
        continue;
      }
      const uint64_t pfn = r.k->nodes().page_to_pfn(p);
      ASSERT_EQ(pfn & ((1ull << order) - 1), 0u);
      if (gfp & fw::__GFP_DMA) {
        ASSERT_EQ(fw::page_zonenum(p), static_cast<unsigned>(fw::ZONE_DMA));
      }
      if (gfp & fw::__GFP_DMA32) {
        ASSERT_LE(fw::page_zonenum(p), static_cast<unsigned>(fw::ZONE_DMA32));
      }
      held.push_back({p, pfn, order});
    } else {
      const size_t i = rng() % held.size();
      b.free_pages(r.cpu(), held[i].p, held[i].order);
      held[i] = held.back();
      held.pop_back();
    }
    if (step < 1000 || step % 250 == 0) {
      check_invariants(*r.k, held);
      if (HasFatalFailure()) FAIL() << "at step " << step;
    }
  }
  EXPECT_GT(fails, 0u) << "the run should have met exhaustion at least once";
  uint64_t held_pages = 0;
  for (const Block& h : held) held_pages += 1ull << h.order;
  EXPECT_EQ(b.nr_free_pages() + held_pages, r.k->boot_free_pages());
  for (const Block& h : held) b.free_pages(r.cpu(), h.p, h.order);
  check_invariants(*r.k, {});
  // Same free set, merged as far as possible: the same blocks as at boot.
  EXPECT_EQ(b.nr_free_pages(), r.k->boot_free_pages());
  Rig fresh(spec_mb(96));
  EXPECT_EQ(free_blocks_by_order(*r.k), free_blocks_by_order(*fresh.k));
  EXPECT_LT(b.stats().min_free_pages, r.k->boot_free_pages());
}

TEST(fw_buddy, poisoned_page_is_kept_out_of_use) {
  Rig r(spec_mb(64));
  fw::Buddy& b = r.k->buddy();
  page* p = b.alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  ASSERT_NE(p, nullptr);
  const uint64_t pa = r.k->nodes().page_to_phys(p);
  b.free_pages(r.cpu(), p, 0);  // back at the head of its free list
  r.m->inject_poison(pa + 128);
  page* q = b.alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_ZERO, 0);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p) << "the poisoned page was handed out";
  EXPECT_TRUE(fw::PageHWPoison(p));
  EXPECT_EQ(r.k->vmstat().gauge[fw::NR_HWPOISON], 1);
  EXPECT_EQ(r.k->vmstat().event[fw::HWPOISON_ALLOC_SKIPPED], 1u);
  b.free_pages(r.cpu(), q, 0);
  EXPECT_EQ(b.nr_free_pages(), r.k->boot_free_pages() - 1);
  // A poisoned page that is freed never reaches the free lists again.
  page* s = b.alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  fw::SetPageHWPoison(s);
  b.free_pages(r.cpu(), s, 0);
  EXPECT_EQ(b.nr_free_pages(), r.k->boot_free_pages() - 2);
  check_invariants(*r.k, {{p, r.k->nodes().page_to_pfn(p), 0}, {s, r.k->nodes().page_to_pfn(s), 0}});
}

TEST(fw_buddy, zeroing_really_zeroes) {
  Rig r(spec_mb(64));
  fw::Buddy& b = r.k->buddy();
  page* p = b.alloc_pages(r.cpu(), fw::GFP_KERNEL, 2);
  const uint64_t pa = r.k->nodes().page_to_phys(p);
  std::memset(r.m->raw(pa, 4 * kPage), 0xab, 4 * kPage);
  b.free_pages(r.cpu(), p, 2);
  page* q = b.alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_ZERO, 2);
  ASSERT_EQ(q, p);  // LIFO: the same block comes back
  for (uint64_t i = 0; i < 4 * kPage; i += 8) ASSERT_EQ(r.read64(pa + i), 0u) << i;
  b.free_pages(r.cpu(), q, 2);
}

}  // namespace
