// Transparent huge pages: the modes (always, madvise, never) and
// MADV_HUGEPAGE/NOHUGEPAGE, order-9 pages at fault time mapped by PMDs, the
// huge zero page, splits on partial munmap/mprotect/MADV_DONTNEED, copy-on-
// write of a THP after fork, fallback to 4 KiB pages under fragmentation
// (thp_fault_fallback) and khugepaged collapsing the range later (with a
// shootdown), MADV_COLLAPSE, MADV_FREE, alloc_contig_range splitting a THP
// in its way; AnonHugePages; the mapping checker after each step.
#include <gtest/gtest.h>

#include "sw/lib/errno.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

constexpr uint64_t RW = fw::PROT_READ | fw::PROT_WRITE;

fw::Params thp_params(uint32_t mode, uint32_t defrag = fw::THP_DEFRAG_MADVISE) {
  fw::Params p = quiet_params();
  p.transparent_hugepage = mode;
  p.transparent_hugepage_defrag = defrag;
  return p;
}

unsigned leaf_level(Rig& r, int pid, uint64_t va) {
  fw::PteLookup l;
  return r.k->translate(r.cpu(), pid, va, &l) ? l.level : 0;
}

// Writes va ^ salt at every page of [a, a+len) through CPU c.
void fill(Rig& r, unsigned c, uint64_t a, uint64_t len, uint64_t salt) {
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const uint64_t pa = r.access(c, a + off);
    ASSERT_NE(pa, ~0ull);
    r.write64(pa & ~7ull, (a + off) ^ salt);
  }
}
void verify(Rig& r, unsigned c, uint64_t a, uint64_t len, uint64_t salt) {
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const uint64_t pa = r.access(c, a + off, x86::Access::read);
    ASSERT_NE(pa, ~0ull);
    ASSERT_EQ(r.read64(pa & ~7ull), (a + off) ^ salt) << std::hex << a + off;
  }
}

TEST(fw_thp, modes_and_madvise_decide_who_gets_huge_pages) {
  {
    Rig r(spec_mb(256), thp_params(fw::THP_ALWAYS));
    const int pid = r.start_process();
    const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * MiB));
    ASSERT_EQ(a % (2 * MiB), 0u);
    fill(r, 0, a, 4 * MiB, 1);
    EXPECT_EQ(r.k->vmstat().event[fw::THP_FAULT_ALLOC], 2u);
    EXPECT_EQ(r.k->memory().stats().faults, 2u) << "one fault per 2 MiB";
    EXPECT_EQ(leaf_level(r, pid, a + 3 * MiB), x86::LEVEL_PD);
    EXPECT_NE(r.proc("meminfo").find("AnonHugePages:      4096 kB"), std::string::npos);
    EXPECT_EQ(r.k->vmstat().node_total(fw::NR_ANON_THPS), 2);
    EXPECT_EQ(r.k->mm_of(pid)->rss_anon, 1024u);
    mapping_check(*r.k, r.cpu());
    // MADV_NOHUGEPAGE: 4 KiB pages even in always mode.
    const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB));
    ASSERT_EQ(r.madvise(0, b, 2 * MiB, uapi::kMadvNohugepage), 0);
    fill(r, 0, b, 2 * MiB, 2);
    EXPECT_EQ(leaf_level(r, pid, b), x86::LEVEL_PT);
    // A range smaller than an aligned 2 MiB gets 4 KiB pages.
    const uint64_t c = static_cast<uint64_t>(r.mmap(0, 0, MiB));
    fill(r, 0, c, MiB, 3);
    EXPECT_EQ(leaf_level(r, pid, c), x86::LEVEL_PT);
    r.sys(0, hal::Sys::exit, 0);
    EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
    full_check(*r.k, {});
  }
  {
    Rig r(spec_mb(256), thp_params(fw::THP_MADVISE));
    const int pid = r.start_process();
    const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB));
    const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB, RW));
    ASSERT_EQ(r.madvise(0, b, 2 * MiB, uapi::kMadvHugepage), 0);
    fill(r, 0, a, 2 * MiB, 1);
    fill(r, 0, b, 2 * MiB, 2);
    EXPECT_EQ(leaf_level(r, pid, a), x86::LEVEL_PT) << "madvise mode: only madvised VMAs";
    EXPECT_EQ(leaf_level(r, pid, b), x86::LEVEL_PD);
    EXPECT_EQ(r.k->vmstat().event[fw::THP_FAULT_ALLOC], 1u);
  }
  {
    Rig r(spec_mb(256), thp_params(fw::THP_NEVER));
    const int pid = r.start_process();
    const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, 4 * MiB));
    ASSERT_EQ(r.madvise(0, b, 4 * MiB, uapi::kMadvHugepage), 0);
    fill(r, 0, b, 4 * MiB, 2);
    EXPECT_EQ(leaf_level(r, pid, b + 2 * MiB), x86::LEVEL_PT);
    EXPECT_EQ(r.k->vmstat().event[fw::THP_FAULT_ALLOC], 0u);
  }
}

