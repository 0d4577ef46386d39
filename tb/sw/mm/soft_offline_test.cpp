// Soft offline, unpoison and the error-injection madvise advices on the
// host HAL (sw/mm/soft_offline.cpp, sw/mm/madvise.cpp): an in-use page
// keeps its data at a new pfn and the old one is retired (poisoned,
// HardwareCorrupted by 4 kB); a free page is taken off the free lists; a
// page soft offline cannot handle is refused; unpoison gives a
// software-poisoned page back, and is refused once a hardware failure has
// happened; MADV_HWPOISON of written pages and of the shared zero page;
// Linux 6.18's log lines.
#include <gtest/gtest.h>

#include "sw/hal/uapi.h"
#include "sw/lib/errno.h"
#include "sw/mm/memory.h"
#include "sw/mm/memory_failure.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

std::string hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%#lx", static_cast<unsigned long>(v));
  return b;
}

fw::MemoryFailure& mf(Rig& r) { return *r.k->ctx().memory_failure; }

TEST(fw_soft_offline, in_use_page_keeps_its_data_at_a_new_pfn) {
  Rig r(spec_mb(128));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE));
  for (unsigned i = 0; i < 4; ++i) r.write64(r.access(0, a + i * PAGE_SIZE) + 8, 0xabc0 + i);
  const uint64_t old_pa = r.access(0, a + PAGE_SIZE, x86::Access::read);
  const uint64_t old_pfn = old_pa >> fw::PAGE_SHIFT;
  const uint64_t free0 = r.k->nr_free_pages();

  ASSERT_EQ(r.madvise(0, a + PAGE_SIZE, PAGE_SIZE, uapi::kMadvSoftOffline), 0) << r.console();
  // Same data, another page; the process sees nothing else.
  const uint64_t new_pa = r.access(0, a + PAGE_SIZE, x86::Access::read);
  EXPECT_NE(new_pa >> fw::PAGE_SHIFT, old_pfn);
  EXPECT_EQ(r.read64(new_pa + 8), 0xabc1u);
  for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(r.read64(r.access(0, a + i * PAGE_SIZE, x86::Access::read) + 8), 0xabc0 + i);
  // The old page is retired: poisoned, owned by nobody, never free again.
  const fw::page* op = r.k->nodes().pfn_to_page(old_pfn);
  EXPECT_TRUE(fw::PageHWPoison(op));
  EXPECT_EQ(fw::page_ref_count(op), 1);
  EXPECT_FALSE(fw::page_mapped(op));
  EXPECT_EQ(r.k->nr_free_pages(), free0 - 1) << "one page taken for the copy, the old one kept out";
  EXPECT_EQ(mf(r).num_poisoned_pages(), 1u);
  EXPECT_TRUE(has(r.proc("meminfo"), "HardwareCorrupted:     4 kB")) << r.proc("meminfo");
  // Soft offline counts no memory_failure() outcome.
  EXPECT_EQ(mf(r).node_stats(0).total, 0u);
  EXPECT_TRUE(has(r.console(), "Soft offlining pfn " + hex(old_pfn) + " at process virtual address " +
                                   hex(a + PAGE_SIZE)))
      << r.console();
  EXPECT_EQ(r.k->mmap().validate(r.k->mm_of(pid)), nullptr);
  mapping_check(*r.k, r.cpu());

  // Again on the retired pfn: nothing to do (6.18 returns 0).
  EXPECT_EQ(mf(r).soft_offline_page(r.cpu(), old_pfn, 0), 0);
  EXPECT_TRUE(has(r.console(), "Soft offline: " + hex(old_pfn) + ": page already poisoned")) << r.console();
  EXPECT_EQ(mf(r).num_poisoned_pages(), 1u);

  // Unpoison gives it back to the allocator.
  ASSERT_EQ(mf(r).unpoison_memory(r.cpu(), old_pfn), 0) << r.console();
  EXPECT_FALSE(fw::PageHWPoison(op));
  EXPECT_EQ(r.k->nr_free_pages(), free0);
  EXPECT_EQ(mf(r).num_poisoned_pages(), 0u);
  EXPECT_TRUE(has(r.proc("meminfo"), "HardwareCorrupted:     0 kB"));
  EXPECT_TRUE(has(r.console(), "Unpoison: " + hex(old_pfn) + ": software-unpoisoned page"));
  EXPECT_EQ(mf(r).unpoison_memory(r.cpu(), old_pfn), -EBUSY);
  EXPECT_TRUE(has(r.console(), "Unpoison: " + hex(old_pfn) + ": page was already unpoisoned"));
}

