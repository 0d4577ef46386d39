// Invariant checkers for the page allocator, written from the outside (the
// struct pages, the free and per-CPU lists, the pageblock flags), not from
// the allocator's own code.
//
// FullCheck walks everything: every free list (each block a PageBuddy head
// of the list's order, aligned, in its zone, on the list of its pageblock's
// migrate type, not overlapping any other), the per-list and per-type
// counters, NR_FREE_PAGES and NR_FREE_PAGES_BLOCKS, every per-CPU list,
// and every pfn of every zone: free, on a per-CPU list, held by the test,
// reserved, or allocated (a reference, or a tail of a compound page).
// Buddies are merged as far as they can be (a free block's buddy is never a
// free block of the same order and a mergeable type).
//
// ShadowCheck is the incremental one: a BuddyObserver that mirrors every
// free-list and per-CPU-list change into a shadow map (catching overlaps
// and removals of blocks that are not there as they happen), and after each
// step checks only what the step touched: the counters against the shadow,
// each block added (still a buddy of that order and type, not mergeable
// with its buddy), and every page taken off a list (free again, on a
// per-CPU list, or inside the block the step handed out).
#pragma once

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

#include "sw/kernel/kernel.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/swap.h"
#include "sw/mm/swapfile.h"

namespace fwtest {

// The failure messages f() reports, captured instead of failing the test:
// how tests show that a checker can fail.
template <typename F>
std::string captured_failures(F&& f) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter rep(::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD,
                                                    &results);
    f();
  }
  std::string s;
  for (int i = 0; i < results.size(); ++i) {
    s += results.GetTestPartResult(i).message();
    s += "\n";
  }
  return s;
}

struct HeldBlock {
  uint64_t pfn;
  unsigned order;
};

inline bool mergeable(unsigned mt) { return mt < fw::MIGRATE_PCPTYPES; }

// The blocks of a max-order free list's lazy segment (free since boot, not
// linked: fw::zone::lazy_mark), in the segment's order (descending pfn).
template <typename F>
void for_each_lazy_block(const fw::zone& z, unsigned mt, F&& f) {
  const uint64_t first = (z.zone_start_pfn + fw::MAX_ORDER_NR_PAGES - 1) & ~(fw::MAX_ORDER_NR_PAGES - 1);
  for (uint64_t pfn = (z.zone_end_pfn() - 1) & ~(fw::MAX_ORDER_NR_PAGES - 1); pfn >= first && pfn >= z.zone_start_pfn;
       pfn -= fw::MAX_ORDER_NR_PAGES) {
    if (z.pfnblock_lazy(pfn) && z.get_pfnblock_migratetype(pfn) == mt) f(pfn);
    if (pfn < fw::MAX_ORDER_NR_PAGES) break;
  }
}

// ---------------------------------------------------------------- full

