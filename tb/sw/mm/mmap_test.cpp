// mmap/munmap of anonymous memory: placement, merging, splitting, errors,
// freeing of pages and page tables, TLB invalidation.
#include <gtest/gtest.h>

#include "sw/lib/errno.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;
using fw::MAP_ANONYMOUS;
using fw::MAP_FIXED;
using fw::MAP_PRIVATE;
using fw::PROT_READ;
using fw::PROT_WRITE;

namespace {

constexpr uint64_t kMmapBase = 0x7ffff7fff000ull;  // Linux x86-64 without ASLR
constexpr uint64_t RW = PROT_READ | PROT_WRITE;
constexpr uint64_t PA = MAP_PRIVATE | MAP_ANONYMOUS;

struct V {
  uint64_t start, end, flags;
  bool operator==(const V& o) const { return start == o.start && end == o.end && flags == o.flags; }
};
std::ostream& operator<<(std::ostream& os, const V& v) {
  return os << std::hex << "[" << v.start << "," << v.end << ") " << v.flags;
}

std::vector<V> vmas(Rig& r, int pid) {
  std::vector<V> v;
  r.k->mmap().for_each_vma(r.k->mm_of(pid), [&](fw::vm_area_struct* a) {
    v.push_back({a->vm_start, a->vm_end, a->vm_flags & fw::VM_ACCESS_FLAGS});
    return true;
  });
  return v;
}

TEST(fw_mmap, top_down_placement_and_merging) {
  Rig r(spec_mb(64));
  const int pid = r.start_process();
  const int64_t a = r.mmap(0, 0, 3 * PAGE_SIZE);
  EXPECT_EQ(a, static_cast<int64_t>(kMmapBase - 3 * PAGE_SIZE));
  const int64_t b = r.mmap(0, 0, PAGE_SIZE);
  EXPECT_EQ(b, a - static_cast<int64_t>(PAGE_SIZE));
  // Same flags, adjacent: one VMA (Linux merges them).
  std::vector<V> want = {{static_cast<uint64_t>(b), kMmapBase, fw::VM_READ | fw::VM_WRITE}};
  EXPECT_EQ(vmas(r, pid), want);
  // Different protection: a VMA of its own.
  const int64_t c = r.mmap(0, 0, 2 * PAGE_SIZE, PROT_READ);
  EXPECT_EQ(c, b - static_cast<int64_t>(2 * PAGE_SIZE));
  EXPECT_EQ(vmas(r, pid).size(), 2u);
  // A lengths that is not a page multiple is rounded up.
  const int64_t d = r.mmap(0, 0, 100, PROT_READ);
  EXPECT_EQ(d, c - static_cast<int64_t>(PAGE_SIZE));
  EXPECT_EQ(vmas(r, pid).size(), 2u);  // merged with c
  // /proc/<pid>/maps in Linux's format, low to high.
  const std::string maps = r.proc((std::to_string(pid) + "/maps").c_str());
  EXPECT_EQ(maps, "7ffff7ff8000-7ffff7ffb000 r--p 00000000 00:00 0 \n"
                  "7ffff7ffb000-7ffff7fff000 rw-p 00000000 00:00 0 \n");
  EXPECT_EQ(r.k->mm_of(pid)->total_vm, 7u);
}

TEST(fw_mmap, hints_are_taken_when_free) {
  Rig r(spec_mb(64));
  r.start_process();
  EXPECT_EQ(r.mmap(0, 0x10000000, PAGE_SIZE), 0x10000000);
  EXPECT_EQ(r.mmap(0, 0x10001123, PAGE_SIZE), 0x10001000);  // rounded down to a page, free: taken
  EXPECT_EQ(r.mmap(0, 0x10000000, PAGE_SIZE), static_cast<int64_t>(kMmapBase - PAGE_SIZE));  // occupied: top-down
  EXPECT_EQ(r.mmap(0, 0x1000, PAGE_SIZE), 0x10000);  // below mmap_min_addr: raised to it
}

// 5-level paging (Linux 6.18 arch_get_unmapped_area_topdown with LA57):
// without a hint above 2^47 mmap stays below it (DEFAULT_MAP_WINDOW); such
// a hint is taken when free, and opens the whole 56-bit space when not; a
// hint whose range would cross 2^47 is ignored. With 4 levels such hints
// are out of range and ignored.
TEST(fw_mmap, hints_above_47_bits_open_the_57_bit_space) {
  constexpr uint64_t kWindow = (1ull << 47) - PAGE_SIZE;    // DEFAULT_MAP_WINDOW
  constexpr uint64_t kTaskSizeMax = (1ull << 56) - PAGE_SIZE;  // TASK_SIZE_MAX with LA57
  hosthal::MachineSpec s = spec_mb(64);
  s.paging_levels = 5;
  Rig r(s);
  const int pid = r.start_process();
  EXPECT_EQ(r.k->mm_of(pid)->task_size, kTaskSizeMax);
  EXPECT_EQ(r.k->mm_of(pid)->mmap_base, kMmapBase);  // the layout is the 47-bit one
  EXPECT_EQ(r.mmap(0, 0, PAGE_SIZE), static_cast<int64_t>(kMmapBase - PAGE_SIZE));  // no hint: below 2^47
  const uint64_t hint = 0x0012345678900000ull;
  EXPECT_EQ(r.mmap(0, hint, 4 * PAGE_SIZE), static_cast<int64_t>(hint));  // free: taken
  // Occupied: top-down from mmap_base moved up by TASK_SIZE_MAX - DEFAULT_MAP_WINDOW.
  const uint64_t high_base = kMmapBase + (kTaskSizeMax - kWindow);
  EXPECT_EQ(high_base, 0x00fffffff7fff000ull);
  EXPECT_EQ(r.mmap(0, hint, PAGE_SIZE), static_cast<int64_t>(high_base - PAGE_SIZE));
  EXPECT_EQ(r.mmap(0, hint, PAGE_SIZE), static_cast<int64_t>(high_base - 2 * PAGE_SIZE));
  // Beyond TASK_SIZE_MAX: not valid, but still "above the window".
  EXPECT_EQ(r.mmap(0, kTaskSizeMax, 2 * PAGE_SIZE), static_cast<int64_t>(high_base - 4 * PAGE_SIZE));
  // Crossing 2^47: ignored, placed in the 47-bit window.
  EXPECT_EQ(r.mmap(0, kWindow - PAGE_SIZE, 4 * PAGE_SIZE), static_cast<int64_t>(kMmapBase - 5 * PAGE_SIZE));
  // MAP_FIXED across 2^47 is granted (Linux applies the rule to hints only).
  EXPECT_EQ(r.mmap(0, kWindow - PAGE_SIZE, 4 * PAGE_SIZE, RW, PA | MAP_FIXED), static_cast<int64_t>(kWindow - PAGE_SIZE));
  // Every mapping is usable: a store through it, walked with 5 levels.
  for (uint64_t va : {hint, high_base - PAGE_SIZE, kWindow + PAGE_SIZE}) {
    const uint64_t pa = r.access(0, va + 8);
    ASSERT_NE(pa, ~0ull) << std::hex << va;
    EXPECT_EQ(r.walk(0, va + 8).pa, pa);
  }
  EXPECT_EQ(r.k->mmap().validate(r.k->mm_of(pid)), nullptr);

  Rig four(spec_mb(64));
  four.start_process();
  EXPECT_EQ(four.mmap(0, hint, PAGE_SIZE), static_cast<int64_t>(kMmapBase - PAGE_SIZE));
  EXPECT_EQ(four.mmap(0, kWindow - PAGE_SIZE, 4 * PAGE_SIZE), static_cast<int64_t>(kMmapBase - 5 * PAGE_SIZE));
  EXPECT_EQ(four.mmap(0, hint, PAGE_SIZE, RW, PA | MAP_FIXED), -ENOMEM);
}

TEST(fw_mmap, munmap_splits_and_trims) {
  Rig r(spec_mb(64));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 10 * PAGE_SIZE));
  const uint64_t rw = fw::VM_READ | fw::VM_WRITE;
  EXPECT_EQ(r.munmap(0, a + 4 * PAGE_SIZE, 2 * PAGE_SIZE), 0);  // the middle
  std::vector<V> want = {{a, a + 4 * PAGE_SIZE, rw}, {a + 6 * PAGE_SIZE, a + 10 * PAGE_SIZE, rw}};
  EXPECT_EQ(vmas(r, pid), want);
  EXPECT_EQ(r.munmap(0, a, PAGE_SIZE), 0);  // the head
  EXPECT_EQ(r.munmap(0, a + 9 * PAGE_SIZE, PAGE_SIZE), 0);  // the tail
  want = {{a + PAGE_SIZE, a + 4 * PAGE_SIZE, rw}, {a + 6 * PAGE_SIZE, a + 9 * PAGE_SIZE, rw}};
  EXPECT_EQ(vmas(r, pid), want);
  // Across both VMAs and the hole between them.
  EXPECT_EQ(r.munmap(0, a + 3 * PAGE_SIZE, 4 * PAGE_SIZE), 0);
  want = {{a + PAGE_SIZE, a + 3 * PAGE_SIZE, rw}, {a + 7 * PAGE_SIZE, a + 9 * PAGE_SIZE, rw}};
  EXPECT_EQ(vmas(r, pid), want);
  // Nothing mapped there: fine.
  EXPECT_EQ(r.munmap(0, 0x100000, PAGE_SIZE), 0);
  EXPECT_EQ(r.k->mm_of(pid)->map_count, 2);
  EXPECT_EQ(r.k->mm_of(pid)->total_vm, 4u);
  EXPECT_GE(r.k->mmap().stats().vma_splits, 1u);
}