TEST(fw_soft_offline, a_mapped_shared_memory_page_moves_and_stays_mapped) {
  Rig r(spec_mb(128));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(
      r.mmap(0, 0, 2 * PAGE_SIZE, fw::PROT_READ | fw::PROT_WRITE, fw::MAP_SHARED | fw::MAP_ANONYMOUS));
  r.write64(r.access(0, a + PAGE_SIZE) + 8, 0x5eed);
  const uint64_t old_pfn = r.access(0, a + PAGE_SIZE, x86::Access::read) >> fw::PAGE_SHIFT;
  ASSERT_EQ(r.madvise(0, a + PAGE_SIZE, PAGE_SIZE, uapi::kMadvSoftOffline), 0) << r.console();
  // The migration entry is replaced by the new page through the object's
  // mapping (which is the new page's by then): no fault finds it again.
  const uint64_t faults = r.stats().at("fault.migration_wait");
  const uint64_t new_pa = r.access(0, a + PAGE_SIZE, x86::Access::read);
  EXPECT_NE(new_pa, ~0ull);
  EXPECT_NE(new_pa >> fw::PAGE_SHIFT, old_pfn);
  EXPECT_EQ(r.read64(new_pa + 8), 0x5eedu);
  EXPECT_EQ(r.stats().at("fault.migration_wait"), faults);
  EXPECT_EQ(r.k->mmap().validate(r.k->mm_of(pid)), nullptr);
  mapping_check(*r.k, r.cpu());
}

TEST(fw_soft_offline, free_page_is_taken_off_the_free_lists) {
  Rig r(spec_mb(128));
  hal::Hal& h = r.cpu();
  // A free page, on a per-CPU list first (soft offline drains them).
  fw::page* p = r.k->page_alloc().alloc_pages(h, fw::GFP_KERNEL, 0);
  ASSERT_NE(p, nullptr);
  const uint64_t pfn = r.k->nodes().page_to_pfn(p);
  r.k->page_alloc().free_pages(h, p, 0);
  const uint64_t free0 = r.k->nr_free_pages();
  ASSERT_EQ(mf(r).soft_offline_page(h, pfn, 0), 0) << r.console();
  EXPECT_TRUE(fw::PageHWPoison(p));
  EXPECT_EQ(fw::page_ref_count(p), 1);
  EXPECT_EQ(r.k->nr_free_pages(), free0 - 1);
  EXPECT_FALSE(r.k->page_alloc().is_free_buddy_page(h, p));
  full_check(*r.k, {});
  // Every page the allocator hands out now is another one.
  std::vector<fw::page*> got;
  for (uint64_t i = 0; i < 256; ++i) {
    fw::page* q = r.k->page_alloc().alloc_pages(h, fw::GFP_KERNEL, 0);
    ASSERT_NE(q, p);
    got.push_back(q);
  }
  for (fw::page* q : got) r.k->page_alloc().free_pages(h, q, 0);
  ASSERT_EQ(mf(r).unpoison_memory(h, pfn), 0);
  EXPECT_EQ(r.k->nr_free_pages(), free0);
  EXPECT_EQ(fw::page_ref_count(p), 0);
}