TEST(fw_thp, reads_map_the_huge_zero_page_and_a_write_splits_it) {
  Rig r(spec_mb(256), thp_params(fw::THP_ALWAYS));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB));
  const uint64_t pa = r.access(0, a + 100, x86::Access::read);
  EXPECT_EQ(r.read64(pa & ~7ull), 0u);
  EXPECT_EQ(leaf_level(r, pid, a), x86::LEVEL_PD);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_ZERO_PAGE_ALLOC], 1u);
  EXPECT_EQ(r.k->huge_memory().stats().huge_zero_mapped, 1u);
  mapping_check(*r.k, r.cpu());
  // A write splits it into 4 KiB zero-page entries and copies one page.
  const uint64_t wpa = r.access(0, a + PAGE_SIZE);
  EXPECT_EQ(r.read64(wpa & ~7ull), 0u);
  EXPECT_EQ(leaf_level(r, pid, a), x86::LEVEL_PT);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_SPLIT_PMD], 1u);
  EXPECT_TRUE(r.k->memory().is_zero_pfn(r.access(0, a, x86::Access::read) >> 12));
  EXPECT_EQ(r.k->huge_memory().stats().huge_zero_mapped, 0u);
  mapping_check(*r.k, r.cpu());
  r.sys(0, hal::Sys::exit, 0);
  // Unused, the huge zero page goes back when the machine idles.
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_thp, partial_munmap_mprotect_and_dontneed_split_the_huge_page) {
  Rig r(spec_mb(256), thp_params(fw::THP_ALWAYS));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 8 * MiB));
  fill(r, 0, a, 8 * MiB, 0x55);
  ASSERT_EQ(r.k->vmstat().event[fw::THP_FAULT_ALLOC], 4u);
  const uint64_t free0 = r.k->nr_free_pages();
  // munmap of 4 KiB inside the first THP: its PMD and the folio split, the
  // page goes, the rest stays mapped with its data.
  ASSERT_EQ(r.munmap(0, a + 5 * PAGE_SIZE, PAGE_SIZE), 0);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_SPLIT_PMD], 1u);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_SPLIT_PAGE], 1u);
  EXPECT_EQ(r.k->nr_free_pages(), free0 + 1);
  EXPECT_EQ(leaf_level(r, pid, a), x86::LEVEL_PT);
  verify(r, 0, a, 5 * PAGE_SIZE, 0x55);
  verify(r, 0, a + 6 * PAGE_SIZE, 2 * MiB - 6 * PAGE_SIZE, 0x55);
  mapping_check(*r.k, r.cpu());
  // mprotect of part of the second.
  ASSERT_EQ(r.mprotect(0, a + 2 * MiB + MiB, PAGE_SIZE, fw::PROT_READ), 0);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_SPLIT_PMD], 2u);
  EXPECT_EQ(leaf_level(r, pid, a + 2 * MiB), x86::LEVEL_PT);
  EXPECT_EQ(r.access(0, a + 2 * MiB + MiB, x86::Access::write), ~0ull) << "read-only now: SIGSEGV";
  // (The process died; a new one for the rest.)
  const int pid2 = r.start_process();
  const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, 4 * MiB));
  fill(r, 0, b, 4 * MiB, 0x66);
  // MADV_DONTNEED of part: split, those pages read zero again.
  ASSERT_EQ(r.madvise(0, b + MiB, 64 * PAGE_SIZE, uapi::kMadvDontneed), 0);
  EXPECT_EQ(leaf_level(r, pid2, b), x86::LEVEL_PT);
  EXPECT_EQ(r.read64(r.access(0, b + MiB + 8 * PAGE_SIZE, x86::Access::read) & ~7ull), 0u);
  verify(r, 0, b, MiB, 0x66);
  // A whole THP is dropped whole (no split): the folio and its deposited
  // page table are freed, the range reads zero again.
  const uint64_t splits = r.k->vmstat().event[fw::THP_SPLIT_PMD];
  const int64_t thps = r.k->vmstat().node_total(fw::NR_ANON_THPS);
  const uint64_t free1 = r.k->nr_free_pages();
  ASSERT_EQ(r.madvise(0, b + 2 * MiB, 2 * MiB, uapi::kMadvDontneed), 0);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_SPLIT_PMD], splits);
  EXPECT_EQ(r.k->vmstat().node_total(fw::NR_ANON_THPS), thps - 1);
  EXPECT_EQ(r.k->nr_free_pages(), free1 + 512 + 1);
  EXPECT_EQ(r.read64(r.access(0, b + 3 * MiB, x86::Access::read) & ~7ull), 0u);
  mapping_check(*r.k, r.cpu());
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  full_check(*r.k, {});
}