TEST(fw_mmap, errors_as_linux_returns_them) {
  Rig r(spec_mb(64));
  const int pid = r.start_process();
  const uint64_t task_size = r.k->mm_of(pid)->task_size;
  EXPECT_EQ(task_size, 0x7ffffffff000ull);
  EXPECT_EQ(r.mmap(0, 0, 0), -EINVAL);
  EXPECT_EQ(r.sys(0, hal::Sys::mmap, 0, PAGE_SIZE, RW, PA, static_cast<uint64_t>(-1), 123), -EINVAL);  // offset
  EXPECT_EQ(r.mmap(0, 0, PAGE_SIZE, RW, MAP_PRIVATE), -EBADF);                        // a file: no files
  EXPECT_EQ(r.mmap(0, 0, PAGE_SIZE, RW, MAP_ANONYMOUS), -EINVAL);                     // no type
  EXPECT_EQ(r.mmap(0, 0, PAGE_SIZE, RW, 0x04 | MAP_ANONYMOUS), -EINVAL);              // no such type
  EXPECT_EQ(r.mmap(0, 0, 2 * MiB, RW, PA | fw::MAP_HUGETLB), -ENOMEM);            // no hugetlb pool
  EXPECT_EQ(r.mmap(0, 0, 2 * MiB, RW, PA | fw::MAP_HUGETLB | (22ull << 26)), -EINVAL);  // no 4 MiB pages
  EXPECT_EQ(r.mmap(0, 0x40001000, 2 * MiB, RW, PA | fw::MAP_HUGETLB | MAP_FIXED), -EINVAL);  // misaligned huge
  EXPECT_EQ(r.mmap(0, 0x10000800, PAGE_SIZE, RW, PA | MAP_FIXED), -EINVAL);           // misaligned fixed
  EXPECT_EQ(r.mmap(0, 0x1000, PAGE_SIZE, RW, PA | MAP_FIXED), -EPERM);                // below mmap_min_addr
  EXPECT_EQ(r.mmap(0, task_size - PAGE_SIZE, 2 * PAGE_SIZE, RW, PA | MAP_FIXED), -ENOMEM);  // beyond the end
  EXPECT_EQ(r.mmap(0, 0, task_size + PAGE_SIZE), -ENOMEM);                            // too long
  EXPECT_EQ(r.mmap(0, 0, ~0ull - 100), -ENOMEM);                                 // overflows when rounded
  EXPECT_EQ(r.munmap(0, 0x10000800, PAGE_SIZE), -EINVAL);
  EXPECT_EQ(r.munmap(0, 0x10000000, 0), -EINVAL);
  EXPECT_EQ(r.munmap(0, task_size, 2 * PAGE_SIZE), -EINVAL);
  EXPECT_TRUE(vmas(r, pid).empty());
  // Address space exhausted: two 100 TiB mappings do not fit in 128 TiB.
  EXPECT_GT(r.mmap(0, 0, 100ull << 40), 0);
  EXPECT_EQ(r.mmap(0, 0, 100ull << 40), -ENOMEM);
  EXPECT_GT(r.k->mmap().stats().mmap_failed, 10u);
}

