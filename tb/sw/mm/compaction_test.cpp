// Migration, the reverse map, page isolation and compaction: pages move
// with their contents, every PTE that maps them (in every address space)
// follows, the TLB entries of the old translation are invalidated through
// the HAL, and compaction (direct, kcompactd, proactive, compact_memory)
// turns scattered free pages into high-order blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "sw/lib/errno.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;
using fw::page;

namespace {

// Writes a value per page of [a, a+len) through the translations.
void fill(Rig& r, unsigned c, uint64_t a, uint64_t len, uint64_t salt) {
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const uint64_t pa = r.access(c, a + off, x86::Access::write);
    ASSERT_NE(pa, ~0ull);
    r.write64(pa, (a + off) ^ salt);
    r.write64((pa & ~(PAGE_SIZE - 1)) + PAGE_SIZE - 8, ~((a + off) ^ salt));
  }
}
// Reads it back through the translations (no faults expected).
void verify(Rig& r, unsigned c, uint64_t a, uint64_t len, uint64_t salt) {
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const Walk w = r.walk(c, a + off, x86::Access::read, true);
    ASSERT_EQ(w.status, Walk::ok) << std::hex << a + off;
    ASSERT_EQ(r.read64(w.pa), (a + off) ^ salt) << std::hex << a + off;
    ASSERT_EQ(r.read64((w.pa & ~(PAGE_SIZE - 1)) + PAGE_SIZE - 8), ~((a + off) ^ salt));
  }
}
uint64_t pa_of(Rig& r, int pid, uint64_t va) {
  fw::PteLookup l;
  if (!r.k->translate(r.cpu(), pid, va, &l)) return ~0ull;
  return l.entry & x86::phys_mask(46);
}

int migrate_one(Rig& r, page* p) {
  if (!r.k->ctx().lru->isolate(r.cpu(), p)) return -EBUSY;
  fw::list_head l;
  fw::INIT_LIST_HEAD(&l);
  fw::list_add(&p->lru, &l);
  const int rc = r.k->migrate().migrate_pages(r.cpu(), &l, fw::Migrate::alloc_migration_target,
                                              fw::Migrate::free_migration_target, &r.k->ctx(), fw::MIGRATE_SYNC, nullptr);
  r.k->migrate().putback_movable_pages(r.cpu(), &l);
  return rc;
}

TEST(fw_migrate, contents_move_and_the_pte_and_tlb_follow) {
  Rig r(spec_mb(128));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 64 * PAGE_SIZE));
  fill(r, 0, a, 64 * PAGE_SIZE, 0x1234);
  const uint64_t va = a + 7 * PAGE_SIZE;
  const uint64_t old_pa = pa_of(r, pid, va);
  page* p = r.k->nodes().phys_to_page(old_pa);
  EXPECT_TRUE(fw::PageLRU(p));
  EXPECT_TRUE(fw::PageAnon(p));
  r.m->clear_tlb_ops();
  ASSERT_EQ(migrate_one(r, p), 0);
  const uint64_t new_pa = pa_of(r, pid, va);
  EXPECT_NE(new_pa, old_pa);
  verify(r, 0, a, 64 * PAGE_SIZE, 0x1234);
  // The old translation was invalidated on this CPU (the mm is loaded here).
  bool flushed = false;
  for (const auto& op : r.m->tlb_ops()) flushed |= op.kind == hosthal::TlbOp::Kind::invlpg && op.va == va;
  EXPECT_TRUE(flushed);
  // The old page is free; the new one is mapped once, on the LRU.
  EXPECT_EQ(p->_refcount, 0);
  page* np = r.k->nodes().phys_to_page(new_pa);
  EXPECT_EQ(np->_refcount, 1);
  EXPECT_EQ(fw::page_mapcount(np), 1);
  EXPECT_TRUE(fw::PageLRU(np));
  EXPECT_EQ(r.k->vmstat().event[fw::PGMIGRATE_SUCCESS], 1u);
  EXPECT_EQ(r.k->vmstat().node_total(fw::NR_ANON_MAPPED), 64);
  EXPECT_EQ(r.k->vmstat().node_total(fw::NR_ISOLATED_ANON), 0);
  // Writes keep working at the new place.
  const uint64_t wpa = r.access(0, va, x86::Access::write);
  EXPECT_EQ(wpa & ~(PAGE_SIZE - 1), new_pa);
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  EXPECT_EQ(r.k->rmap().stats().anon_vmas, 0u);
}