inline void full_check(fw::Kernel& k, const std::vector<HeldBlock>& held) {
  fw::MmNodes& nodes = k.nodes();
  uint64_t total_free = 0;
  std::set<uint64_t> held_pfns;  // only used for small sets
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n) {
    for (unsigned zi = 0; zi < fw::MAX_NR_ZONES; ++zi) {
      fw::zone& z = nodes.node(static_cast<int>(n)).node_zones[zi];
      if (!z.spanned_pages) continue;
      // 0 unknown, 1 free, 2 per-CPU list, 3 held by the test
      std::vector<uint8_t> state(z.spanned_pages, 0);
      uint64_t zone_free = 0, zone_cma = 0, zone_blocks = 0;
      for (unsigned o = 0; o < fw::NR_PAGE_ORDERS; ++o) {
        uint64_t listed_all = 0;
        for (unsigned t = 0; t < fw::MIGRATE_TYPES; ++t) {
          uint64_t listed = 0;
          fw::list_head* head = &z.free_area[o].free_list[t];
          bool marker = false;
          for (fw::list_head* l = head->next; l != head; l = l->next) {
            if (l == &z.lazy_mark[t]) {  // where the lazy segment sits
              ASSERT_EQ(o, fw::MAX_PAGE_ORDER) << "lazy segment in a list of order " << o;
              ASSERT_FALSE(marker) << "two lazy segments";
              marker = true;
              continue;
            }
            fw::page* p = list_entry(l, fw::page, lru);
            const uint64_t pfn = nodes.page_to_pfn(p);
            ++listed;
            ASSERT_EQ(l->next->prev, l) << "broken list link at pfn " << pfn;
            ASSERT_TRUE(fw::PageBuddy(p)) << "listed page not PageBuddy, pfn " << pfn;
            ASSERT_EQ(fw::buddy_order(p), o) << "pfn " << pfn;
            ASSERT_EQ(pfn & ((1ull << o) - 1), 0u) << "misaligned block pfn " << pfn << " order " << o;
            ASSERT_TRUE(z.spans(pfn) && z.spans(pfn + (1ull << o) - 1)) << "block outside its zone";
            ASSERT_EQ(fw::page_zonenum(p), zi);
            ASSERT_EQ(fw::page_to_nid(p), static_cast<int>(n));
            // On the list of its pageblock(s)' type.
            for (uint64_t b = pfn; b < pfn + (1ull << o); b += fw::pageblock_nr_pages)
              ASSERT_EQ(z.get_pfnblock_migratetype(b), t) << "free block at pfn " << pfn << " order " << o
                                                          << " on the " << fw::migratetype_name(t) << " list";
            const bool deferred = z.pfnblock_deferred(pfn);
            if (deferred) {
              ASSERT_EQ(o, fw::MAX_PAGE_ORDER) << "deferred memmap in a block that was split";
            }
            for (uint64_t i = 0; i < (1ull << o); ++i) {
              uint8_t& s = state[pfn + i - z.zone_start_pfn];
              ASSERT_EQ(s, 0) << "pfn " << pfn + i << " in two free blocks";
              s = 1;
              if (deferred && i) continue;  // never initialized: nothing to read
              ASSERT_FALSE(fw::PageReserved(p + i)) << pfn + i;
              ASSERT_EQ(p[i]._refcount, 0) << pfn + i;
              if (i) {
                ASSERT_FALSE(fw::PageBuddy(p + i)) << "a buddy head inside a free block at " << pfn + i;
              }
            }
            // Merged as far as possible.
            if (o < fw::MAX_PAGE_ORDER) {
              const uint64_t bp = pfn ^ (1ull << o);
              if (z.spans(bp) && !z.pfnblock_deferred(bp)) {
                fw::page* b = nodes.pfn_to_page(bp);
                if (fw::PageBuddy(b) && fw::buddy_order(b) == o) {
                  const unsigned bt = z.get_pfnblock_migratetype(bp);
                  const bool may_merge = o < fw::pageblock_order || bt == t || (mergeable(bt) && mergeable(t));
                  ASSERT_FALSE(may_merge) << "unmerged buddies at pfn " << pfn << " order " << o;
                }
              }
            }
          }
          if (o == fw::MAX_PAGE_ORDER) {
            uint64_t lazy = 0;
            for_each_lazy_block(z, t, [&](uint64_t pfn) {
              ++lazy;
              for (uint64_t i = 0; i < fw::MAX_ORDER_NR_PAGES; ++i) {
                uint8_t& st = state[pfn + i - z.zone_start_pfn];
                EXPECT_EQ(st, 0) << "lazy pfn " << pfn + i << " in two free blocks";
                st = 1;
              }
              EXPECT_LE(pfn, z.lazy_cursor[t]) << "lazy block above the segment's cursor";
              if (*z.pageblock_byte(pfn) & fw::PB_head_unwritten) return;
              const fw::page* p = nodes.pfn_to_page(pfn);
              EXPECT_TRUE(fw::PageBuddy(p) && fw::buddy_order(p) == fw::MAX_PAGE_ORDER) << "lazy block head " << pfn;
            });
            ASSERT_EQ(lazy, z.lazy_free[t]) << "lazy blocks of type " << t;
            ASSERT_EQ(marker, lazy > 0) << "the lazy segment's marker, type " << t;
            listed += lazy;
          }
          ASSERT_EQ(listed, z.free_area[o].nr_free_mt[t]) << "nr_free_mt of order " << o << " type " << t;
          listed_all += listed;
          if (t != fw::MIGRATE_ISOLATE) zone_free += listed << o;
          if (t != fw::MIGRATE_ISOLATE && o >= fw::pageblock_order) zone_blocks += listed << o;
          if (t == fw::MIGRATE_CMA) zone_cma += listed << o;
        }
        ASSERT_EQ(listed_all, z.free_area[o].nr_free) << "nr_free of order " << o;
      }
      ASSERT_EQ(static_cast<int64_t>(zone_free), z.vm_stat[fw::NR_FREE_PAGES]) << "zone " << z.name;
      ASSERT_EQ(static_cast<int64_t>(zone_cma), z.vm_stat[fw::NR_FREE_CMA_PAGES]) << "zone " << z.name;
      ASSERT_EQ(static_cast<int64_t>(zone_blocks), z.vm_stat[fw::NR_FREE_PAGES_BLOCKS]) << "zone " << z.name;
      total_free += zone_free;
      // Per-CPU lists.
      if (z.per_cpu_pageset) {
        for (unsigned c = 0; c < nodes.nr_cpus(); ++c) {
          fw::per_cpu_pages& pcp = z.per_cpu_pageset[c];
          int64_t count = 0;
          for (unsigned pi = 0; pi < fw::NR_PCP_LISTS; ++pi) {
            const unsigned o = fw::pindex_to_order(pi);
            for (fw::list_head* l = pcp.lists[pi].next; l != &pcp.lists[pi]; l = l->next) {
              fw::page* p = list_entry(l, fw::page, lru);
              const uint64_t pfn = nodes.page_to_pfn(p);
              ASSERT_TRUE(z.spans(pfn)) << "pcp page outside its zone";
              ASSERT_FALSE(fw::PageBuddy(p));
              ASSERT_EQ(p->_refcount, 0);
              count += 1 << o;
              for (uint64_t i = 0; i < (1ull << o); ++i) {
                uint8_t& s = state[pfn + i - z.zone_start_pfn];
                ASSERT_EQ(s, 0) << "pcp pfn " << pfn + i << " also elsewhere";
                s = 2;
              }
            }
          }
          ASSERT_EQ(count, pcp.count) << "pcp count, cpu " << c;
        }
      }
      for (const HeldBlock& b : held) {
        if (!z.spans(b.pfn)) continue;
        for (uint64_t i = 0; i < (1ull << b.order); ++i) {
          uint8_t& s = state[b.pfn + i - z.zone_start_pfn];
          ASSERT_EQ(s, 0) << "held pfn " << b.pfn + i << " is also free or held twice";
          s = 3;
        }
      }
      // Every page accounted.
      uint64_t reserved = 0;
      for (uint64_t i = 0; i < z.spanned_pages; ++i) {
        const uint64_t pfn = z.zone_start_pfn + i;
        if (state[i]) continue;
        if (z.pfnblock_deferred(pfn)) {
          ADD_FAILURE() << "deferred pfn " << pfn << " outside a free block";
          return;
        }
        if (z.pfnblock_reserved_deferred(pfn)) {  // reserved pages, struct pages not written yet
          ++reserved;
          continue;
        }
        fw::page* p = nodes.pfn_to_page(pfn);
        ASSERT_EQ(fw::page_zonenum(p), zi);
        ASSERT_EQ(fw::page_to_nid(p), static_cast<int>(n));
        // (The zero page is allocated, and reserved as Linux's is.)
        if (fw::PageReserved(p) && !k.ctx().memory->is_zero_pfn(pfn)) {
          ++reserved;
          continue;
        }
        if (p->_refcount > 0) continue;  // allocated (kernel: tables, slabs)
        if (fw::PageTail(p) && fw::compound_head(p)->_refcount > 0) continue;
        // A free page of a hugetlb pool (refcount 0, outside the buddy lists).
        if (fw::PageHuge(fw::compound_head(p))) continue;
        ADD_FAILURE() << "pfn " << pfn << " is neither free, held, reserved nor allocated (flags " << std::hex
                      << p->flags << std::dec << ", refcount " << p->_refcount << ")";
        return;
      }
      ASSERT_EQ(z.spanned_pages - z.managed_pages, reserved) << "zone " << z.name;
    }
  }
  ASSERT_EQ(total_free, k.buddy().nr_free_pages());
}