TEST(fw_mmap, fixed_replaces_and_noreplace_refuses) {
  Rig r(spec_mb(64));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE));
  for (int i = 0; i < 4; ++i) ASSERT_NE(r.access(0, a + i * PAGE_SIZE), ~0ull);
  const uint64_t free_touched = r.k->nr_free_pages();
  EXPECT_EQ(r.mmap(0, a + PAGE_SIZE, PAGE_SIZE, RW, PA | fw::MAP_FIXED_NOREPLACE), -EEXIST);
  // MAP_FIXED over the middle two pages, read-only: the old pages are freed.
  EXPECT_EQ(r.mmap(0, a + PAGE_SIZE, 2 * PAGE_SIZE, PROT_READ, PA | MAP_FIXED), static_cast<int64_t>(a + PAGE_SIZE));
  EXPECT_EQ(r.k->nr_free_pages(), free_touched + 2);
  EXPECT_EQ(vmas(r, pid).size(), 3u);
  EXPECT_EQ(r.walk(0, a + PAGE_SIZE).status, Walk::page_fault);
  EXPECT_EQ(r.walk(0, a).status, Walk::ok);
  // The new mapping faults in fresh, zeroed, read-only pages.
  const uint64_t pa = r.access(0, a + PAGE_SIZE, x86::Access::read);
  ASSERT_NE(pa, ~0ull);
  EXPECT_EQ(r.read64(pa), 0u);
  EXPECT_FALSE(r.walk(0, a + PAGE_SIZE).rw);
  // MAP_FIXED_NOREPLACE where free works.
  EXPECT_EQ(r.mmap(0, 0x20000000, PAGE_SIZE, RW, PA | fw::MAP_FIXED_NOREPLACE), 0x20000000);
}