TEST(fw_soft_offline, kernel_pages_are_refused) {
  Rig r(spec_mb(128));
  hal::Hal& h = r.cpu();
  fw::page* p = r.k->page_alloc().alloc_pages(h, fw::GFP_KERNEL, 0);  // not on the LRU: a kernel page
  ASSERT_NE(p, nullptr);
  const uint64_t pfn = r.k->nodes().page_to_pfn(p);
  EXPECT_EQ(mf(r).soft_offline_page(h, pfn, 0), -EIO);
  EXPECT_TRUE(has(r.console(), "Memory failure: " + hex(pfn) + ": unhandlable page.")) << r.console();
  EXPECT_FALSE(fw::PageHWPoison(p));
  EXPECT_EQ(fw::page_ref_count(p), 1);
  r.k->page_alloc().free_pages(h, p, 0);
}

TEST(fw_soft_offline, can_be_disabled) {
  fw::Params prm = quiet_params();
  prm.enable_soft_offline = false;
  Rig r(spec_mb(128), prm);
  r.start_process();
  const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE));
  const uint64_t pa = r.access(0, b);
  EXPECT_EQ(r.madvise(0, b, PAGE_SIZE, uapi::kMadvSoftOffline), -EOPNOTSUPP);
  EXPECT_EQ(r.access(0, b, x86::Access::read), pa);
  EXPECT_TRUE(has(r.console(), "Soft offline: disabled by /proc/sys/vm/enable_soft_offline"));
}

TEST(fw_soft_offline, unpoison_is_refused_after_a_hardware_failure) {
  Rig r(spec_mb(128));
  hal::Hal& h = r.cpu();
  r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * PAGE_SIZE));
  const uint64_t pfn0 = r.access(0, a) >> fw::PAGE_SHIFT;
  r.access(0, a + PAGE_SIZE);
  ASSERT_EQ(r.madvise(0, a, PAGE_SIZE, uapi::kMadvSoftOffline), 0);
  // A real (not software-simulated) failure on another page.
  fw::page* p = r.k->page_alloc().alloc_pages(h, fw::GFP_KERNEL, 0);
  ASSERT_NE(p, nullptr);
  mf(r).memory_failure(h, r.k->nodes().page_to_pfn(p), 0);
  EXPECT_EQ(mf(r).unpoison_memory(h, pfn0), -EOPNOTSUPP);
  EXPECT_TRUE(has(r.console(), "Unpoison: " + hex(pfn0) + ": disabled after HW memory failure")) << r.console();
  EXPECT_TRUE(fw::PageHWPoison(r.k->nodes().pfn_to_page(pfn0)));
}

TEST(fw_madvise_inject, hwpoison_hands_each_page_to_memory_failure) {
  Rig r(spec_mb(128));
  r.start_process();
  // The caller maps each page it poisons: it gets SIGBUS (BUS_MCEERR_AR),
  // as 6.18's selftests expect; a handler keeps it alive.
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE));
  const uint64_t pfn = r.access(0, a + 2 * PAGE_SIZE) >> fw::PAGE_SHIFT;
  // The range need not be page-aligned at its end: the page it reaches into counts.
  EXPECT_EQ(r.madvise(0, a + 2 * PAGE_SIZE, 1, uapi::kMadvHwpoison), 0) << r.console();
  EXPECT_TRUE(has(r.console(), "Injecting memory failure for pfn " + hex(pfn) + " at process virtual address " +
                                   hex(a + 2 * PAGE_SIZE)))
      << r.console();
  EXPECT_TRUE(fw::PageHWPoison(r.k->nodes().pfn_to_page(pfn)));
  EXPECT_EQ(mf(r).num_poisoned_pages(), 1u);
  // A page the process wrote (an untouched one would be faulted in for
  // reading: the shared zero page, which 6.18 poisons too and answers -EBUSY).
  r.access(0, a);
  EXPECT_EQ(r.madvise(0, a, PAGE_SIZE, uapi::kMadvHwpoison), 0);
  EXPECT_EQ(mf(r).num_poisoned_pages(), 2u);
  // An unmapped address: the fault's error.
  EXPECT_EQ(r.madvise(0, a + 64 * PAGE_SIZE, PAGE_SIZE, uapi::kMadvHwpoison), -EFAULT);
  EXPECT_EQ(r.stats().at("madvise.hwpoison"), 2u);
  ASSERT_EQ(r.m->delivered().size(), 2u);
  EXPECT_EQ(r.m->delivered()[0].si.code, uapi::kBusMceerrAr);
  EXPECT_EQ(r.m->delivered()[1].si.code, uapi::kBusMceerrAr);
}

