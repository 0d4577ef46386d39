// TLB shootdowns on four CPUs with the host HAL's TLB model:
// after munmap, mprotect, a copy-on-write break or fork no CPU keeps a
// translation the change made stale; lazy CPUs are skipped (and flush when
// they return to the address space) unless page tables were freed, then
// they move to the kernel's tables; every IPI is acknowledged before the
// initiator goes on; a CPU that never answers is reported, not waited for
// forever. Statistics with Linux's vmstat names.
#include <gtest/gtest.h>

#include "sw/lib/errno.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

constexpr uint64_t RW = fw::PROT_READ | fw::PROT_WRITE;

// A process with a thread on each of CPUs 0..n-1, a mapping at 0x10000000
// written by CPU 0 and read by every CPU (each TLB holds every page).
struct Threads {
  Rig r;
  int pid = 0;
  uint64_t a = 0x10000000;
  explicit Threads(unsigned n, uint64_t pages = 16, const fw::Params& p = quiet_params())
      : r(spec_mb(128, n), p) {
    r.m->enable_tlb_model(true);
    pid = r.start_process(0, "main");
    EXPECT_EQ(r.mmap(0, a, pages * PAGE_SIZE, RW, fw::MAP_PRIVATE | fw::MAP_ANONYMOUS | fw::MAP_FIXED),
              static_cast<int64_t>(a));
    for (uint64_t i = 0; i < pages; ++i) EXPECT_NE(r.access(0, a + i * PAGE_SIZE), ~0ull);
    for (unsigned c = 1; c < n; ++c) {
      const int t = static_cast<int>(r.clone_thread(0, c));
      EXPECT_EQ(r.k->schedule(r.cpu(c)).pid, t);
    }
    for (unsigned c = 0; c < n; ++c)
      for (uint64_t i = 0; i < pages; ++i) EXPECT_NE(r.access(c, a + i * PAGE_SIZE, x86::Access::read), ~0ull);
  }
  bool cached(unsigned c, uint64_t va) { return r.cpu(c).tlb_lookup(va) != nullptr; }
};

TEST(fw_tlb, munmap_leaves_no_cpu_translating_the_page) {
  Threads t(4);
  Rig& r = t.r;
  for (unsigned c = 0; c < 4; ++c) ASSERT_TRUE(t.cached(c, t.a)) << c;
  const fw::TlbStats before = r.k->tlb().stats();
  const uint64_t remote = r.k->vmstat().event[fw::NR_TLB_REMOTE_FLUSH];
  ASSERT_EQ(r.munmap(0, t.a, PAGE_SIZE), 0);
  for (unsigned c = 0; c < 4; ++c) {
    EXPECT_FALSE(t.cached(c, t.a)) << "CPU" << c << " still translates the unmapped page";
    EXPECT_TRUE(t.cached(c, t.a + PAGE_SIZE)) << "CPU" << c << " lost an unrelated entry (one page is INVLPG'd)";
    EXPECT_EQ(r.cpu(c).pending_interrupts(), 0u);
  }
  const fw::TlbStats& s = r.k->tlb().stats();
  EXPECT_EQ(s.shootdowns - before.shootdowns, 1u);
  EXPECT_EQ(s.shootdown_ipis - before.shootdown_ipis, 3u);
  EXPECT_EQ(s.ipis_received - before.ipis_received, 3u);
  EXPECT_EQ(s.timeouts, 0u);
  EXPECT_EQ(r.k->vmstat().event[fw::NR_TLB_REMOTE_FLUSH], remote + 1);
  EXPECT_GE(r.k->vmstat().event[fw::NR_TLB_REMOTE_FLUSH_RECEIVED], 3u);
  EXPECT_GE(r.k->vmstat().event[fw::NR_TLB_LOCAL_FLUSH_ONE], 1u);
  // Linux's CONFIG_DEBUG_TLBFLUSH counters: statistics, not /proc/vmstat
  // lines (6.18 without that option does not print them).
  const std::string vm = r.proc("vmstat");
  const StatMap st = r.stats();
  for (const char* n : {"nr_tlb_remote_flush", "nr_tlb_remote_flush_received", "nr_tlb_local_flush_all",
                        "nr_tlb_local_flush_one"}) {
    EXPECT_EQ(vm.find(std::string("\n") + n + " "), std::string::npos) << n;
    EXPECT_TRUE(st.map.count(std::string("vmstat.") + n)) << n;
  }
  EXPECT_EQ(st.at("vmstat.nr_tlb_remote_flush"), remote + 1);
  // An access to it now faults and kills (no mapping).
  EXPECT_EQ(r.access(2, t.a, x86::Access::read), ~0ull);
}

TEST(fw_tlb, a_large_range_flushes_the_whole_pcid_everywhere) {
  Threads t(4, 64);
  Rig& r = t.r;
  const uint64_t full = r.k->tlb().stats().full_flushes;
  ASSERT_EQ(r.munmap(0, t.a, 40 * PAGE_SIZE), 0);  // beyond tlb_single_page_flush_ceiling (33)
  EXPECT_GE(r.k->tlb().stats().full_flushes - full, 4u);
  for (unsigned c = 0; c < 4; ++c) {
    EXPECT_FALSE(t.cached(c, t.a + 39 * PAGE_SIZE));
    EXPECT_FALSE(t.cached(c, t.a + 50 * PAGE_SIZE)) << "a full flush drops everything of the PCID";
  }
}