// What fork does for one range (by hand): the child gets a VMA over the
// same addresses that joins the parent's anon_vma, and read-only PTEs to
// the same pages.
void share_anon_range(Rig& r, fw::mm_struct* parent, fw::mm_struct* child, uint64_t a, uint64_t len) {
  fw::Kernel& k = *r.k;
  hosthal::HostHal& h = r.cpu();
  ASSERT_EQ(k.mmap().do_mmap(h, child, a, len, fw::PROT_READ | fw::PROT_WRITE,
                             fw::MAP_PRIVATE | fw::MAP_ANONYMOUS | fw::MAP_FIXED, -1, 0),
            static_cast<int64_t>(a));
  fw::vm_area_struct* pv = k.mmap().find_vma(parent, a);
  fw::vm_area_struct* cv = k.mmap().find_vma(child, a);
  ASSERT_EQ(k.rmap().anon_vma_fork(h, cv, pv), 0);
  for (uint64_t va = a; va < a + len; va += PAGE_SIZE) {
    fw::PteLookup l;
    ASSERT_TRUE(k.pgtable().lookup(h, parent->pgd, va, &l));
    const uint64_t pte = l.entry & ~x86::PTE_RW;
    k.pgtable().write_entry(h, l.entry_pa, pte);
    const uint64_t pa = pte & x86::phys_mask(46);
    ASSERT_EQ(k.pgtable().map(h, child->pgd, va, pa, x86::LEVEL_PT, pte & ~x86::phys_mask(46), fw::_PAGE_TABLE, false), 0);
    page* p = k.nodes().phys_to_page(pa);
    k.rmap().page_add_anon_rmap(p);
    fw::get_page(p);
    ++child->rss_anon;
  }
  k.tlb().flush_range(h, parent, a, a + len, false);
}