// MADV_HWPOISON of an anonymous page nobody touched: as in Linux 6.18,
// madvise_inject_error's read-only get_user_pages_fast maps the shared zero
// page and hands it to memory_failure(), which poisons it and leaves it
// alone ("reserved kernel page": Ignored, -EBUSY). The first write to the
// address then copies on write without reading the zero page (do_wp_page ->
// wp_page_copy, is_zero_pfn: a zeroed page), so it is no SIGBUS even when
// the zero page's cells really hold poison.
TEST(fw_madvise_inject, madv_hwpoison_of_an_untouched_page_poisons_the_zero_page_and_is_ignored) {
  Rig r(spec_mb(64));
  r.start_process();
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * PAGE_SIZE));
  const uint64_t zero = r.k->ctx().memory->zero_pfn();
  const fw::page* zp = r.k->nodes().pfn_to_page(zero);
  EXPECT_EQ(r.madvise(0, a, PAGE_SIZE, uapi::kMadvHwpoison), -EBUSY) << r.console();
  EXPECT_TRUE(has(r.console(), "Injecting memory failure for pfn " + hex(zero) + " at process virtual address " + hex(a)))
      << r.console();
  EXPECT_TRUE(has(r.console(), "Memory failure: " + hex(zero) + ": recovery action for reserved kernel page: Ignored"))
      << r.console();
  EXPECT_TRUE(fw::PageHWPoison(zp));
  EXPECT_EQ(r.k->memory_failure().num_poisoned_pages(), 1u);
  EXPECT_EQ(r.k->memory_failure().node_stats(0).ignored, 1u);
  // A kernel page is not unmapped and nobody is signalled.
  EXPECT_EQ(r.walk(0, a, x86::Access::read).pa >> fw::PAGE_SHIFT, zero);
  EXPECT_TRUE(r.m->delivered().empty());
}

TEST(fw_madvise_inject, a_write_after_it_copies_from_no_page_and_is_no_sigbus) {
  Rig r(spec_mb(64));
  r.start_process();
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * PAGE_SIZE));
  const uint64_t zero = r.k->ctx().memory->zero_pfn();
  ASSERT_EQ(r.madvise(0, a, PAGE_SIZE, uapi::kMadvHwpoison), -EBUSY) << r.console();
  // Poison in the zero page's cells too: a copy that read them would fail.
  r.m->inject_poison((zero << fw::PAGE_SHIFT) + 0x40);
  const uint64_t pa = r.access(0, a + 0x48, x86::Access::write);
  ASSERT_NE(pa, ~0ull) << r.console();
  EXPECT_NE(pa >> fw::PAGE_SHIFT, zero) << "copied on write";
  EXPECT_EQ(r.read64(pa), 0u) << "a zeroed page";
  EXPECT_EQ(r.read64((pa & ~(PAGE_SIZE - 1)) + 0x40), 0u);
  EXPECT_TRUE(r.m->delivered().empty()) << r.console();
  EXPECT_EQ(r.k->task_stats().sigbus, 0u);
  EXPECT_EQ(r.k->nr_tasks(), 1u);
  EXPECT_FALSE(fw::PageHWPoison(r.k->nodes().pfn_to_page(pa >> fw::PAGE_SHIFT)));
  // Reads of untouched memory still share the zero page.
  EXPECT_EQ(r.access(0, a + PAGE_SIZE, x86::Access::read) >> fw::PAGE_SHIFT, zero);
  EXPECT_EQ(r.k->memory_failure().num_poisoned_pages(), 1u);
}

}  // namespace