// ---------------------------------------------------------------- incremental

class ShadowCheck final : public fw::BuddyObserver {
 public:
  explicit ShadowCheck(fw::Kernel& k) : k_(k) {
    fw::MmNodes& nodes = k.nodes();
    for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
      for (unsigned zi = 0; zi < fw::MAX_NR_ZONES; ++zi) {
        fw::zone* z = &nodes.node(static_cast<int>(n)).node_zones[zi];
        if (!z->spanned_pages) continue;
        Z& s = zones_[z];
        s.z = z;
        s.state.assign(z->spanned_pages, 0);
        s.order.assign(z->spanned_pages, 0);
        s.mt.assign(z->spanned_pages, 0);
        s.counts.assign(fw::NR_PAGE_ORDERS * fw::MIGRATE_TYPES, 0);
        // Seed from the lists as they are now.
        for (unsigned o = 0; o < fw::NR_PAGE_ORDERS; ++o)
          for (unsigned t = 0; t < fw::MIGRATE_TYPES; ++t) {
            fw::list_head* head = &z->free_area[o].free_list[t];
            for (fw::list_head* l = head->next; l != head; l = l->next)
              if (l != &z->lazy_mark[t]) mark(s, nodes.page_to_pfn(list_entry(l, fw::page, lru)), o, t, kFree);
            if (o == fw::MAX_PAGE_ORDER) for_each_lazy_block(*z, t, [&](uint64_t pfn) { mark(s, pfn, o, t, kFree); });
          }
        if (z->per_cpu_pageset)
          for (unsigned c = 0; c < nodes.nr_cpus(); ++c)
            for (unsigned pi = 0; pi < fw::NR_PCP_LISTS; ++pi) {
              fw::list_head* head = &z->per_cpu_pageset[c].lists[pi];
              for (fw::list_head* l = head->next; l != head; l = l->next)
                mark(s, nodes.page_to_pfn(list_entry(l, fw::page, lru)), fw::pindex_to_order(pi), 0, kPcp);
            }
      }
    k.buddy().set_observer(this);
  }
  ~ShadowCheck() { k_.buddy().set_observer(nullptr); }