TEST(fw_migrate, every_mapping_of_a_shared_page_is_updated) {
  // Two address spaces map the same anonymous page, as fork
  // leaves them: the child's VMA joins the parent's anon_vma.
  Rig r(spec_mb(128));
  const int a_pid = r.start_process(0, "parent");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE));
  fill(r, 0, a, 4 * PAGE_SIZE, 0xabc);
  const int b_pid = r.k->spawn(r.cpu(), "child", 0, nullptr);
  fw::mm_struct* amm = r.k->mm_of(a_pid);
  fw::mm_struct* bmm = r.k->mm_of(b_pid);
  // The child's VMA: same range, forked reverse map, PTEs copied read-only.
  share_anon_range(r, amm, bmm, a, 4 * PAGE_SIZE);
  if (HasFatalFailure()) return;
  const uint64_t va = a + 2 * PAGE_SIZE;
  const uint64_t old_pa = pa_of(r, a_pid, va);
  EXPECT_EQ(pa_of(r, b_pid, va), old_pa);
  page* p = r.k->nodes().phys_to_page(old_pa);
  EXPECT_EQ(fw::page_mapcount(p), 2);
  EXPECT_EQ(p->_refcount, 2);
  ASSERT_EQ(migrate_one(r, p), 0);
  const uint64_t new_pa = pa_of(r, a_pid, va);
  EXPECT_NE(new_pa, old_pa);
  EXPECT_EQ(pa_of(r, b_pid, va), new_pa) << "the child's mapping moved too";
  page* np = r.k->nodes().phys_to_page(new_pa);
  EXPECT_EQ(fw::page_mapcount(np), 2);
  EXPECT_EQ(np->_refcount, 2);
  EXPECT_EQ(r.read64(new_pa), va ^ 0xabc);
  // Both go away cleanly.
  EXPECT_EQ(r.sys(0, hal::Sys::exit, 0), 0);  // the parent (current on CPU 0)
  EXPECT_EQ(np->_refcount, 1);
  EXPECT_EQ(r.k->schedule(r.cpu()).pid, b_pid);
  EXPECT_EQ(r.sys(0, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  EXPECT_EQ(r.k->rmap().stats().anon_vmas, 0u);
  EXPECT_EQ(r.k->rmap().stats().chains, 0u);
}

TEST(fw_migrate, a_page_in_use_on_another_cpu_moves_after_a_shootdown) {
  Rig r(spec_mb(128, 2));
  r.m->enable_tlb_model(true);
  const int pid = r.start_process(1, "busy");
  const uint64_t a = static_cast<uint64_t>(r.mmap(1, 0, PAGE_SIZE));
  fill(r, 1, a, PAGE_SIZE, 7);
  ASSERT_NE(r.cpu(1).tlb_lookup(a), nullptr) << "CPU 1 caches the translation";
  page* p = r.k->nodes().phys_to_page(pa_of(r, pid, a));
  // CPU 0 migrates it while CPU 1 runs the process: CPU 1 takes the
  // shootdown IPI while CPU 0 waits, and drops the old translation.
  EXPECT_EQ(migrate_one(r, p), 0);
  EXPECT_NE(pa_of(r, pid, a), r.k->nodes().page_to_phys(p));
  EXPECT_EQ(r.cpu(1).tlb_lookup(a), nullptr) << "no stale translation left on CPU 1";
  EXPECT_GE(r.k->tlb().stats().ipis_received, 1u);
  EXPECT_EQ(r.k->tlb().stats().timeouts, 0u);
  verify(r, 1, a, PAGE_SIZE, 7);
  EXPECT_EQ(r.read64(r.access(1, a, x86::Access::read)), a ^ 7);
  // An idle CPU keeps the address space lazily: no IPI, it flushes when it
  // next uses the address space.
  r.k->tlb().enter_lazy(r.cpu(1));
  page* q = r.k->nodes().phys_to_page(pa_of(r, pid, a));
  const uint64_t ipis = r.k->tlb().stats().shootdown_ipis;
  EXPECT_EQ(migrate_one(r, q), 0);
  EXPECT_EQ(r.k->tlb().stats().shootdown_ipis, ipis);
  EXPECT_GE(r.k->tlb().stats().lazy_skips, 1u);
  const uint64_t stale = r.k->tlb().stats().stale_reload;
  EXPECT_EQ(r.k->schedule(r.cpu(1)).pid, pid);
  EXPECT_EQ(r.k->tlb().stats().stale_reload, stale + 1);
  verify(r, 1, a, PAGE_SIZE, 7);
}

// A fault on a migration entry waits in the handler until the migrating
// CPU has put an entry back (Linux migration_entry_wait), however long the
// move looks from the faulting CPU (the migrating one may run far ahead in
// its time quantum): here the move ends after five spins of the faulting CPU.
TEST(fw_migrate, a_fault_on_a_migration_entry_waits_until_the_move_ends) {
  Rig r(spec_mb(64));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE));
  fill(r, 0, a, PAGE_SIZE, 1);
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), pid, a, &l));
  const uint64_t pte = l.entry;
  r.write64(l.entry_pa, (pte & ~x86::PTE_P) | fw::SWP_MIGRATION_MARK);
  EXPECT_EQ(r.walk(0, a).status, Walk::page_fault);
  int relaxes = 0;
  r.m->set_relax_hook([&] {
    if (++relaxes == 5) r.write64(l.entry_pa, pte);  // the migrating CPU is done
  });
  EXPECT_EQ(r.k->page_fault(r.cpu(), a, x86::PF_U), hal::TrapOutcome::retry);
  r.m->set_relax_hook(nullptr);
  EXPECT_EQ(relaxes, 5) << "the handler returns once the entry is gone, not before";
  EXPECT_EQ(r.k->vmstat().event[fw::PGFAULT_MIGRATION_WAIT], 1u);  // one fault, not one per spin
  verify(r, 0, a, PAGE_SIZE, 1);
}

