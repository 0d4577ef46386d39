// Page faults: demand paging, rights, SIGSEGV, out of memory, poison.
#include <gtest/gtest.h>

#include "sw/lib/errno.h"
#include "tb/sw/mm/consumed_error.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;
using fw::PROT_EXEC;
using fw::PROT_READ;
using fw::PROT_WRITE;

namespace {

TEST(fw_fault, demand_paging_64mib_takes_exactly_16384_faults) {
  Rig r(spec_mb(256));
  r.start_process();
  const uint64_t len = 64 * MiB;
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, len));
  const uint64_t free0 = r.k->nr_free_pages();
  const uint64_t faults0 = r.k->vmstat().event[fw::PGFAULT];
  // Write a pattern over all of it, one word per 8 bytes of the first line
  // of each page, through the translations.
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const uint64_t pa = r.access(0, a + off, x86::Access::write);
    ASSERT_NE(pa, ~0ull);
    r.write64(pa, (a + off) ^ 0x5555aaaa5555aaaaull);
  }
  EXPECT_EQ(r.k->vmstat().event[fw::PGFAULT] - faults0, 16384u);
  EXPECT_EQ(r.k->memory().stats().anon, 16384u);
  EXPECT_GE(free0 - r.k->nr_free_pages(), 16384u);
  // Reading it back takes no fault and finds the pattern.
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const uint64_t pa = r.access(0, a + off, x86::Access::read);
    ASSERT_EQ(r.read64(pa), (a + off) ^ 0x5555aaaa5555aaaaull);
  }
  EXPECT_EQ(r.k->vmstat().event[fw::PGFAULT] - faults0, 16384u);
  const StatMap s = r.stats();
  EXPECT_EQ(s.at("vmstat.pgfault"), 16384u);
  EXPECT_EQ(s.at("vmstat.nr_anon_pages"), 16384u);
  EXPECT_LE(s.at("buddy.min_free_pages"), free0 - 16384);
  EXPECT_GT(s.at("time.charged_ns"), 16384u * 150);
}

TEST(fw_fault, fresh_pages_are_zero_and_ptes_follow_linux) {
  Rig r(spec_mb(64));
  r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE));
  // Dirty pages, free them, map again: the new pages read as zero.
  for (int i = 0; i < 4; ++i) {
    const uint64_t pa = r.access(0, a + i * PAGE_SIZE);
    std::memset(r.m->raw(pa & ~(PAGE_SIZE - 1), PAGE_SIZE), 0xee, PAGE_SIZE);
  }
  ASSERT_EQ(r.munmap(0, a, 4 * PAGE_SIZE), 0);
  const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE));
  for (int i = 0; i < 4; ++i) {
    const uint64_t pa = r.access(0, b + i * PAGE_SIZE, x86::Access::read) & ~(PAGE_SIZE - 1);
    for (uint64_t o = 0; o < PAGE_SIZE; o += 8) ASSERT_EQ(r.read64(pa + o), 0u);
  }
  // A read fault on untouched private memory maps the shared zero page,
  // read-only (Linux's do_anonymous_page); user, NX, accessed.
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), r.k->current_pid(0), b, &l));
  EXPECT_EQ((l.entry & x86::phys_mask(46)) >> 12, r.k->memory().zero_pfn());
  EXPECT_FALSE(l.entry & x86::PTE_RW);
  EXPECT_TRUE(l.entry & x86::PTE_US);
  EXPECT_TRUE(l.entry & x86::PTE_NX);
  EXPECT_TRUE(l.entry & x86::PTE_A);
  EXPECT_FALSE(l.entry & x86::PTE_G);
  // The first write copies it: a page of its own, writable and dirty.
  const uint64_t wpa = r.access(0, b, x86::Access::write);
  ASSERT_TRUE(r.k->translate(r.cpu(), r.k->current_pid(0), b, &l));
  EXPECT_NE((l.entry & x86::phys_mask(46)) >> 12, r.k->memory().zero_pfn());
  EXPECT_EQ(wpa & ~(PAGE_SIZE - 1), l.entry & x86::phys_mask(46));
  EXPECT_TRUE(l.entry & x86::PTE_RW);
  EXPECT_TRUE(l.entry & x86::PTE_D);
  EXPECT_EQ(r.read64(wpa & ~(PAGE_SIZE - 1)), 0u);
  EXPECT_EQ(r.k->memory().stats().cow, 1u);
  // Read-only mapping: present, not writable, not dirty.
  const uint64_t c = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE, PROT_READ));
  ASSERT_NE(r.access(0, c, x86::Access::read), ~0ull);
  ASSERT_TRUE(r.k->translate(r.cpu(), r.k->current_pid(0), c, &l));
  EXPECT_FALSE(l.entry & x86::PTE_RW);
  EXPECT_FALSE(l.entry & x86::PTE_D);
  // Executable mapping: no NX; a fetch works.
  const uint64_t x = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE, PROT_READ | PROT_EXEC));
  ASSERT_NE(r.access(0, x, x86::Access::fetch), ~0ull);
  ASSERT_TRUE(r.k->translate(r.cpu(), r.k->current_pid(0), x, &l));
  EXPECT_FALSE(l.entry & x86::PTE_NX);
}