  void free_add(const fw::zone* z, uint64_t pfn, unsigned order, unsigned mt) override {
    Z& s = zones_.at(z);
    mark(s, pfn, order, mt, kFree);
    added_.push_back({z, pfn, order});
  }
  void free_del(const fw::zone* z, uint64_t pfn, unsigned order, unsigned mt) override {
    Z& s = zones_.at(z);
    const uint64_t i = pfn - z->zone_start_pfn;
    if (s.state[i] != kFreeHead || s.order[i] != order || s.mt[i] != mt) {
      ADD_FAILURE() << "free list removal of pfn " << pfn << " order " << order << " type " << mt
                    << " that the shadow does not hold (state " << int(s.state[i]) << " order " << int(s.order[i])
                    << " type " << int(s.mt[i]) << ")";
      ++errors_;
      return;
    }
    unmark(s, pfn, order, kFree, mt);
    removed_.push_back({z, pfn, order});
  }
  void pcp_add(const fw::zone* z, uint64_t pfn, unsigned order) override {
    mark(zones_.at(z), pfn, order, 0, kPcp);
  }
  void pcp_del(const fw::zone* z, uint64_t pfn, unsigned order) override {
    Z& s = zones_.at(z);
    const uint64_t i = pfn - z->zone_start_pfn;
    if (s.state[i] != kPcpHead || s.order[i] != order) {
      ADD_FAILURE() << "pcp removal of pfn " << pfn << " order " << order << " not on a pcp list in the shadow";
      ++errors_;
      return;
    }
    unmark(s, pfn, order, kPcp, 0);
    removed_.push_back({z, pfn, order});
  }