TEST(fw_isolation, unmovable_pages_refuse_isolation_and_free_pages_leave_the_count) {
  Rig r(spec_mb(128));
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  // A pageblock holding a kernel page cannot be isolated.
  page* k = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  const uint64_t kb = fw::pageblock_start_pfn(r.k->nodes().page_to_pfn(k));
  EXPECT_EQ(r.k->isolation().start_isolate_page_range(r.cpu(), kb, kb + fw::pageblock_nr_pages, fw::MIGRATE_MOVABLE),
            -EBUSY);
  EXPECT_EQ(z->get_pfnblock_migratetype(kb), fw::MIGRATE_UNMOVABLE);
  // A free pageblock can: its pages leave NR_FREE_PAGES.
  uint64_t fb = 0;
  for (uint64_t pfn = fw::pageblock_start_pfn(z->zone_end_pfn() - 1); pfn > z->zone_start_pfn && !fb;
       pfn -= fw::pageblock_nr_pages) {
    uint64_t head = 0;
    fw::LockGuard g(z->lock, r.cpu());
    page* b = r.k->buddy().find_free_block(z, pfn, &head);
    if (b && fw::buddy_order(b) >= fw::pageblock_order && z->get_pfnblock_migratetype(pfn) == fw::MIGRATE_MOVABLE) fb = pfn;
  }
  ASSERT_NE(fb, 0u);
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  const int64_t free0 = z->vm_stat[fw::NR_FREE_PAGES];
  ASSERT_EQ(r.k->isolation().start_isolate_page_range(r.cpu(), fb, fb + fw::pageblock_nr_pages, fw::MIGRATE_MOVABLE), 0);
  EXPECT_EQ(z->get_pfnblock_migratetype(fb), fw::MIGRATE_ISOLATE);
  EXPECT_EQ(z->vm_stat[fw::NR_FREE_PAGES], free0 - static_cast<int64_t>(fw::pageblock_nr_pages));
  EXPECT_EQ(r.k->isolation().test_pages_isolated(r.cpu(), fb, fb + fw::pageblock_nr_pages), 0);
  full_check(*r.k, {{r.k->nodes().page_to_pfn(k), 0}});
  // Nobody gets those pages meanwhile.
  std::vector<page*> got;
  while (page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_NOWARN | fw::__GFP_RETRY_MAYFAIL, 0)) {
    ASSERT_FALSE(r.k->nodes().page_to_pfn(p) >= fb && r.k->nodes().page_to_pfn(p) < fb + fw::pageblock_nr_pages);
    got.push_back(p);
  }
  for (page* p : got) r.k->page_alloc().free_pages(r.cpu(), p, 0);
  r.k->isolation().undo_isolate_page_range(r.cpu(), fb, fb + fw::pageblock_nr_pages, fw::MIGRATE_MOVABLE);
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  EXPECT_EQ(z->get_pfnblock_migratetype(fb), fw::MIGRATE_MOVABLE);
  EXPECT_EQ(z->vm_stat[fw::NR_FREE_PAGES], free0);
  r.k->page_alloc().free_pages(r.cpu(), k, 0);
  r.k->quiesce(r.cpu());
  full_check(*r.k, {});
}

// A process fills memory in 1 MiB chunks and frees every other one:
// plenty of free memory, little of it in pageblocks.
struct Fragmented {
  int pid;
  std::vector<uint64_t> kept;  // chunk addresses still mapped
  uint64_t chunk;
};
Fragmented fragment(Rig& r, double fill) {
  Fragmented f;
  f.pid = r.start_process(0, "frag");
  f.chunk = MiB;
  const uint64_t target = static_cast<uint64_t>(static_cast<double>(r.k->nodes().total_free_pages()) * fill) * PAGE_SIZE;
  std::vector<uint64_t> chunks;
  for (uint64_t done = 0; done < target; done += f.chunk) {
    const int64_t a = r.mmap(0, 0, f.chunk);
    EXPECT_GT(a, 0);
    for (uint64_t off = 0; off < f.chunk; off += PAGE_SIZE) {
      const uint64_t pa = r.access(0, static_cast<uint64_t>(a) + off);
      if (pa == ~0ull) return f;
      r.write64(pa, static_cast<uint64_t>(a) + off);
    }
    chunks.push_back(static_cast<uint64_t>(a));
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (i % 2) {
      EXPECT_EQ(r.munmap(0, chunks[i], f.chunk), 0);
    }
    else f.kept.push_back(chunks[i]);
  }
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  return f;
}