TEST(fw_tlb, lazy_cpus_are_skipped_and_catch_up_when_they_return) {
  Threads t(4);
  Rig& r = t.r;
  fw::mm_struct* mm = r.k->mm_of(t.pid);
  // CPU 2's thread exits: CPU 2 idles with the address space loaded lazily.
  EXPECT_EQ(r.sys(2, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.k->schedule(r.cpu(2)).pid, -1);
  EXPECT_TRUE(r.k->tlb().is_lazy(2));
  EXPECT_EQ(r.k->tlb().loaded_mm(2), mm);
  const uint64_t skips = r.k->tlb().stats().lazy_skips, ipis = r.k->tlb().stats().shootdown_ipis;
  ASSERT_EQ(r.mprotect(0, t.a, PAGE_SIZE, fw::PROT_READ), 0);
  EXPECT_EQ(r.k->tlb().stats().lazy_skips, skips + 1);
  EXPECT_EQ(r.k->tlb().stats().shootdown_ipis, ipis + 2) << "CPUs 1 and 3 only";
  EXPECT_TRUE(t.cached(2, t.a)) << "the lazy CPU was not interrupted";
  EXPECT_FALSE(t.cached(1, t.a));
  // A new thread on CPU 2: returning to the address space flushes it.
  const uint64_t stale = r.k->tlb().stats().stale_reload;
  const int t2 = static_cast<int>(r.clone_thread(0, 2));
  EXPECT_EQ(r.k->schedule(r.cpu(2)).pid, t2);
  EXPECT_EQ(r.k->tlb().stats().stale_reload, stale + 1);
  EXPECT_FALSE(t.cached(2, t.a));
  // Now read-only everywhere: a write from CPU 3 is refused (its TLB no longer
  // holds the writable entry).
  EXPECT_EQ(r.access(3, t.a, x86::Access::write), ~0ull);
}

TEST(fw_tlb, freed_page_tables_send_lazy_cpus_to_the_kernel_tables) {
  Threads t(3);
  Rig& r = t.r;
  EXPECT_EQ(r.sys(1, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.k->schedule(r.cpu(1)).pid, -1);
  ASSERT_TRUE(r.k->tlb().is_lazy(1));
  const uint64_t switches = r.k->tlb().stats().lazy_switches;
  // The whole mapping goes, and with it its page tables: even the lazy CPU
  // must not keep a paging-structure entry pointing into them.
  ASSERT_EQ(r.munmap(0, t.a, 16 * PAGE_SIZE), 0);
  EXPECT_EQ(r.k->tlb().stats().lazy_switches, switches + 1);
  EXPECT_EQ(r.k->tlb().loaded_mm(1), nullptr);
  EXPECT_EQ(r.cpu(1).read_cr3() & ~x86::CR3_PCID_MASK, r.k->kernel_root());
  EXPECT_EQ(r.k->mm_of(t.pid)->cpu_mask & 2u, 0u);
}

TEST(fw_tlb, copy_on_write_breaks_shoot_down_the_other_threads) {
  Threads t(3);
  Rig& r = t.r;
  // fork write-protects the parent's pages: every CPU of the parent drops
  // its writable entries.
  const int child = static_cast<int>(r.fork(0, 2));
  ASSERT_GT(child, 0);
  for (unsigned c = 0; c < 2; ++c) EXPECT_FALSE(t.cached(c, t.a)) << c;
  // CPU 1 reads again (a read-only entry of the shared page); CPU 0 writes:
  // the copy replaces the page, CPU 1's entry must go with the old one.
  const uint64_t old_pa = r.access(1, t.a, x86::Access::read);
  ASSERT_TRUE(t.cached(1, t.a));
  const uint64_t new_pa = r.access(0, t.a, x86::Access::write);
  EXPECT_NE(new_pa & ~(PAGE_SIZE - 1), old_pa & ~(PAGE_SIZE - 1));
  EXPECT_FALSE(t.cached(1, t.a)) << "a stale translation to the child's page survived";
  r.write64(new_pa, 0x77);
  EXPECT_EQ(r.read64(r.access(1, t.a, x86::Access::read)), 0x77u);
  mapping_check(*r.k, r.cpu());
}

TEST(fw_tlb, an_unanswered_shootdown_is_reported_not_waited_for_forever) {
  fw::Params p = quiet_params();
  p.tlb_shootdown_timeout_us = 20;
  Threads t(2, 4, p);
  Rig& r = t.r;
  // CPU 1 "never runs" while CPU 0 spins.
  r.m->set_relax_runs_others(false);
  ASSERT_EQ(r.munmap(0, t.a, PAGE_SIZE), 0);
  EXPECT_EQ(r.k->tlb().stats().timeouts, 1u);
  EXPECT_NE(r.console().find("not acknowledged by CPUs 0x2"), std::string::npos) << r.console();
  // When it runs again it serves the (withdrawn) request harmlessly.
  r.m->set_relax_runs_others(true);
  r.cpu(1).deliver_interrupts();
  EXPECT_EQ(r.k->tlb().stats().timeouts, 1u);
}

TEST(fw_tlb, exit_of_the_last_thread_drops_the_address_space_everywhere) {
  Threads t(3);
  Rig& r = t.r;
  fw::mm_struct* mm = r.k->mm_of(t.pid);
  EXPECT_EQ(r.sys(1, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.sys(2, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.k->tlb().loaded_mm(1), mm) << "CPU 1 keeps it until it schedules";
  EXPECT_EQ(r.sys(0, hal::Sys::exit, 0), 0);
  for (unsigned c = 0; c < 3; ++c) {
    EXPECT_EQ(r.k->tlb().loaded_mm(c), nullptr) << c;
    EXPECT_EQ(r.cpu(c).read_cr3() & ~x86::CR3_PCID_MASK, r.k->kernel_root()) << c;
  }
  EXPECT_EQ(r.k->tlb().stats().timeouts, 0u);
  EXPECT_EQ(r.console().find("still loaded"), std::string::npos);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

}  // namespace