  // After a step: `given` is the block handed out by the step (if any).
  void check_step(const fw::page* given, unsigned given_order) {
    fw::MmNodes& nodes = k_.nodes();
    uint64_t given_pfn = given ? nodes.page_to_pfn(given) : ~0ull;
    // Counters, for the zones the step touched.
    std::set<const fw::zone*> touched;
    for (const Ev& e : added_) touched.insert(e.z);
    for (const Ev& e : removed_) touched.insert(e.z);
    for (const fw::zone* z : touched) {
      const Z& s = zones_.at(z);
      int64_t free = 0, blocks = 0;
      for (unsigned o = 0; o < fw::NR_PAGE_ORDERS; ++o) {
        uint64_t all = 0;
        for (unsigned t = 0; t < fw::MIGRATE_TYPES; ++t) {
          const uint64_t c = s.counts[o * fw::MIGRATE_TYPES + t];
          if (c != z->free_area[o].nr_free_mt[t]) {
            ADD_FAILURE() << z->name << " order " << o << " type " << t << ": shadow " << c << ", counter "
                          << z->free_area[o].nr_free_mt[t];
            ++errors_;
          }
          all += c;
          if (t != fw::MIGRATE_ISOLATE) free += static_cast<int64_t>(c << o);
          if (t != fw::MIGRATE_ISOLATE && o >= fw::pageblock_order) blocks += static_cast<int64_t>(c << o);
        }
        if (all != z->free_area[o].nr_free) {
          ADD_FAILURE() << z->name << " nr_free of order " << o;
          ++errors_;
        }
      }
      if (free != z->vm_stat[fw::NR_FREE_PAGES]) {
        ADD_FAILURE() << z->name << " NR_FREE_PAGES " << z->vm_stat[fw::NR_FREE_PAGES] << ", lists " << free;
        ++errors_;
      }
      if (blocks != z->vm_stat[fw::NR_FREE_PAGES_BLOCKS]) {
        ADD_FAILURE() << z->name << " NR_FREE_PAGES_BLOCKS " << z->vm_stat[fw::NR_FREE_PAGES_BLOCKS] << ", lists "
                      << blocks;
        ++errors_;
      }
    }
    // Blocks added and still free: what their struct pages say, and merged.
    for (const Ev& e : added_) {
      const Z& s = zones_.at(e.z);
      const uint64_t i = e.pfn - e.z->zone_start_pfn;
      if (s.state[i] != kFreeHead || s.order[i] != e.order) continue;  // gone again within the step
      const fw::page* p = nodes.pfn_to_page(e.pfn);
      if (!fw::PageBuddy(p) || fw::buddy_order(p) != e.order) {
        ADD_FAILURE() << "free block pfn " << e.pfn << " order " << e.order << " is not a buddy head";
        ++errors_;
      }
      for (uint64_t b = e.pfn; b < e.pfn + (1ull << e.order); b += fw::pageblock_nr_pages)
        if (e.z->get_pfnblock_migratetype(b) != s.mt[i]) {
          ADD_FAILURE() << "free block pfn " << e.pfn << " on the list of type " << int(s.mt[i])
                        << " in a pageblock of type " << e.z->get_pfnblock_migratetype(b);
          ++errors_;
        }
      if (e.order < fw::MAX_PAGE_ORDER) {
        const uint64_t bp = e.pfn ^ (1ull << e.order);
        if (e.z->spans(bp)) {
          const uint64_t bi = bp - e.z->zone_start_pfn;
          if (s.state[bi] == kFreeHead && s.order[bi] == e.order) {
            const unsigned a = s.mt[i], b = s.mt[bi];
            if (e.order < fw::pageblock_order || a == b || (mergeable(a) && mergeable(b))) {
              ADD_FAILURE() << "buddies not merged: pfn " << e.pfn << " and " << bp << " order " << e.order;
              ++errors_;
            }
          }
        }
      }
    }
    // Pages taken off a list end up free, on a pcp list, or handed out.
    for (const Ev& e : removed_) {
      const Z& s = zones_.at(e.z);
      for (uint64_t pfn = e.pfn; pfn < e.pfn + (1ull << e.order); ++pfn) {
        const uint8_t st = s.state[pfn - e.z->zone_start_pfn];
        if (st != kNone) continue;
        if (pfn >= given_pfn && pfn < given_pfn + (1ull << given_order)) continue;
        ADD_FAILURE() << "pfn " << pfn << " left the lists and was not handed out";
        ++errors_;
        break;
      }
    }
    // The block handed out is on no list.
    if (given) {
      const fw::zone* z = nodes.page_zone(given);
      const Z& s = zones_.at(z);
      for (uint64_t pfn = given_pfn; pfn < given_pfn + (1ull << given_order); ++pfn)
        if (s.state[pfn - z->zone_start_pfn] != kNone) {
          ADD_FAILURE() << "handed out pfn " << pfn << " is still on a list";
          ++errors_;
          break;
        }
    }
    added_.clear();
    removed_.clear();
  }

  uint64_t errors() const { return errors_; }

 private:
  enum : uint8_t { kNone, kFreeHead, kFreeTail, kPcpHead, kPcpTail };
  enum Kind { kFree, kPcp };
  struct Z {
    const fw::zone* z;
    std::vector<uint8_t> state, order, mt;
    std::vector<uint64_t> counts;
  };
  struct Ev {
    const fw::zone* z;
    uint64_t pfn;
    unsigned order;
  };

