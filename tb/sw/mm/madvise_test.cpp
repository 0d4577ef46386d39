// mprotect and madvise: Linux's errors, PROT_NONE entries that
// keep their pages, protections restored, MADV_POPULATE_READ/WRITE (pages
// present afterwards, EINVAL for a write on a read-only mapping, ENOMEM for
// a hole), MADV_DONTNEED and MADV_FREE on private memory, the hints; the
// firmware parameters' choice type.
#include <gtest/gtest.h>

#include "sw/lib/errno.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

constexpr uint64_t RW = fw::PROT_READ | fw::PROT_WRITE;

TEST(fw_mprotect, protections_change_and_prot_none_keeps_the_pages) {
  Rig r(spec_mb(128));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 8 * PAGE_SIZE));
  for (unsigned i = 0; i < 8; ++i) r.write64(r.access(0, a + i * PAGE_SIZE), i + 1);
  // Linux's errors.
  EXPECT_EQ(r.mprotect(0, a + 1, PAGE_SIZE, fw::PROT_READ), -EINVAL);
  EXPECT_EQ(r.mprotect(0, a, PAGE_SIZE, 0x100), -EINVAL);
  EXPECT_EQ(r.mprotect(0, a, 0, fw::PROT_READ), 0);
  EXPECT_EQ(r.mprotect(0, a, 16 * PAGE_SIZE, fw::PROT_READ), -ENOMEM) << "runs past the mapping";
  EXPECT_EQ(r.mprotect(0, 0x1000000, PAGE_SIZE, fw::PROT_READ), -ENOMEM);
  // PROT_NONE on the middle: entries become non-present, pages stay.
  const uint64_t free0 = r.k->nr_free_pages();
  ASSERT_EQ(r.mprotect(0, a + 2 * PAGE_SIZE, 4 * PAGE_SIZE, fw::PROT_NONE), 0);
  EXPECT_EQ(r.k->mmap().validate(r.k->mm_of(pid)), nullptr);
  EXPECT_EQ(r.k->nr_free_pages(), free0);
  EXPECT_EQ(r.walk(0, a + 3 * PAGE_SIZE).status, Walk::page_fault);
  mapping_check(*r.k, r.cpu());
  const std::string maps = r.proc((std::to_string(pid) + "/maps").c_str());
  EXPECT_NE(maps.find(" ---p "), std::string::npos) << maps;
  // Back to read-only: present again, same pages, same data.
  ASSERT_EQ(r.mprotect(0, a + 2 * PAGE_SIZE, 4 * PAGE_SIZE, fw::PROT_READ), 0);
  EXPECT_EQ(r.read64(r.access(0, a + 3 * PAGE_SIZE, x86::Access::read)), 4u);
  // Back to read-write: the three VMAs merge again; a write works (the
  // page that stayed writable is written in place).
  ASSERT_EQ(r.mprotect(0, a + 2 * PAGE_SIZE, 4 * PAGE_SIZE, RW), 0);
  int vmas = 0;
  r.k->mmap().for_each_vma(r.k->mm_of(pid), [&](fw::vm_area_struct*) {
    ++vmas;
    return true;
  });
  EXPECT_EQ(vmas, 1);
  r.write64(r.access(0, a + 3 * PAGE_SIZE), 44);
  EXPECT_EQ(r.read64(r.access(0, a + 3 * PAGE_SIZE, x86::Access::read)), 44u);
  mapping_check(*r.k, r.cpu());
  // A PROT_NONE access kills.
  ASSERT_EQ(r.mprotect(0, a, PAGE_SIZE, fw::PROT_NONE), 0);
  EXPECT_EQ(r.access(0, a, x86::Access::read), ~0ull);
  EXPECT_NE(r.console().find("access to a PROT_NONE mapping"), std::string::npos);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_madvise, populate_read_and_write_as_the_selftest_expects) {
  Rig r(spec_mb(128));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB));
  // POPULATE_READ: every page present (the zero page), no fault taken.
  ASSERT_EQ(r.madvise(0, a, 2 * MiB, uapi::kMadvPopulateRead), 0);
  for (uint64_t off = 0; off < 2 * MiB; off += PAGE_SIZE) ASSERT_EQ(r.walk(0, a + off).status, Walk::ok);
  EXPECT_EQ(r.k->memory().stats().zero_page, 512u);
  EXPECT_EQ(r.k->memory().stats().faults, 0u);
  // POPULATE_WRITE: every page present and writable (copy-on-write of the zero page done).
  ASSERT_EQ(r.madvise(0, a, 2 * MiB, uapi::kMadvPopulateWrite), 0);
  for (uint64_t off = 0; off < 2 * MiB; off += PAGE_SIZE) ASSERT_EQ(r.walk(0, a + off, x86::Access::write).status, Walk::ok);
  EXPECT_EQ(r.k->memory().stats().cow, 512u);
  EXPECT_EQ(r.k->mm_of(pid)->rss_anon, 512u);
  // A read-only mapping: write population is EINVAL, read population fine.
  const uint64_t ro = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB, fw::PROT_READ));
  EXPECT_EQ(r.madvise(0, ro, 2 * MiB, uapi::kMadvPopulateWrite), -EINVAL);
  EXPECT_EQ(r.madvise(0, ro, 2 * MiB, uapi::kMadvPopulateRead), 0);
  // A hole: ENOMEM.
  ASSERT_EQ(r.munmap(0, ro + MiB, PAGE_SIZE), 0);
  EXPECT_EQ(r.madvise(0, ro, 2 * MiB, uapi::kMadvPopulateRead), -ENOMEM);
  EXPECT_EQ(r.madvise(0, ro, 2 * MiB, uapi::kMadvDontneed), -ENOMEM) << "the mapped parts done, then ENOMEM";
  // Bad arguments.
  EXPECT_EQ(r.madvise(0, a + 1, PAGE_SIZE, uapi::kMadvDontneed), -EINVAL);
  EXPECT_EQ(r.madvise(0, a, PAGE_SIZE, 99), -EINVAL);
  EXPECT_EQ(r.madvise(0, a, 0, uapi::kMadvDontneed), 0);
  EXPECT_EQ(r.madvise(0, a, PAGE_SIZE, uapi::kMadvWillneed), 0);
  mapping_check(*r.k, r.cpu());
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_madvise, dontneed_zeroes_private_memory_and_free_keeps_it_until_reclaim) {
  Rig r(spec_mb(128));
  r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 8 * PAGE_SIZE));
  for (unsigned i = 0; i < 8; ++i) r.write64(r.access(0, a + i * PAGE_SIZE), i + 1);
  const uint64_t free0 = r.k->nr_free_pages();
  ASSERT_EQ(r.madvise(0, a, 4 * PAGE_SIZE, uapi::kMadvDontneed), 0);
  r.k->quiesce(r.cpu());
  EXPECT_EQ(r.k->nr_free_pages(), free0 + 4);
  EXPECT_EQ(r.read64(r.access(0, a, x86::Access::read)), 0u);
  EXPECT_EQ(r.read64(r.access(0, a + 5 * PAGE_SIZE, x86::Access::read)), 6u);
  // MADV_FREE: clean and counted; without reclaim the data is still there.
  ASSERT_EQ(r.madvise(0, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE, uapi::kMadvFree), 0);
  EXPECT_EQ(r.k->vmstat().event[fw::PGLAZYFREE], 4u);
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), r.k->current_pid(0), a + 4 * PAGE_SIZE, &l));
  EXPECT_FALSE(l.entry & x86::PTE_D);
  EXPECT_EQ(r.read64(r.access(0, a + 6 * PAGE_SIZE, x86::Access::read)), 7u);
  mapping_check(*r.k, r.cpu());
}