TEST(fw_thp, copy_on_write_after_fork_splits_and_isolates_both_ways) {
  Rig r(spec_mb(256, 2), thp_params(fw::THP_MADVISE));
  const int parent = r.start_process(0, "parent");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB));
  ASSERT_EQ(r.madvise(0, a, 2 * MiB, uapi::kMadvHugepage), 0);
  fill(r, 0, a, 2 * MiB, 0x11);
  ASSERT_EQ(leaf_level(r, parent, a), x86::LEVEL_PD);
  const int child = static_cast<int>(r.fork(0, 1));
  ASSERT_EQ(r.k->schedule(r.cpu(1)).pid, child);
  // Both map the same THP read-only.
  fw::PteLookup lp, lc;
  ASSERT_TRUE(r.k->translate(r.cpu(), parent, a, &lp));
  ASSERT_TRUE(r.k->translate(r.cpu(), child, a, &lc));
  EXPECT_EQ(lp.entry & x86::phys_mask(46), lc.entry & x86::phys_mask(46));
  EXPECT_FALSE(lp.entry & x86::PTE_RW);
  mapping_check(*r.k, r.cpu());
  // The child writes: the THP is split (in both) and the page copied.
  r.write64(r.access(1, a + 3 * PAGE_SIZE), 0xc);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_SPLIT_PAGE], 1u);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_SPLIT_PMD], 2u);
  EXPECT_EQ(r.read64(r.access(0, a + 3 * PAGE_SIZE, x86::Access::read) & ~7ull), (a + 3 * PAGE_SIZE) ^ 0x11);
  EXPECT_EQ(r.read64(r.access(1, a + 3 * PAGE_SIZE, x86::Access::read)), 0xcu);
  // And the parent writes another page: the child keeps its view.
  r.write64(r.access(0, a + 7 * PAGE_SIZE), 0xa);
  EXPECT_EQ(r.read64(r.access(1, a + 7 * PAGE_SIZE, x86::Access::read) & ~7ull), (a + 7 * PAGE_SIZE) ^ 0x11);
  mapping_check(*r.k, r.cpu());
  r.sys(0, hal::Sys::exit, 0);
  verify(r, 1, a + 8 * PAGE_SIZE, 2 * MiB - 8 * PAGE_SIZE, 0x11);
  r.sys(1, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  full_check(*r.k, {});
}