  void mark(Z& s, uint64_t pfn, unsigned order, unsigned mt, Kind kind) {
    const uint64_t i0 = pfn - s.z->zone_start_pfn;
    for (uint64_t i = i0; i < i0 + (1ull << order); ++i)
      if (s.state[i] != kNone) {
        ADD_FAILURE() << "pfn " << s.z->zone_start_pfn + i << " added to a " << (kind == kFree ? "free" : "pcp")
                      << " list while already on one (state " << int(s.state[i]) << ")";
        ++errors_;
        return;
      }
    s.state[i0] = kind == kFree ? kFreeHead : kPcpHead;
    s.order[i0] = static_cast<uint8_t>(order);
    s.mt[i0] = static_cast<uint8_t>(mt);
    const uint8_t tail = kind == kFree ? kFreeTail : kPcpTail;
    for (uint64_t i = i0 + 1; i < i0 + (1ull << order); ++i) s.state[i] = tail;
    if (kind == kFree) ++s.counts[order * fw::MIGRATE_TYPES + mt];
  }
  void unmark(Z& s, uint64_t pfn, unsigned order, Kind kind, unsigned mt) {
    const uint64_t i0 = pfn - s.z->zone_start_pfn;
    for (uint64_t i = i0; i < i0 + (1ull << order); ++i) s.state[i] = kNone;
    if (kind == kFree) --s.counts[order * fw::MIGRATE_TYPES + mt];
  }

  fw::Kernel& k_;
  std::unordered_map<const fw::zone*, Z> zones_;
  std::vector<Ev> added_, removed_;
  uint64_t errors_ = 0;
};

// ---------------------------------------------------------------- mappings

// Every user mapping against the struct pages, from the outside: walks the
// page tables of every address space (each once), counts the entries that
// map each page (4 KiB entries per page, huge leaves per folio) and checks
// mapcounts, reference counts, every page with a mapcount being found, the
// processes' rss, the anonymous / file / THP counters, the huge zero page's
// mappings and the deposited page tables. Call it when no migration is in
// flight (isolated pages hold one more reference).
struct MappingTotals {
  uint64_t anon_pages = 0, shmem_pages = 0, thp_pmds = 0, huge_zero_pmds = 0, hugetlb_leaves = 0;
};