void verify_fragmented(Rig& r, const Fragmented& f) {
  for (uint64_t a : f.kept)
    for (uint64_t off = 0; off < f.chunk; off += PAGE_SIZE) {
      const Walk w = r.walk(0, a + off, x86::Access::read, true);
      ASSERT_EQ(w.status, Walk::ok);
      ASSERT_EQ(r.read64(w.pa), a + off);
    }
}

uint64_t free_blocks_at_least(Rig& r, unsigned order) {
  uint64_t n = 0;
  for (unsigned o = order; o < fw::NR_PAGE_ORDERS; ++o) n += r.k->page_alloc().nr_free_blocks(o) << (o - order);
  return n;
}

TEST(fw_compaction, compact_memory_builds_high_order_blocks_and_keeps_the_data) {
  Rig r(spec_mb(256));
  Fragmented f = fragment(r, 0.8);
  const uint64_t before = free_blocks_at_least(r, 9);
  const uint64_t free = r.k->nodes().total_free_pages();
  r.k->compaction().compact_nodes(r.cpu());
  const uint64_t after = free_blocks_at_least(r, 9);
  EXPECT_GT(after, before + 10);
  EXPECT_GT(after * 512, free / 2) << "most free memory in order-9 blocks after a full compaction";
  EXPECT_GT(r.k->vmstat().event[fw::PGMIGRATE_SUCCESS], 1000u);
  EXPECT_GT(r.k->vmstat().event[fw::COMPACTMIGRATE_SCANNED], 0u);
  EXPECT_GT(r.k->vmstat().event[fw::COMPACTFREE_SCANNED], 0u);
  // Each page moved was isolated once and so was its free target.
  EXPECT_GE(r.k->vmstat().event[fw::COMPACTISOLATED], 2 * r.k->vmstat().event[fw::PGMIGRATE_SUCCESS]);
  verify_fragmented(r, f);
  full_check(*r.k, {});
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_compaction, direct_compaction_serves_high_order_requests_by_order) {
  Rig r(spec_mb(256));
  Fragmented f = fragment(r, 0.8);
  const uint64_t stalls = r.k->vmstat().event[fw::COMPACTSTALL];
  std::vector<page*> got;
  // Drain what is free at order 9 already, then compaction must make more.
  while (page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_NOWARN | fw::__GFP_NORETRY |
                                                                  fw::__GFP_RETRY_MAYFAIL, 9))
    got.push_back(p);
  EXPECT_GT(r.k->vmstat().event[fw::COMPACTSTALL], stalls);
  EXPECT_GT(r.k->vmstat().event[fw::COMPACTSUCCESS], 0u);
  EXPECT_GT(got.size(), 20u);
  verify_fragmented(r, f);
  for (page* p : got) r.k->page_alloc().free_pages(r.cpu(), p, 9);
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