struct SegvCase {
  const char* name;
  uint64_t prot;
  int64_t offset;  // from the mapping; INT64_MIN: an unmapped address
  x86::Access access;
  const char* reason;
};

// Stable test names for ctest (the default would print the bytes).
void PrintTo(const SegvCase& c, std::ostream* os) { *os << c.name; }

class fw_fault_segv : public ::testing::TestWithParam<SegvCase> {};

TEST_P(fw_fault_segv, kills_with_one_line_and_returns_every_page) {
  const SegvCase& c = GetParam();
  Rig r(spec_mb(64));
  const uint64_t boot_free = r.k->nr_free_pages();
  const int pid = r.start_process(0, "victim");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE, c.prot));
  ASSERT_NE(r.access(0, static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE)), x86::Access::write), ~0ull);
  const uint64_t va = c.offset == INT64_MIN ? 0x4000000 : a + static_cast<uint64_t>(c.offset);
  r.m->clear_console();
  EXPECT_EQ(r.access(0, va, c.access), ~0ull) << "the access should have killed the task";
  char line[128];
  std::snprintf(line, sizeof line, "victim[%d]: segfault at %lx error", pid, static_cast<unsigned long>(va));
  EXPECT_NE(r.console().find(line), std::string::npos) << r.console();
  EXPECT_NE(r.console().find(c.reason), std::string::npos) << r.console();
  const std::string con = r.console();
  EXPECT_EQ(std::count(con.begin(), con.end(), '\n'), 1) << con;
  EXPECT_EQ(r.k->task_stats().sigsegv, 1u);
  EXPECT_EQ(r.k->nr_tasks(), 0u);
  EXPECT_EQ(r.k->schedule(r.cpu()).pid, -1);
  EXPECT_EQ(r.k->nr_free_pages(), boot_free);
  // The CPU left the dead address space.
  EXPECT_EQ(r.cpu().read_cr3() & x86::phys_mask(46), r.k->kernel_root());
}

INSTANTIATE_TEST_SUITE_P(
    cases, fw_fault_segv,
    ::testing::Values(SegvCase{"unmapped", PROT_READ, INT64_MIN, x86::Access::read, "no mapping"},
                      SegvCase{"write_ro", PROT_READ, 0, x86::Access::write, "without PROT_WRITE"},
                      SegvCase{"prot_none", fw::PROT_NONE, 0, x86::Access::read, "PROT_NONE"},
                      SegvCase{"exec_nx", PROT_READ | PROT_WRITE, 8, x86::Access::fetch, "without PROT_EXEC"},
                      SegvCase{"past_end", PROT_READ | PROT_WRITE, 4 * 4096 + 4096 * 16, x86::Access::read,
                               "no mapping"}),
    [](const ::testing::TestParamInfo<SegvCase>& i) { return std::string(i.param.name); });