inline MappingTotals mapping_check(fw::Kernel& k, hal::Hal& h) {
  MappingTotals t;
  fw::PgTable& pt = k.pgtable();
  fw::MmNodes& nodes = k.nodes();
  const uint64_t mask = pt.phys_mask();
  std::map<fw::page*, int> pte_maps, pmd_maps;
  std::map<uint64_t, unsigned> swap_refs;  // swap entry -> PTEs holding it
  std::set<fw::mm_struct*> seen;
  std::vector<fw::mm_struct*> mms;
  for (int pid = 1; pid < 100000; ++pid) {
    fw::task_struct* task = k.find_task(pid);
    if (task && task->mm && seen.insert(task->mm).second) mms.push_back(task->mm);
    if (seen.size() == k.nr_tasks()) break;
  }
  for (fw::mm_struct* mm : mms) {
    uint64_t rss_anon = 0, rss_shmem = 0, rss_huge = 0, swapents = 0;
    // Recursive walk of the user half.
    std::function<void(uint64_t, unsigned, uint64_t)> walk = [&](uint64_t table, unsigned level, uint64_t base) {
      const unsigned shift = x86::level_shift(level);
      const unsigned n = level == pt.levels() ? x86::PT_ENTRIES / 2 : x86::PT_ENTRIES;
      for (unsigned i = 0; i < n; ++i) {
        uint64_t e;
        if (!pt.read_entry(h, table + 8ull * i, &e) || !e) continue;
        const uint64_t va = base + (static_cast<uint64_t>(i) << shift);
        if (level != x86::LEVEL_PT && fw::is_swap_pte(e) && fw::is_hwpoison_entry(fw::pte_to_swp_entry(e))) {
          // A huge leaf memory_failure() unmapped: it names the folio's head,
          // whose error the folio still carries or its bad page now does.
          const fw::page* hp = nodes.pfn_to_page(fw::swp_offset(fw::pte_to_swp_entry(e)));
          bool bad = false;
          for (uint64_t j = 0; hp && j < (1ull << (shift - 12)) && !bad; ++j) bad = fw::PageHWPoison(hp + j);
          EXPECT_TRUE(bad) << "huge hwpoison entry of a healthy range at va " << std::hex << va;
          continue;
        }
        const bool leaf = level == x86::LEVEL_PT || (e & x86::PTE_PS);
        if (!leaf) {
          if (!fw::pte_present(e)) {
            ADD_FAILURE() << "non-present non-leaf entry " << std::hex << e << " at va " << va;
            continue;
          }
          walk(e & mask, level - 1, va);
          continue;
        }
        if (fw::is_swap_pte(e) && level == x86::LEVEL_PT) {
          // A hwpoison entry names a retired page, not a slot: no swap count,
          // no rss, and the page it names must be poisoned.
          if (fw::is_hwpoison_entry(fw::pte_to_swp_entry(e))) {
            const fw::page* hp = nodes.pfn_to_page(fw::swp_offset(fw::pte_to_swp_entry(e)));
            EXPECT_TRUE(hp && fw::PageHWPoison(hp)) << "hwpoison entry of a healthy page at va " << std::hex << va;
            continue;
          }
          ++swapents;
          ++swap_refs[e];
          continue;
        }
        fw::page* p = nodes.pfn_to_page((e & mask) >> 12);
        if (!p) {
          ADD_FAILURE() << "leaf outside the memory map at va " << std::hex << va;
          continue;
        }
        if (fw::is_migration_entry(e)) continue;  // holds no mapping (the migration does)
        if (!fw::pte_maps_page(e)) {
          ADD_FAILURE() << "unknown non-present entry " << std::hex << e << " at va " << va;
          continue;
        }
        if (level == x86::LEVEL_PT) {
          if (nodes.page_to_pfn(p) == k.memory().zero_pfn()) continue;
          ++pte_maps[p];
          if (fw::PageAnon(p)) ++rss_anon, ++t.anon_pages;
          else ++rss_shmem, ++t.shmem_pages;
          continue;
        }
        if (k.huge_memory().is_huge_zero_pfn(nodes.page_to_pfn(p))) {
          ++t.huge_zero_pmds;
          continue;
        }
        EXPECT_TRUE(fw::PageHead(p)) << "huge leaf of a page that is not a folio head, va " << std::hex << va;
        ++pmd_maps[p];
        if (fw::PageHuge(p)) {
          rss_huge += fw::compound_nr(p);
          ++t.hugetlb_leaves;
        } else {
          EXPECT_TRUE(fw::PageTransHuge(p)) << std::hex << va;
          EXPECT_EQ(level, x86::LEVEL_PD) << "a THP mapped by a level other than the PD, va " << std::hex << va;
          rss_anon += fw::compound_nr(p);
          ++t.thp_pmds;
        }
      }
    };
    walk(mm->pgd, pt.levels(), 0);
    EXPECT_EQ(mm->rss_anon, rss_anon) << "rss_anon of mm " << mm->id;
    EXPECT_EQ(mm->rss_shmem, rss_shmem) << "rss_shmem of mm " << mm->id;
    EXPECT_EQ(mm->rss_huge, rss_huge) << "rss_huge of mm " << mm->id;
    EXPECT_EQ(mm->swapents, swapents) << "swap entries of mm " << mm->id;
  }
  // Each slot counts exactly the PTEs holding its entry.
  for (auto& [e, n] : swap_refs)
    EXPECT_EQ(k.swapfile().swap_count(fw::pte_to_swp_entry(e)), n) << "swap entry " << std::hex << e;
  // Mapcounts and references.
  int64_t anon_mapped = 0, file_mapped = 0, thps = 0;
  for (auto& [p, n] : pte_maps) {
    EXPECT_EQ(fw::page_mapcount(p), n) << "pfn " << nodes.page_to_pfn(p) << " mapped by " << n << " PTEs";
    if (!fw::PageCompound(p)) {
      const int cache = fw::page_mapping_obj(p) || fw::PageSwapCache(p) ? 1 : 0;
      EXPECT_EQ(p->_refcount, n + cache) << "pfn " << nodes.page_to_pfn(p) << ": references besides the mappings";
      EXPECT_TRUE(fw::PageLRU(p)) << "mapped page off the LRU, pfn " << nodes.page_to_pfn(p);
    }
    (fw::PageAnon(p) ? anon_mapped : file_mapped) += 1;
  }
  std::map<fw::page*, int> folio_ptes;  // PTE mappings of subpages of folios
  for (auto& [p, n] : pte_maps)
    if (fw::PageCompound(p)) folio_ptes[fw::compound_head(p)] += n;
  for (auto& [head, n] : pmd_maps) {
    EXPECT_EQ(fw::folio_entire_mapcount(head), n) << "folio pfn " << nodes.page_to_pfn(head);
    const int cache = fw::page_mapping_obj(head) ? 1 : 0;
    EXPECT_EQ(head->_refcount, n + folio_ptes[head] + cache) << "folio pfn " << nodes.page_to_pfn(head);
    if (fw::PageTransHuge(head)) {
      anon_mapped += static_cast<int64_t>(fw::compound_nr(head));
      ++thps;
      EXPECT_TRUE(fw::PageLRU(head)) << "THP off the LRU";
    }
  }
  // Every page the struct pages call mapped was found.
  for (unsigned nd = 0; nd < nodes.nr_nodes(); ++nd)
    for (unsigned zi = 0; zi < fw::MAX_NR_ZONES; ++zi) {
      fw::zone& z = nodes.node(static_cast<int>(nd)).node_zones[zi];
      for (uint64_t pfn = z.zone_start_pfn; pfn < z.zone_end_pfn(); ++pfn) {
        if (z.pfnblock_deferred(pfn) || z.pfnblock_reserved_deferred(pfn)) {  // free or reserved, not written yet
          pfn = (pfn | (fw::MAX_ORDER_NR_PAGES - 1));
          continue;
        }
        fw::page* p = nodes.pfn_to_page(pfn);
        if (p->_mapcount >= 0 && !pte_maps.count(p))
          ADD_FAILURE() << "pfn " << pfn << " has mapcount " << fw::page_mapcount(p) << " but no PTE maps it";
        if (fw::PageHead(p) && p[1].entire_mapcount >= 0 && !pmd_maps.count(p))
          ADD_FAILURE() << "folio pfn " << pfn << " has entire mapcount " << fw::folio_entire_mapcount(p)
                        << " but no huge leaf maps it";
      }
    }
  EXPECT_EQ(k.vmstat().node_total(fw::NR_ANON_MAPPED), anon_mapped);
  EXPECT_EQ(k.vmstat().node_total(fw::NR_FILE_MAPPED), file_mapped);
  EXPECT_EQ(k.vmstat().node_total(fw::NR_ANON_THPS), thps);
  EXPECT_EQ(k.huge_memory().stats().huge_zero_mapped, t.huge_zero_pmds);
  EXPECT_EQ(k.huge_memory().stats().deposits, t.huge_zero_pmds + t.thp_pmds) << "one deposited table per huge PMD";
  return t;
}