TEST(fw_thp, fragmentation_falls_back_and_khugepaged_collapses_later) {
  fw::Params p = thp_params(fw::THP_ALWAYS, fw::THP_DEFRAG_NEVER);
  p.khugepaged_scan_sleep_millisecs = 1;
  p.compaction_proactiveness = 0;  // nothing but khugepaged's own compaction
  Rig r(spec_mb(256, 2), p);
  // A filler takes most memory and frees every other page: no order-9 block.
  r.start_process(0, "filler");
  const uint64_t flen = (r.k->nr_free_pages() * PAGE_SIZE * 9 / 10) & ~(2 * MiB - 1);
  const uint64_t f = static_cast<uint64_t>(r.mmap(0, 0, flen));
  ASSERT_EQ(r.madvise(0, f, flen, uapi::kMadvNohugepage), 0);
  for (uint64_t off = 0; off < flen; off += PAGE_SIZE) ASSERT_NE(r.access(0, f + off), ~0ull);
  for (uint64_t off = 0; off < flen; off += 2 * PAGE_SIZE) ASSERT_EQ(r.madvise(0, f + off, PAGE_SIZE, uapi::kMadvDontneed), 0);
  // Take what order-9 blocks are left.
  std::vector<fw::page*> held;
  while (fw::page* q = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_TRANSHUGE_LIGHT, 9)) held.push_back(q);
  // The THP user (on CPU 1): fallbacks.
  r.m->enable_tlb_model(true);
  const int user = r.start_process(1, "user");
  const uint64_t a = static_cast<uint64_t>(r.mmap(1, 0, 8 * MiB));
  fill(r, 1, a, 8 * MiB, 0x77);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_FAULT_FALLBACK], 4u);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_FAULT_ALLOC], 0u);
  EXPECT_EQ(leaf_level(r, user, a), x86::LEVEL_PT);
  // khugepaged (CPU 0's timer) compacts and collapses; CPU 1 runs the
  // process, its 4 KiB translations are shot down.
  const uint64_t last = a + 8 * MiB - PAGE_SIZE;
  ASSERT_TRUE(r.cpu(1).tlb_lookup(last) != nullptr);
  for (auto* q : held) r.k->page_alloc().free_pages(r.cpu(), q, 9);
  for (int i = 0; i < 4; ++i) {
    r.cpu(0).advance_ns(2000000);
    r.k->timer_tick(r.cpu(0));
  }
  EXPECT_EQ(r.k->vmstat().event[fw::THP_COLLAPSE_ALLOC], 4u);
  EXPECT_EQ(r.k->khugepaged().stats().pages_collapsed, 4u);
  EXPECT_EQ(leaf_level(r, user, a), x86::LEVEL_PD);
  EXPECT_EQ(r.cpu(1).tlb_lookup(last), nullptr) << "a 4 KiB translation of the collapsed range survived";
  EXPECT_GE(r.k->tlb().stats().ipis_received, 1u);
  verify(r, 1, a, 8 * MiB, 0x77);
  mapping_check(*r.k, r.cpu());
  EXPECT_EQ(r.sys(1, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.sys(0, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  full_check(*r.k, {});
}

TEST(fw_thp, madvise_collapse_free_and_contiguous_allocations) {
  Rig r(spec_mb(256), thp_params(fw::THP_MADVISE));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * MiB));
  // Half the range written (4 KiB pages: not madvised), the rest untouched.
  fill(r, 0, a, MiB, 0x22);
  fill(r, 0, a + 2 * MiB, MiB, 0x23);
  EXPECT_EQ(leaf_level(r, pid, a), x86::LEVEL_PT);
  ASSERT_EQ(r.madvise(0, a, 4 * MiB, uapi::kMadvCollapse), 0);
  EXPECT_EQ(leaf_level(r, pid, a), x86::LEVEL_PD);
  EXPECT_EQ(leaf_level(r, pid, a + 2 * MiB), x86::LEVEL_PD);
  verify(r, 0, a, MiB, 0x22);
  verify(r, 0, a + 2 * MiB, MiB, 0x23);
  EXPECT_EQ(r.read64(r.access(0, a + MiB + 64, x86::Access::read) & ~7ull), 0u) << "empty PTEs became zeros";
  EXPECT_EQ(r.k->vmstat().event[fw::THP_COLLAPSE_ALLOC], 2u);
  mapping_check(*r.k, r.cpu());
  // MADV_FREE on a whole THP: clean, lazily freeable; the data stays (no reclaim).
  ASSERT_EQ(r.madvise(0, a, 2 * MiB, uapi::kMadvFree), 0);
  EXPECT_EQ(r.k->vmstat().event[fw::PGLAZYFREE], 512u);
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), pid, a, &l));
  EXPECT_FALSE(l.entry & x86::PTE_D);
  verify(r, 0, a, MiB, 0x22);
  // MADV_FREE on shared memory is refused.
  const uint64_t s = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE, RW, fw::MAP_SHARED | fw::MAP_ANONYMOUS));
  EXPECT_EQ(r.madvise(0, s, PAGE_SIZE, uapi::kMadvFree), -EINVAL);
  // A contiguous allocation across the second THP splits it and moves the pieces.
  const uint64_t pfn = r.access(0, a + 2 * MiB, x86::Access::read) >> 12;
  ASSERT_EQ(pfn % 512, 0u);
  ASSERT_EQ(r.k->isolation().alloc_contig_range(r.cpu(), pfn, pfn + 512, fw::MIGRATE_MOVABLE, fw::GFP_KERNEL), 0);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_SPLIT_PAGE], 1u);
  EXPECT_NE(r.access(0, a + 2 * MiB, x86::Access::read) >> 12, pfn);
  verify(r, 0, a + 2 * MiB, MiB, 0x23);
  mapping_check(*r.k, r.cpu());
  r.k->isolation().free_contig_range(r.cpu(), pfn, 512);
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  full_check(*r.k, {});
}

