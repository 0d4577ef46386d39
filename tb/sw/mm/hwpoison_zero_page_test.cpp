// MADV_HWPOISON of an anonymous page nobody touched, on the host HAL
// (sw/mm/madvise.cpp, sw/mm/memory_failure.cpp, sw/mm/memory.cpp): as in
// Linux 6.18, madvise_inject_error's read-only get_user_pages_fast maps the
// shared zero page and hands it to memory_failure(), which poisons it and
// leaves it alone ("reserved kernel page": Ignored, -EBUSY). The zero page
// stays mapped and shared; the first write to the address copies on write
// without reading it (do_wp_page -> wp_page_copy, is_zero_pfn: a zeroed
// page from vma_alloc_zeroed_movable_folio), so it is no SIGBUS even when
// the zero page's cells really hold poison.
#include <gtest/gtest.h>

#include <cstdio>

#include "sw/hal/uapi.h"
#include "sw/lib/errno.h"
#include "sw/mm/memory.h"
#include "sw/mm/memory_failure.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

std::string hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%#lx", static_cast<unsigned long>(v));
  return b;
}

TEST(fw_hwpoison_zero_page, madv_hwpoison_of_an_untouched_page_poisons_the_zero_page_and_is_ignored) {
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

TEST(fw_hwpoison_zero_page, a_write_after_it_copies_from_no_page_and_is_no_sigbus) {
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