// The hugetlb pools' counters against their free lists.
inline void hugetlb_check(fw::Kernel& k) {
  for (unsigned i = 0; i < fw::HUGE_MAX_HSTATE; ++i) {
    const fw::hstate& hs = k.hugetlb().hs(i);
    uint64_t nr = 0, free = 0, surplus = 0;
    for (unsigned n = 0; n < k.nodes().nr_nodes(); ++n) {
      uint64_t listed = 0;
      const fw::list_head* head = &hs.hugepage_freelists[n];
      for (const fw::list_head* l = head->next; l != head; l = l->next) {
        const fw::page* p = list_entry(const_cast<fw::list_head*>(l), fw::page, lru);
        EXPECT_TRUE(fw::PageHuge(p));
        EXPECT_EQ(p->_refcount, 0);
        EXPECT_EQ(fw::compound_order(p), hs.order);
        EXPECT_EQ(fw::page_to_nid(p), static_cast<int>(n));
        ++listed;
      }
      EXPECT_EQ(listed, hs.free_huge_pages_node[n]) << hs.name << " node " << n;
      nr += hs.nr_huge_pages_node[n];
      free += hs.free_huge_pages_node[n];
      surplus += hs.surplus_huge_pages_node[n];
    }
    EXPECT_EQ(nr, hs.nr_huge_pages) << hs.name;
    EXPECT_EQ(free, hs.free_huge_pages) << hs.name;
    EXPECT_EQ(surplus, hs.surplus_huge_pages) << hs.name;
    EXPECT_GE(hs.free_huge_pages, hs.resv_huge_pages) << hs.name << ": more reserved than free";
    EXPECT_LE(hs.surplus_huge_pages, hs.nr_huge_pages) << hs.name;
  }
}

}  // namespace fwtest