TEST(fw_mmap, max_map_count_limits_vmas) {
  fw::Params p = quiet_params();
  p.max_map_count = 4;
  Rig r(spec_mb(64), p);
  r.start_process();
  // Alternate protections so nothing merges; Linux refuses once map_count
  // exceeds the limit.
  int ok = 0;
  for (int i = 0; i < 8; ++i) {
    const int64_t a = r.mmap(0, 0, PAGE_SIZE, (i % 2) ? PROT_READ : RW);
    if (a > 0) ++ok;
    else EXPECT_EQ(a, -ENOMEM);
  }
  EXPECT_EQ(ok, 5);
}

TEST(fw_mmap, munmap_frees_pages_and_page_tables) {
  Rig r(spec_mb(128));
  const int pid = r.start_process();
  const uint64_t free0 = r.k->nr_free_pages();
  const uint64_t pt0 = r.k->pgtable().stats().pages;
  fw::mm_struct* mm = r.k->mm_of(pid);
  EXPECT_EQ(mm->pgtables, 1u);  // the root
  const uint64_t len = 8 * MiB;
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, len));
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) ASSERT_NE(r.access(0, a + off), ~0ull);
  EXPECT_EQ(mm->rss_anon, len / PAGE_SIZE);
  EXPECT_GT(mm->pgtables, 4u);
  EXPECT_EQ(mm->pgtables, 1 + r.k->pgtable().stats().pages - pt0);
  EXPECT_EQ(r.munmap(0, a, len), 0);
  EXPECT_EQ(mm->rss_anon, 0u);
  EXPECT_EQ(mm->pgtables, 1u);
  EXPECT_EQ(r.k->pgtable().stats().pages, pt0);
  // The slab caches keep empty slabs (the anon_vma's among them) until shrunk.
  r.k->slab().shrink_all(r.cpu());
  EXPECT_EQ(r.k->nr_free_pages(), free0);
}

TEST(fw_mmap, munmap_invalidates_the_tlb) {
  Rig r(spec_mb(64));
  const int pid = r.start_process();
  const uint16_t pcid = r.k->mm_of(pid)->pcid;
  EXPECT_NE(pcid, 0);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 64 * PAGE_SIZE));
  for (int i : {0, 1, 5}) ASSERT_NE(r.access(0, a + i * PAGE_SIZE), ~0ull);
  r.m->clear_tlb_ops();
  // A small range: INVLPG for each page of the range that was cleared.
  EXPECT_EQ(r.munmap(0, a, 2 * PAGE_SIZE), 0);
  std::vector<uint64_t> flushed;
  for (const auto& op : r.m->tlb_ops()) {
    EXPECT_EQ(op.kind, hosthal::TlbOp::Kind::invlpg);
    flushed.push_back(op.va);
  }
  EXPECT_EQ(flushed, (std::vector<uint64_t>{a, a + PAGE_SIZE}));
  // Nothing present in the range: nothing to flush.
  r.m->clear_tlb_ops();
  EXPECT_EQ(r.munmap(0, a + 10 * PAGE_SIZE, 4 * PAGE_SIZE), 0);
  EXPECT_TRUE(r.m->tlb_ops().empty());
  // A range beyond the ceiling (33 pages): one PCID-wide flush.
  for (int i = 2; i < 64; ++i) {
    if (i < 10 || i >= 14) {
      ASSERT_NE(r.access(0, a + i * PAGE_SIZE), ~0ull);
    }
  }
  r.m->clear_tlb_ops();
  EXPECT_EQ(r.munmap(0, a, 64 * PAGE_SIZE), 0);
  ASSERT_EQ(r.m->tlb_ops().size(), 1u);
  EXPECT_EQ(r.m->tlb_ops()[0].kind, hosthal::TlbOp::Kind::invpcid);
  EXPECT_EQ(r.m->tlb_ops()[0].type, x86::InvpcidType::single_context);
  EXPECT_EQ(r.m->tlb_ops()[0].pcid, pcid);
}

}  // namespace