TEST(fw_fault, write_after_read_on_present_read_only_page_is_segv) {
  Rig r(spec_mb(64));
  r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE, PROT_READ));
  ASSERT_NE(r.access(0, a, x86::Access::read), ~0ull);
  const uint64_t faults = r.k->vmstat().event[fw::PGFAULT];
  EXPECT_EQ(r.access(0, a, x86::Access::write), ~0ull);
  EXPECT_EQ(r.k->vmstat().event[fw::PGFAULT], faults + 1);
  EXPECT_EQ(r.k->memory().stats().accerr, 1u);
}

TEST(fw_fault, kernel_addresses_and_bad_entries_kill) {
  Rig r(spec_mb(64));
  r.start_process(0, "a");
  // A user access to the direct map: the walker reports a protection fault.
  EXPECT_EQ(r.access(0, fw::PAGE_OFFSET_L4 + 0x100000, x86::Access::read), ~0ull);
  EXPECT_NE(r.console().find("outside the user address space"), std::string::npos);
  // A reserved-bit fault: SIGKILL (Linux's pgtable_bad).
  r.start_process(0, "b");
  EXPECT_EQ(r.k->page_fault(r.cpu(), 0x10000, x86::PF_U | x86::PF_P | x86::PF_RSVD), hal::TrapOutcome::task_killed);
  EXPECT_EQ(r.k->task_stats().sigkill, 1u);
  // A supervisor-mode fault on a user address.
  r.start_process(0, "c");
  const uint64_t m = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE));
  EXPECT_EQ(r.k->page_fault(r.cpu(), m, x86::PF_W), hal::TrapOutcome::task_killed);
  EXPECT_EQ(r.k->task_stats().sigkill, 2u);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_fault, spurious_fault_is_retried_without_a_new_page) {
  Rig r(spec_mb(64));
  r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE));
  ASSERT_NE(r.access(0, a), ~0ull);
  const uint64_t free = r.k->nr_free_pages();
  // As if a stale TLB entry faulted: the PTE already allows the access.
  EXPECT_EQ(r.k->page_fault(r.cpu(), a, x86::PF_U | x86::PF_W | x86::PF_P), hal::TrapOutcome::retry);
  EXPECT_EQ(r.k->memory().stats().spurious, 1u);
  EXPECT_EQ(r.k->nr_free_pages(), free);
}

TEST(fw_fault, out_of_memory_kills_and_recovers) {
  Rig r(spec_mb(32));
  r.start_process(0, "hog");
  const uint64_t boot_free = r.k->boot_free_pages();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 64 * MiB));
  uint64_t touched = 0;
  for (uint64_t off = 0; off < 64 * MiB; off += PAGE_SIZE, ++touched)
    if (r.access(0, a + off) == ~0ull) break;
  EXPECT_LT(touched, 64 * MiB / PAGE_SIZE);
  EXPECT_GT(touched, boot_free / 2);
  EXPECT_NE(r.console().find("Out of memory: Killed process 1 (hog)"), std::string::npos) << r.console();
  EXPECT_EQ(r.k->task_stats().sigkill, 1u);
  EXPECT_EQ(r.k->nr_free_pages(), boot_free);
  // User allocations stop at the min watermarks: the reserves stay.
  uint64_t min_wmarks = 0;
  for (unsigned z = 0; z < fw::MAX_NR_ZONES; ++z) min_wmarks += r.k->nodes().node(0).node_zones[z]._watermark[fw::WMARK_MIN];
  EXPECT_LE(r.k->buddy().min_free_pages(), min_wmarks);
  EXPECT_GT(r.k->buddy().min_free_pages(), 0u);
  // The machine carries on.
  r.start_process(0, "next");
  const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, MiB));
  EXPECT_NE(r.access(0, b), ~0ull);
}