// The pages at odd pfns free: plenty of free memory, all of it single
// pages that a strided free scanner (async: every 32nd pfn) never meets.
// Async direct compaction (a THP fault's) takes its targets from the free
// lists instead (Linux's fast_isolate_freepages).
TEST(fw_compaction, async_compaction_takes_targets_from_the_free_lists) {
  Rig r(spec_mb(256));
  const int pid = r.start_process(0, "filler");
  const uint64_t len = (r.k->nr_free_pages() * PAGE_SIZE * 9 / 10) & ~(2 * MiB - 1);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, len));
  ASSERT_EQ(r.madvise(0, a, len, uapi::kMadvNohugepage), 0);
  fill(r, 0, a, len, 0x5a);
  std::vector<uint64_t> kept;
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    if ((pa_of(r, pid, a + off) >> 12) & 1)
      ASSERT_EQ(r.madvise(0, a + off, PAGE_SIZE, uapi::kMadvDontneed), 0);
    else
      kept.push_back(a + off);
  }
  ASSERT_GT(kept.size() * 4, len / PAGE_SIZE) << "the fill should alternate parities";
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  // The free blocks bigger than a page (the rest of memory), taken without
  // compaction.
  std::vector<std::pair<page*, unsigned>> held;
  for (unsigned o = fw::MAX_PAGE_ORDER; o > 0; --o)
    while (page* q = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_TRANSHUGE_LIGHT & ~fw::__GFP_COMP, o))
      held.push_back({q, o});
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  const uint64_t success = r.k->vmstat().event[fw::COMPACTSUCCESS];
  page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_TRANSHUGE, 9);
  ASSERT_NE(p, nullptr) << "async compaction found no migration targets";
  EXPECT_EQ(r.k->vmstat().event[fw::COMPACTSUCCESS], success + 1);
  for (uint64_t v : kept) verify(r, 0, v, PAGE_SIZE, 0x5a);
  r.k->page_alloc().free_pages(r.cpu(), p, 9);
  for (auto [q, o] : held) r.k->page_alloc().free_pages(r.cpu(), q, o);
  full_check(*r.k, {});
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_compaction, kcompactd_and_proactive_compaction_run_from_timer_ticks) {
  fw::Params p = quiet_params();
  p.compaction_proactiveness = 100;  // wmark low 5, high 15: any fragmentation counts
  Rig r(spec_mb(256), p);
  Fragmented f = fragment(r, 0.8);
  fw::pglist_data& pg = r.k->nodes().node(0);
  // Take the order-9 blocks there are without compacting (no direct path).
  std::vector<page*> big;
  while (page* b = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_NOWAIT | fw::__GFP_NOWARN, 9)) big.push_back(b);
  const unsigned score = fw::Compaction::fragmentation_score_node(pg);
  EXPECT_GT(score, r.k->compaction().fragmentation_score_wmark(false));
  // Woken for an order: kcompactd runs at the next tick (so does the first
  // proactive check: nothing ran before).
  r.k->compaction().wakeup_kcompactd(r.cpu(), pg, 9, fw::ZONE_NORMAL);
  EXPECT_TRUE(pg.kcompactd_wait);
  const uint64_t runs = r.k->compaction().stats().proactive_runs;
  r.k->timer_tick(r.cpu());
  EXPECT_FALSE(pg.kcompactd_wait);
  EXPECT_EQ(r.k->vmstat().event[fw::KCOMPACTD_WAKE], 1u);
  EXPECT_GT(r.k->vmstat().event[fw::KCOMPACTD_MIGRATE_SCANNED], 0u);
  EXPECT_EQ(r.k->compaction().stats().proactive_runs, runs + 1);
  EXPECT_LT(fw::Compaction::fragmentation_score_node(pg), score);
  EXPECT_GT(free_blocks_at_least(r, 9), 0u);
  // The next proactive check waits 500 ms of simulated time.
  r.k->timer_tick(r.cpu());
  EXPECT_EQ(r.k->compaction().stats().proactive_runs, runs + 1);
  for (page* b : big) r.k->page_alloc().free_pages(r.cpu(), b, 9);
  // Fragment again, let time pass: the check runs again.
  std::vector<page*> pages;
  while (page* q = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_NOWARN | fw::__GFP_NORETRY, 0))
    pages.push_back(q);
  for (size_t i = 0; i < pages.size(); i += 2) r.k->page_alloc().free_pages(r.cpu(), pages[i], 0);
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  r.cpu().advance_ns(600000000);
  r.k->timer_tick(r.cpu());
  EXPECT_EQ(r.k->compaction().stats().proactive_runs, runs + 2);
  for (size_t i = 1; i < pages.size(); i += 2) r.k->page_alloc().free_pages(r.cpu(), pages[i], 0);
  verify_fragmented(r, f);
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_compaction, costly_orders_need_the_low_min_gap_above_the_watermark) {
  // Linux 6.18 __compaction_suitable: the order-0 check (ALLOC_CMA) of the
  // caller's watermark + compact_gap(order) (2 << order), plus low - min
  // for orders above PAGE_ALLOC_COSTLY_ORDER; free pages must exceed it.
  Rig r(spec_mb(256));
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  const uint64_t min = fw::Watermark::min_wmark_pages(z), low = fw::Watermark::low_wmark_pages(z);
  ASSERT_GT(low, min);
  const uint64_t need9 = min + (2u << 9) + (low - min);
  const uint64_t need3 = min + (2u << 3);
  // Take order-0 pages straight off the lists (no watermark) until the
  // zone's free count sits exactly at need9; large blocks stay free, so
  // the fragmentation index says -1000 and only the watermark decides.
  HeldPages held;
  auto take_until = [&](uint64_t free) { ASSERT_TRUE(take_free_pages_until(r, z, free, held)); };
  take_until(need9 + 1);
  EXPECT_EQ(fw::Compaction::fragmentation_index(z, 9), -1000);
  EXPECT_TRUE(r.k->compaction().compaction_suitable(z, 9, min, z->idx));
  take_until(need9);
  EXPECT_FALSE(r.k->compaction().compaction_suitable(z, 9, min, z->idx)) << "free " << z->free_pages();
  // The old rule, max(min + compact_gap, low), would have let this through.
  EXPECT_GT(need9, std::max(min + (2u << 9), low));
  // Order 3 is not costly: no gap on top.
  take_until(need3 + 1);
  EXPECT_TRUE(r.k->compaction().compaction_suitable(z, 3, min, z->idx));
  take_until(need3);
  EXPECT_FALSE(r.k->compaction().compaction_suitable(z, 3, min, z->idx));
  give_back(r, z, held);
  full_check(*r.k, {});
}