TEST(fw_params, choice_parameters_store_an_index_and_name_their_words) {
  const fw::ParamDesc* thp = fw::param_find("transparent_hugepage");
  ASSERT_NE(thp, nullptr);
  EXPECT_EQ(thp->type, fw::ParamType::choice);
  EXPECT_STREQ(fw::param_choice_name(*thp, thp->def), "madvise");
  EXPECT_EQ(fw::param_choice_index(*thp, "always"), 0);
  EXPECT_EQ(fw::param_choice_index(*thp, "sometimes"), -1);
  fw::Params p;
  EXPECT_TRUE(fw::param_set(p, *thp, 2));
  EXPECT_EQ(p.transparent_hugepage, fw::THP_NEVER);
  EXPECT_EQ(fw::param_get(p, *thp), 2u);
  EXPECT_FALSE(fw::param_set(p, *thp, 3));
  const fw::ParamDesc* defrag = fw::param_find("transparent_hugepage_defrag");
  ASSERT_NE(defrag, nullptr);
  EXPECT_STREQ(fw::param_choice_name(*defrag, defrag->def), "madvise");
  EXPECT_STREQ(fw::param_choice_name(*defrag, 2), "defer+madvise");
  EXPECT_EQ(fw::param_choice_name(*defrag, 5), nullptr);
  // Every choice parameter's range is its list.
  for (const fw::ParamDesc& d : fw::kParamTable) {
    if (d.type != fw::ParamType::choice) continue;
    uint64_t n = 0;
    while (d.choices[n]) ++n;
    EXPECT_EQ(d.min, 0u) << d.key;
    EXPECT_EQ(d.max, n - 1) << d.key;
  }
}

}  // namespace