TEST(fw_fault, poisoned_free_page_is_never_mapped) {
  Rig r(spec_mb(64));
  r.start_process();
  // The page the next fault would get: allocate, note, free (LIFO).
  fw::page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE, 0);
  const uint64_t ppa = r.k->nodes().page_to_phys(p);
  r.k->page_alloc().free_pages(r.cpu(), p, 0);
  r.m->inject_poison(ppa + 512);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE));
  const uint64_t pa = r.access(0, a);
  ASSERT_NE(pa, ~0ull);
  EXPECT_NE(pa & ~(PAGE_SIZE - 1), ppa);
  EXPECT_EQ(r.k->vmstat().node_total(fw::NR_HWPOISON), 1);
  EXPECT_NE(r.proc("meminfo").find("HardwareCorrupted:     4 kB"), std::string::npos) << r.proc("meminfo");
}

TEST(fw_fault, machine_check_on_user_data_kills_with_sigbus_and_retires_the_page) {
  Rig r(spec_mb(64));
  const uint64_t boot_free = r.k->nr_free_pages();
  const int pid = r.start_process(0, "reader");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * PAGE_SIZE));
  const uint64_t pa = r.access(0, a);
  ASSERT_NE(r.access(0, a + PAGE_SIZE), ~0ull);
  r.m->inject_poison(pa);
  hal::MachineCheck mc = consumed(pa, a);
  EXPECT_EQ(r.k->machine_check(r.cpu(), mc), hal::TrapOutcome::task_killed);
  char want[128];
  std::snprintf(want, sizeof want, "Memory failure: %#lx: Sending SIGBUS to reader:%d", static_cast<unsigned long>(pa >> 12),
                pid);
  EXPECT_NE(r.console().find(want), std::string::npos) << r.console();
  EXPECT_EQ(r.k->task_stats().sigbus, 1u);
  // Everything came back except the poisoned page.
  EXPECT_EQ(r.k->nr_free_pages(), boot_free - 1);
  EXPECT_TRUE(fw::PageHWPoison(r.k->nodes().phys_to_page(pa)));
  // A scrub finding (action optional) kills nobody.
  r.start_process(0, "other");
  mc.action_required = false;
  EXPECT_EQ(r.k->machine_check(r.cpu(), mc), hal::TrapOutcome::retry);
  EXPECT_EQ(r.k->nr_tasks(), 1u);
}

TEST(fw_fault, machine_check_in_a_page_table_kills_and_teardown_survives) {
  Rig r(spec_mb(64));
  const uint64_t boot_free = r.k->nr_free_pages();
  const int pid = r.start_process(0, "walker");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 8 * PAGE_SIZE));
  for (int i = 0; i < 8; ++i) ASSERT_NE(r.access(0, a + i * PAGE_SIZE), ~0ull);
  // Poison the page table (level 1) that maps the range, at the first PTE.
  std::vector<uint64_t> ptes;
  for (int i = 0; i < 8; ++i) {
    fw::PteLookup l;
    ASSERT_TRUE(r.k->translate(r.cpu(), pid, a + i * PAGE_SIZE, &l));
    ptes.push_back(l.entry_pa);
  }
  const uint64_t pte_pa = ptes[0];
  r.m->inject_poison(pte_pa);
  // The PTEs in the poisoned 64-byte line can no longer be read: their
  // pages are lost with the table page itself.
  uint64_t lost = 1;
  for (uint64_t e : ptes) lost += e / 64 == pte_pa / 64;
  EXPECT_GE(lost, 2u);
  hal::MachineCheck mc{};
  mc.pa = pte_pa;
  mc.action_required = true;
  mc.in_page_walk = true;
  EXPECT_EQ(r.k->machine_check(r.cpu(), mc), hal::TrapOutcome::task_killed);
  EXPECT_EQ(r.k->nr_tasks(), 0u);
  EXPECT_EQ(r.k->mce_stats().in_page_walk, 1u);
  EXPECT_GT(r.k->pgtable().stats().read_errors, 0u);
  // Everything else came back, and the machine carries on.
  EXPECT_EQ(r.k->nr_free_pages(), boot_free - lost);
  r.start_process(0, "after");
  const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE));
  EXPECT_NE(r.access(0, b), ~0ull);
}

}  // namespace