// Takes every free page of z and frees back those at even pfns: half the
// zone free, all in single pages between pages that cannot move (held,
// off the LRU), so no compaction can make an order-9 block there.
HeldPages leave_unfragmentable(Rig& r, fw::zone* z) {
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  HeldPages held, kept;
  fw::LockGuard g(z->lock, r.cpu());
  for (unsigned mt = 0; mt < fw::MIGRATE_TYPES; ++mt)
    while (page* p = r.k->buddy().rmqueue_smallest(z, 0, mt)) held.emplace_back(p, r.k->nodes().page_to_pfn(p));
  for (auto& [p, pfn] : held) {
    if (pfn % 2) kept.emplace_back(p, pfn);
    else r.k->buddy().free_one_page(z, p, pfn, 0, z->get_pfnblock_migratetype(pfn));
  }
  return kept;
}



// Linux 6.18 defer_compaction / compaction_deferred: a failed sync
// compaction of a costly order defers the next 2^shift - 1 attempts at
// that order or above, the shift growing with each failure.
TEST(fw_compaction, failed_sync_compaction_defers_later_attempts) {
  Rig r(spec_mb(128));
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  const auto held = leave_unfragmentable(r, z);
  ASSERT_GT(fw::Compaction::fragmentation_index(z, 9), 500) << "not skipped as a lack of memory";
  fw::Compaction& c = r.k->compaction();
  fw::zone* const zl[] = {z, nullptr};
  const fw::alloc_context ac{zl, z, 0, z->idx, fw::MIGRATE_UNMOVABLE, 0, 0};
  auto attempt = [&] {
    return c.try_to_compact_pages(r.cpu(), fw::GFP_KERNEL, 9, fw::ALLOC_WMARK_MIN, ac, fw::COMPACT_PRIO_SYNC_LIGHT);
  };
  const uint64_t deferred0 = c.stats().deferred;
  const uint64_t fail0 = r.k->vmstat().event[fw::COMPACTFAIL], success0 = r.k->vmstat().event[fw::COMPACTSUCCESS];
  // The allocator's path: compaction ran, the block is still missing.
  fw::compact_result result = fw::COMPACT_SKIPPED;
  EXPECT_EQ(c.direct_compact(r.cpu(), fw::GFP_KERNEL, 9, fw::ALLOC_WMARK_MIN, ac, fw::COMPACT_PRIO_SYNC_LIGHT, &result),
            nullptr);
  EXPECT_EQ(result, fw::COMPACT_COMPLETE);
  EXPECT_EQ(r.k->vmstat().event[fw::COMPACTFAIL] - fail0, 1u);
  EXPECT_EQ(r.k->vmstat().event[fw::COMPACTSUCCESS] - success0, 0u);
  EXPECT_EQ(z->compact_defer_shift, 1u);
  EXPECT_EQ(z->compact_order_failed, 9);
  // Shift 1: one attempt deferred, the next runs (and fails again).
  EXPECT_EQ(attempt(), fw::COMPACT_DEFERRED);
  EXPECT_EQ(attempt(), fw::COMPACT_COMPLETE);
  EXPECT_EQ(z->compact_defer_shift, 2u);
  // Shift 2: three deferred, then one runs.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(attempt(), fw::COMPACT_DEFERRED) << i;
  EXPECT_EQ(attempt(), fw::COMPACT_COMPLETE);
  EXPECT_EQ(c.stats().deferred - deferred0, 4u);
  // Lower orders are not deferred.
  EXPECT_FALSE(c.compaction_deferred(z, 8));
  give_back(r, z, held);
  full_check(*r.k, {});
}