TEST(fw_thp, a_collapse_zeroes_empty_ptes_even_in_reused_memory) {
  Rig r(spec_mb(256), thp_params(fw::THP_MADVISE));
  const int pid = r.start_process();
  // Dirty huge blocks, freed: the collapse's allocation gets one back.
  const uint64_t d = static_cast<uint64_t>(r.mmap(0, 0, 32 * MiB));
  ASSERT_EQ(r.madvise(0, d, 32 * MiB, uapi::kMadvHugepage), 0);
  fill(r, 0, d, 32 * MiB, 0x5a);
  ASSERT_EQ(r.munmap(0, d, 32 * MiB), 0);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB));
  ASSERT_EQ(a % (2 * MiB), 0u);
  fill(r, 0, a, MiB, 0x22);
  ASSERT_EQ(r.madvise(0, a, 2 * MiB, uapi::kMadvCollapse), 0);
  ASSERT_EQ(leaf_level(r, pid, a), x86::LEVEL_PD);
  verify(r, 0, a, MiB, 0x22);
  for (uint64_t off = MiB; off < 2 * MiB; off += PAGE_SIZE)
    ASSERT_EQ(r.read64(r.access(0, a + off, x86::Access::read) & ~7ull), 0u) << "empty PTE at " << std::hex << off;
}

// One 2 MiB range with `written` of its 512 pages written, then madvised
// for khugepaged (max_ptes_none as given) and scanned once.
struct NoneScan {
  unsigned level;
  uint64_t exceed, collapsed;
};
NoneScan khugepaged_scan_with_empty_ptes(unsigned max_none, unsigned written) {
  fw::Params p = thp_params(fw::THP_MADVISE);
  p.khugepaged_max_ptes_none = max_none;
  Rig r(spec_mb(256), p);
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB));
  EXPECT_EQ(a % (2 * MiB), 0u);
  fill(r, 0, a, written * PAGE_SIZE, 0x44);
  EXPECT_EQ(r.madvise(0, a, 2 * MiB, uapi::kMadvHugepage), 0);
  r.k->khugepaged().scan(r.cpu(), 4096);
  NoneScan n{leaf_level(r, pid, a), r.k->vmstat().event[fw::THP_SCAN_EXCEED_NONE_PTE],
             r.k->khugepaged().stats().pages_collapsed};
  if (n.level == x86::LEVEL_PD) verify(r, 0, a, written * PAGE_SIZE, 0x44);
  return n;
}

