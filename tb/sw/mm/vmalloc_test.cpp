// vmalloc: virtually contiguous kernel memory from scattered pages, mapped
// in the kernel's page tables with a guard page after each area, visible in
// every address space (the vmalloc range's upper tables are preallocated).
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

TEST(fw_vmalloc, areas_are_mapped_with_guard_pages_in_every_address_space) {
  Rig r(spec_mb(256));
  const uint64_t kpt0 = r.k->pgtable().stats().kernel_pages;
  // A process created before the area exists shares the kernel half.
  const int pid = r.start_process();
  const uint64_t size = 5 * PAGE_SIZE + 100;
  const uint64_t va = r.k->vmalloc().vmalloc(r.cpu(), size);
  ASSERT_NE(va, 0u);
  EXPECT_GE(va, fw::VMALLOC_START_L4);
  EXPECT_LT(va, fw::VMALLOC_START_L4 + fw::VMALLOC_SIZE_L4);
  EXPECT_EQ(va % PAGE_SIZE, 0u);
  std::set<uint64_t> frames;
  for (uint64_t off = 0; off < 6 * PAGE_SIZE; off += PAGE_SIZE) {
    // Through the kernel's tables, and the process's.
    WalkCtl kc;
    kc.cr3 = r.k->kernel_root();
    const Walk k = ref_walk(*r.m, kc, va + off, x86::Access::write, false);
    ASSERT_EQ(k.status, Walk::ok) << off;
    EXPECT_TRUE(k.nx);
    EXPECT_FALSE(k.us);
    EXPECT_TRUE(k.leaf & x86::PTE_G);
    frames.insert(k.pa);
    const Walk u = r.walk(0, va + off, x86::Access::read, false);
    ASSERT_EQ(u.status, Walk::ok);
    EXPECT_EQ(u.pa, k.pa);
    // User mode never reaches it.
    EXPECT_EQ(r.walk(0, va + off, x86::Access::read, true).status, Walk::page_fault);
    EXPECT_EQ(r.k->vmalloc().vmalloc_to_page(r.cpu(), va + off), r.k->nodes().phys_to_page(k.pa));
  }
  EXPECT_EQ(frames.size(), 6u);
  // The guard page after the area is not mapped.
  WalkCtl kc;
  kc.cr3 = r.k->kernel_root();
  EXPECT_EQ(ref_walk(*r.m, kc, va + 6 * PAGE_SIZE, x86::Access::read, false).status, Walk::page_fault);
  // Contents through vwrite/vread, across page boundaries.
  std::vector<uint8_t> in(size), out(size);
  for (size_t i = 0; i < size; ++i) in[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(r.k->vmalloc().vwrite(r.cpu(), va, in.data(), size));
  ASSERT_TRUE(r.k->vmalloc().vread(r.cpu(), va, out.data(), size));
  EXPECT_EQ(in, out);
  // A second area does not overlap the first or its guard.
  const uint64_t vb = r.k->vmalloc().vmalloc(r.cpu(), 3 * PAGE_SIZE);
  EXPECT_GE(vb, va + 7 * PAGE_SIZE);
  EXPECT_EQ(r.k->vmalloc().stats().pages, 9u);
  EXPECT_EQ(r.k->vmstat().node_total(fw::NR_VMALLOC), 9);
  EXPECT_NE(r.proc("meminfo").find("VmallocUsed:          36 kB"), std::string::npos) << r.proc("meminfo");
  EXPECT_NE(r.proc("meminfo").find("VmallocTotal:   34359738367 kB"), std::string::npos);
  // vfree unmaps, flushes and frees.
  r.m->clear_tlb_ops();
  r.k->vmalloc().vfree(r.cpu(), va);
  EXPECT_EQ(ref_walk(*r.m, kc, va, x86::Access::read, false).status, Walk::page_fault);
  size_t invlpg = 0;
  for (const auto& op : r.m->tlb_ops()) invlpg += op.kind == hosthal::TlbOp::Kind::invlpg;
  EXPECT_EQ(invlpg, 6u);
  r.k->vmalloc().vfree(r.cpu(), vb);
  EXPECT_EQ(r.k->vmalloc().stats().areas, 0u);
  r.sys(0, hal::Sys::exit, 0);
  // The kernel's lower page tables of the range stay (as on Linux).
  EXPECT_EQ(r.k->nr_free_pages() + (r.k->pgtable().stats().kernel_pages - kpt0), r.k->boot_free_pages());
  (void)pid;
}

TEST(fw_vmalloc, large_areas_zeroed_and_the_range_reused) {
  Rig r(spec_mb(256, 2));
  const uint64_t kpt0 = r.k->pgtable().stats().kernel_pages;
  const uint64_t va = r.k->vmalloc().vzalloc(r.cpu(), 16 * MiB);
  ASSERT_NE(va, 0u);
  std::vector<uint8_t> buf(16 * MiB, 1);
  ASSERT_TRUE(r.k->vmalloc().vread(r.cpu(), va, buf.data(), buf.size()));
  for (size_t i = 0; i < buf.size(); i += 4096) ASSERT_EQ(buf[i], 0);
  // The flush reached the other CPU as a shootdown IPI, acknowledged
  // before vfree returned.
  r.k->vmalloc().vfree(r.cpu(0), va);
  EXPECT_EQ(r.cpu(1).pending_interrupts(), 0u);
  EXPECT_EQ(r.k->irq_stats().tlb_shootdown, 1u);
  EXPECT_EQ(r.k->tlb().stats().ipis_received, 1u);
  // The same addresses come back (first fit).
  const uint64_t vb = r.k->vmalloc().vmalloc(r.cpu(), PAGE_SIZE);
  EXPECT_EQ(vb, va);
  r.k->vmalloc().vfree(r.cpu(), vb);
  r.k->vmalloc().vfree(r.cpu(), 0x1234000);  // not an area: reported, ignored
  EXPECT_NE(r.console().find("Trying to vfree() nonexistent vm area"), std::string::npos);
  r.k->quiesce(r.cpu());
  EXPECT_EQ(r.k->nr_free_pages() + (r.k->pgtable().stats().kernel_pages - kpt0), r.k->boot_free_pages());
  full_check(*r.k, {});
  // Five-level paging: the other range.
  hosthal::MachineSpec s = spec_mb(64);
  s.paging_levels = 5;
  Rig r5(s);
  const uint64_t v5 = r5.k->vmalloc().vmalloc(r5.cpu(), PAGE_SIZE);
  EXPECT_GE(v5, fw::VMALLOC_START_L5);
}

}  // namespace