// vm.extfrag_threshold: at or below it the failure is a lack of memory,
// not fragmentation, and costly-order compaction is skipped (not deferred).
TEST(fw_compaction, extfrag_threshold_at_or_above_the_index_skips_compaction) {
  fw::Params prm = quiet_params();
  prm.extfrag_threshold = 1000;
  Rig r(spec_mb(128), prm);
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  const auto held = leave_unfragmentable(r, z);
  ASSERT_GT(fw::Compaction::fragmentation_index(z, 9), 500);
  fw::zone* const zl[] = {z, nullptr};
  const fw::alloc_context ac{zl, z, 0, z->idx, fw::MIGRATE_UNMOVABLE, 0, 0};
  EXPECT_EQ(r.k->compaction().try_to_compact_pages(r.cpu(), fw::GFP_KERNEL, 9, fw::ALLOC_WMARK_MIN, ac,
                                                    fw::COMPACT_PRIO_SYNC_LIGHT),
            fw::COMPACT_SKIPPED);
  EXPECT_EQ(z->compact_defer_shift, 0u);
  give_back(r, z, held);
  full_check(*r.k, {});
}

TEST(fw_compaction, fragmentation_index_and_score) {
  Rig r(spec_mb(128));
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  // Fresh: order-9 requests would succeed.
  EXPECT_EQ(fw::Compaction::fragmentation_index(z, 9), -1000);
  EXPECT_LT(fw::Compaction::extfrag_for_order(z, 9), 10u);
  Fragmented f = fragment(r, 0.8);
  (void)f;
  EXPECT_GT(fw::Compaction::extfrag_for_order(z, 9), 50u);
  // The untouched rest of the zone still holds large blocks; take every
  // free block of order >= 9 so that an order-9 request would fail.
  std::vector<std::pair<page*, uint64_t>> held;
  {
    fw::LockGuard g(z->lock, r.cpu());
    for (unsigned mt = 0; mt < fw::MIGRATE_TYPES; ++mt)
      while (page* p = r.k->buddy().rmqueue_smallest(z, 9, mt)) held.emplace_back(p, r.k->nodes().page_to_pfn(p));
  }
  ASSERT_EQ(z->free_area[9].nr_free + z->free_area[10].nr_free, 0u);
  // Linux __fragmentation_index: 1000 - (1000 + free * 1000 / 2^order) / blocks.
  uint64_t blocks = 0, free = 0;
  for (unsigned o = 0; o < fw::NR_PAGE_ORDERS; ++o) {
    blocks += z->free_area[o].nr_free;
    free += z->free_area[o].nr_free << o;
  }
  ASSERT_GT(blocks, 0u);
  const int fi = fw::Compaction::fragmentation_index(z, 9);
  EXPECT_EQ(fi, static_cast<int>(1000 - (1000 + free * 1000 / 512) / blocks));
  // Lots of free memory in small blocks: failures would be fragmentation.
  EXPECT_GT(fi, 500);
  {
    fw::LockGuard g(z->lock, r.cpu());
    for (auto& [p, pfn] : held) r.k->buddy().free_one_page(z, p, pfn, 9, z->get_pfnblock_migratetype(pfn));
  }
}

}  // namespace