TEST(fw_thp, khugepaged_collapses_with_at_most_max_ptes_none_empty_ptes) {
  NoneScan n = khugepaged_scan_with_empty_ptes(0, 511);
  EXPECT_EQ(n.level, x86::LEVEL_PT) << "max_ptes_none=0: one empty PTE is too many";
  EXPECT_GE(n.exceed, 1u);  // once per pass: a wakeup passes the list up to twice (as Linux)
  EXPECT_EQ(n.collapsed, 0u);
  n = khugepaged_scan_with_empty_ptes(0, 512);
  EXPECT_EQ(n.level, x86::LEVEL_PD);
  EXPECT_EQ(n.collapsed, 1u);
  n = khugepaged_scan_with_empty_ptes(3, 509);
  EXPECT_EQ(n.level, x86::LEVEL_PD) << "exactly max_ptes_none empty PTEs";
  EXPECT_EQ(n.exceed, 0u);
  EXPECT_EQ(n.collapsed, 1u);
  n = khugepaged_scan_with_empty_ptes(3, 508);
  EXPECT_EQ(n.level, x86::LEVEL_PT);
  EXPECT_GE(n.exceed, 1u);
}

TEST(fw_thp, mprotect_of_a_whole_thp_drops_and_restores_write_without_a_split) {
  Rig r(spec_mb(256), thp_params(fw::THP_ALWAYS));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB));
  ASSERT_EQ(a % (2 * MiB), 0u);
  fill(r, 0, a, 2 * MiB, 0x99);
  ASSERT_EQ(leaf_level(r, pid, a), x86::LEVEL_PD);
  ASSERT_EQ(r.mprotect(0, a, 2 * MiB, fw::PROT_READ), 0);
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), pid, a, &l));
  EXPECT_EQ(l.level, x86::LEVEL_PD) << "the whole PMD changes, no split";
  EXPECT_FALSE(l.entry & x86::PTE_RW);
  verify(r, 0, a, 2 * MiB, 0x99);
  // Writable again: the exclusive THP is written in place, data intact.
  ASSERT_EQ(r.mprotect(0, a, 2 * MiB, RW), 0);
  ASSERT_NE(r.access(0, a + MiB + 8), ~0ull);
  EXPECT_EQ(leaf_level(r, pid, a), x86::LEVEL_PD);
  EXPECT_EQ(r.k->vmstat().event[fw::THP_SPLIT_PMD], 0u);
  verify(r, 0, a, 2 * MiB, 0x99);
  mapping_check(*r.k, r.cpu());
  ASSERT_EQ(r.mprotect(0, a, 2 * MiB, fw::PROT_READ), 0);
  EXPECT_EQ(r.access(0, a + 64, x86::Access::write), ~0ull) << "read-only: SIGSEGV";
}

TEST(fw_thp, compaction_leaves_huge_pages_alone) {
  Rig r(spec_mb(256), thp_params(fw::THP_ALWAYS));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 16 * MiB));
  fill(r, 0, a, 16 * MiB, 0x33);
  std::vector<uint64_t> before;
  for (uint64_t off = 0; off < 16 * MiB; off += 2 * MiB) before.push_back(r.access(0, a + off, x86::Access::read));
  r.k->compaction().compact_nodes(r.cpu());
  for (uint64_t off = 0, i = 0; off < 16 * MiB; off += 2 * MiB, ++i)
    EXPECT_EQ(r.access(0, a + off, x86::Access::read), before[i]) << "a THP was moved";
  EXPECT_EQ(leaf_level(r, pid, a), x86::LEVEL_PD);
  mapping_check(*r.k, r.cpu());
}

}  // namespace
