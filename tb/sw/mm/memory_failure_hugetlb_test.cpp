// memory_failure() and soft offline of hugetlb pages and THPs on the host
// HAL, as Linux 6.18 handles them: a free pool page dissolved minus its bad
// 4 KiB page ("free huge page"); a page in use unmapped with huge hwpoison
// entries, its mappers killed early or late with si_addr_lsb 21 (2 MiB) or
// 30 (1 GiB), and dissolved once free ("huge page"); a consumed error
// (#MC) in a hugetlb page; soft offline moving a huge page's data to
// another and shrinking the pool by one; a THP split before its bad page is
// handled ("unsplit thp" when it cannot be), and split before soft offline
// ("thp split failed").
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "sw/lib/errno.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/memory_failure.h"
#include "tb/sw/mm/consumed_error.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

constexpr uint64_t RW = fw::PROT_READ | fw::PROT_WRITE;
constexpr uint64_t PA = fw::MAP_PRIVATE | fw::MAP_ANONYMOUS;
constexpr uint64_t SA = fw::MAP_SHARED | fw::MAP_ANONYMOUS;
constexpr uint64_t H2 = fw::MAP_HUGETLB | fw::MAP_HUGE_2MB;
constexpr uint64_t H1 = fw::MAP_HUGETLB | fw::MAP_HUGE_1GB;
constexpr uint64_t M2 = 2ull << 20;

fw::Params huge_params(uint64_t n2m, uint64_t n1g = 0) {
  fw::Params p = quiet_params();
  p.hugepages_2m = n2m;
  p.hugepages_1g = n1g;
  return p;
}

std::string hex(uint64_t v) {
  char s[32];
  std::snprintf(s, sizeof s, "%#lx", static_cast<unsigned long>(v));
  return s;
}
std::string result_line(uint64_t pfn, const char* type, const char* result) {
  return "Memory failure: " + hex(pfn) + ": recovery action for " + type + ": " + result;
}
bool has(const std::string& text, const std::string& s) { return text.find(s) != std::string::npos; }

uint64_t meminfo(Rig& r, const char* key) {
  const std::string m = r.proc("meminfo");
  const size_t at = m.find(std::string(key) + ":");
  EXPECT_NE(at, std::string::npos) << key;
  return at == std::string::npos ? ~0ull : std::stoull(m.substr(at + std::strlen(key) + 1));
}

fw::MemoryFailure& mf(Rig& r) { return r.k->memory_failure(); }
const fw::hstate& hs2(Rig& r) { return r.k->hugetlb().hs(0); }
const fw::hstate& hs1(Rig& r) { return r.k->hugetlb().hs(1); }

// The first free pool page of node 0's list.
fw::page* free_pool_page(Rig& r, const fw::hstate& hs) {
  const fw::list_head* l = hs.hugepage_freelists[0].next;
  EXPECT_NE(l, &hs.hugepage_freelists[0]) << "no free huge page";
  return list_entry(const_cast<fw::list_head*>(l), fw::page, lru);
}

// Writes a value naming each 4 KiB page of [a, a+len) at its offset 8.
void fill(Rig& r, uint64_t a, uint64_t len) {
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) r.write64(r.access(0, a + off) + 8, (a + off) ^ 0x5a5a);
}
void verify(Rig& r, uint64_t a, uint64_t len) {
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const uint64_t pa = r.access(0, a + off, x86::Access::read);
    ASSERT_NE(pa, ~0ull) << std::hex << a + off;
    ASSERT_EQ(r.read64(pa + 8), (a + off) ^ 0x5a5a) << std::hex << a + off;
  }
}

TEST(fw_memory_failure_hugetlb, free_huge_page_is_dissolved_without_its_bad_page) {
  Rig r(spec_mb(64), huge_params(4));
  fw::page* head = free_pool_page(r, hs2(r));
  const uint64_t hpfn = r.k->nodes().page_to_pfn(head);
  const uint64_t pfn = hpfn + 5;
  const uint64_t free0 = r.k->nr_free_pages();
  EXPECT_EQ(mf(r).memory_failure(r.cpu(), pfn, 0), 0);
  EXPECT_TRUE(has(r.console(), result_line(pfn, "free huge page", "Recovered"))) << r.console();
  // The pool lost the page; the buddy allocator got 511 of its 512.
  EXPECT_EQ(hs2(r).nr_huge_pages, 3u);
  EXPECT_EQ(hs2(r).free_huge_pages, 3u);
  EXPECT_EQ(meminfo(r, "HugePages_Total"), 3u);
  EXPECT_EQ(meminfo(r, "HugePages_Free"), 3u);
  EXPECT_EQ(r.k->nr_free_pages(), free0 + 511);
  fw::page* bad = r.k->nodes().pfn_to_page(pfn);
  EXPECT_TRUE(fw::PageHWPoison(bad));
  EXPECT_EQ(fw::page_ref_count(bad), 1) << "kept by memory_failure() for ever";
  EXPECT_FALSE(fw::PageHWPoison(head)) << "the error moved to the bad page";
  EXPECT_FALSE(fw::PageHead(head));
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 4u);
  EXPECT_EQ(mf(r).num_poisoned_pages(), 1u);
  EXPECT_EQ(mf(r).node_stats(0).recovered, 1u);
  EXPECT_EQ(mf(r).node_stats(0).total, 1u);
  hugetlb_check(*r.k);
  full_check(*r.k, {});
  // The bad page again: a plain poisoned page now.
  EXPECT_EQ(mf(r).memory_failure(r.cpu(), pfn, 0), -EHWPOISON);
  EXPECT_TRUE(has(r.console(), result_line(pfn, "already poisoned page", "Failed")));
  EXPECT_EQ(mf(r).node_stats(0).total, 1u);
}

TEST(fw_memory_failure_hugetlb, free_huge_page_promised_to_a_reservation_stays_poisoned_in_the_pool) {
  Rig r(spec_mb(64), huge_params(2));
  r.start_process();
  // Both pages reserved by a mapping nobody touched yet.
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 2 * M2, RW, PA | H2));
  ASSERT_LT(a, ~0ull - 4096);
  EXPECT_EQ(hs2(r).resv_huge_pages, 2u);
  fw::page* head = free_pool_page(r, hs2(r));
  const uint64_t pfn = r.k->nodes().page_to_pfn(head);
  EXPECT_EQ(mf(r).memory_failure(r.cpu(), pfn, 0), -EBUSY);
  EXPECT_TRUE(has(r.console(), result_line(pfn, "free huge page", "Failed"))) << r.console();
  EXPECT_EQ(hs2(r).nr_huge_pages, 2u);
  EXPECT_TRUE(fw::PageHWPoison(head));
  // The other page is given; the poisoned one never is.
  const uint64_t pa = r.access(0, a);
  EXPECT_NE(pa >> 21, (pfn << 12) >> 21);
  hugetlb_check(*r.k);
}

struct HugeProc {
  int pid;
  uint64_t va;
  uint64_t pfn;  // the first huge page's head
};
HugeProc huge_proc(Rig& r, uint64_t size, uint64_t flags, uint64_t page_size) {
  HugeProc p{};
  p.pid = r.start_process(0, "huge");
  p.va = static_cast<uint64_t>(r.mmap(0, 0, size, RW, flags));
  EXPECT_EQ(p.va % page_size, 0u);
  fill(r, p.va, size);
  p.pfn = r.access(0, p.va, x86::Access::read) >> 12;
  return p;
}

TEST(fw_memory_failure_hugetlb, in_use_huge_page_late_kill_then_dissolved) {
  Rig r(spec_mb(64), huge_params(4));
  const HugeProc p = huge_proc(r, 2 * M2, PA | H2, M2);
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  const uint64_t pfn = p.pfn + 3;
  EXPECT_EQ(mf(r).memory_failure(r.cpu(), pfn, 0), 0);
  EXPECT_TRUE(has(r.console(), result_line(pfn, "huge page", "Recovered"))) << r.console();
  EXPECT_EQ(r.m->delivered().size(), 0u) << "late kill";
  // Unmapped, then dissolved: the pool has three pages, two free.
  EXPECT_EQ(hs2(r).nr_huge_pages, 3u);
  EXPECT_EQ(hs2(r).free_huge_pages, 2u);
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 4u);
  EXPECT_TRUE(fw::PageHWPoison(r.k->nodes().pfn_to_page(pfn)));
  EXPECT_FALSE(fw::PageHWPoison(r.k->nodes().pfn_to_page(p.pfn))) << "only the bad page keeps the flag";
  hugetlb_check(*r.k);
  mapping_check(*r.k, r.cpu());
  // A touch anywhere in the huge page: BUS_MCEERR_AR at the exact address, lsb 21.
  const uint64_t at = p.va + 0x12345;
  EXPECT_EQ(r.k->page_fault(r.cpu(), at, x86::PF_U), hal::TrapOutcome::skip);
  ASSERT_EQ(r.m->delivered().size(), 1u);
  EXPECT_EQ(r.m->delivered()[0].si.code, uapi::kBusMceerrAr);
  EXPECT_EQ(r.m->delivered()[0].si.addr, at);
  EXPECT_EQ(r.m->delivered()[0].si.addr_lsb, 21u);
  EXPECT_TRUE(has(r.console(), "MCE: Killing huge:" + std::to_string(p.pid) +
                                   " due to hardware memory corruption fault at " + hex(at).substr(2)))
      << r.console();
  // The other huge page keeps its data.
  verify(r, p.va + M2, M2);
  // munmap takes the poisoned leaf away; the pool is whole again (3 pages, all free).
  EXPECT_EQ(r.munmap(0, p.va, 2 * M2), 0);
  EXPECT_EQ(hs2(r).free_huge_pages, 3u);
  hugetlb_check(*r.k);
  full_check(*r.k, {});
}

TEST(fw_memory_failure_hugetlb, early_kill_gets_bus_mceerr_ao_with_lsb_21) {
  Rig r(spec_mb(64), huge_params(2));
  const HugeProc p = huge_proc(r, M2, PA | H2, M2);
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  ASSERT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKill, uapi::kPrMceKillSet, uapi::kPrMceKillEarly), 0);
  EXPECT_EQ(mf(r).memory_failure(r.cpu(), p.pfn + 7, 0), 0);
  EXPECT_TRUE(has(r.console(), "Memory failure: " + hex(p.pfn + 7) + ": Sending SIGBUS to huge:" +
                                   std::to_string(p.pid) + " due to hardware memory corruption"))
      << r.console();
  ASSERT_EQ(r.m->delivered().size(), 1u);
  EXPECT_EQ(r.m->delivered()[0].si.code, uapi::kBusMceerrAo);
  EXPECT_EQ(r.m->delivered()[0].si.addr, p.va + 7 * PAGE_SIZE) << "the bad page's address in the huge page";
  EXPECT_EQ(r.m->delivered()[0].si.addr_lsb, 21u);
}

TEST(fw_memory_failure_hugetlb, consumed_error_in_a_huge_page_is_action_required) {
  for (bool handler : {false, true}) {
    Rig r(spec_mb(64), huge_params(2));
    const HugeProc p = huge_proc(r, M2, PA | H2, M2);
    if (handler) {
      ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
    }
    const uint64_t off = 0x45040;
    const hal::TrapOutcome o = r.k->machine_check(r.cpu(), consumed((p.pfn << 12) + off, p.va + off));
    EXPECT_TRUE(has(r.console(), result_line(p.pfn + (off >> 12), "huge page", "Recovered"))) << r.console();
    EXPECT_EQ(hs2(r).nr_huge_pages, 1u);
    if (!handler) {
      EXPECT_EQ(o, hal::TrapOutcome::task_killed);
      EXPECT_EQ(r.k->nr_tasks(), 0u);
      EXPECT_EQ(hs2(r).free_huge_pages, 1u);
      hugetlb_check(*r.k);
      continue;
    }
    EXPECT_EQ(o, hal::TrapOutcome::skip);
    ASSERT_EQ(r.m->delivered().size(), 1u);
    EXPECT_EQ(r.m->delivered()[0].si.code, uapi::kBusMceerrAr);
    EXPECT_EQ(r.m->delivered()[0].si.addr, p.va + (off & ~0xfffull));
    EXPECT_EQ(r.m->delivered()[0].si.addr_lsb, 21u);
    EXPECT_EQ(r.k->page_fault(r.cpu(), p.va + 8, x86::PF_U), hal::TrapOutcome::skip);
    ASSERT_EQ(r.m->delivered().size(), 2u);
    EXPECT_EQ(r.m->delivered()[1].si.addr, p.va + 8);
    EXPECT_EQ(r.m->delivered()[1].si.addr_lsb, 21u);
    EXPECT_EQ(mf(r).num_poisoned_pages(), 1u);
  }
}

TEST(fw_memory_failure_hugetlb, shared_huge_page_stays_in_its_object_and_faults_poisoned) {
  Rig r(spec_mb(64), huge_params(2));
  const HugeProc p = huge_proc(r, M2, SA | H2, M2);
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  EXPECT_EQ(mf(r).memory_failure(r.cpu(), p.pfn + 1, 0), 0);
  EXPECT_TRUE(has(r.console(), result_line(p.pfn + 1, "huge page", "Recovered"))) << r.console();
  EXPECT_EQ(hs2(r).nr_huge_pages, 2u) << "kept in the object, as 6.18";
  mapping_check(*r.k, r.cpu());
  // A second bad 4 KiB page of the poisoned folio: already poisoned (one
  // failure of the folio), but a bad page more in num_poisoned_pages and
  // HardwareCorrupted; the same page a third time counts nothing.
  EXPECT_EQ(mf(r).memory_failure(r.cpu(), p.pfn + 2, 0), -EHWPOISON);
  EXPECT_EQ(mf(r).num_poisoned_pages(), 2u);
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 8u);
  EXPECT_EQ(mf(r).node_stats(0).total, 1u);
  EXPECT_EQ(mf(r).memory_failure(r.cpu(), p.pfn + 2, 0), -EHWPOISON);
  EXPECT_EQ(mf(r).num_poisoned_pages(), 2u);
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 8u);
  EXPECT_EQ(r.m->delivered().size(), 0u) << "no access required: no signal";
  EXPECT_EQ(r.k->page_fault(r.cpu(), p.va + 0x100, x86::PF_U), hal::TrapOutcome::skip);
  ASSERT_EQ(r.m->delivered().size(), 1u);
  EXPECT_EQ(r.m->delivered()[0].si.addr_lsb, 21u);
  // The leaf zapped, the next fault finds the poisoned page in the object.
  EXPECT_EQ(r.madvise(0, p.va, M2, uapi::kMadvDontneed), 0);
  EXPECT_EQ(r.k->page_fault(r.cpu(), p.va + 0x2000, x86::PF_U), hal::TrapOutcome::skip);
  ASSERT_EQ(r.m->delivered().size(), 2u);
  EXPECT_EQ(r.m->delivered()[1].si.addr, p.va + 0x2000);
  EXPECT_EQ(r.m->delivered()[1].si.addr_lsb, 21u);
  EXPECT_EQ(r.munmap(0, p.va, M2), 0);
  hugetlb_check(*r.k);
}

TEST(fw_memory_failure_hugetlb, gigantic_page_in_use_signals_lsb_30_and_is_dissolved) {
  Rig r(spec_mb(3072), huge_params(0, 1));
  ASSERT_EQ(hs1(r).nr_huge_pages, 1u);
  r.start_process(0, "giga");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 1ull << 30, RW, PA | H1));
  ASSERT_EQ(a % (1ull << 30), 0u);
  const uint64_t pa = r.access(0, a + 0x3000);
  r.write64(pa, 42);
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  const uint64_t free0 = r.k->nr_free_pages();
  const hal::TrapOutcome o = r.k->machine_check(r.cpu(), consumed(pa, a + 0x3000));
  EXPECT_EQ(o, hal::TrapOutcome::skip);
  EXPECT_TRUE(has(r.console(), result_line(pa >> 12, "huge page", "Recovered"))) << r.console();
  ASSERT_EQ(r.m->delivered().size(), 1u);
  EXPECT_EQ(r.m->delivered()[0].si.addr, a + 0x3000);
  EXPECT_EQ(r.m->delivered()[0].si.addr_lsb, 30u);
  EXPECT_EQ(hs1(r).nr_huge_pages, 0u);
  EXPECT_EQ(r.k->nr_free_pages(), free0 + (1ull << 18) - 1);
  EXPECT_EQ(r.k->page_fault(r.cpu(), a + (5ull << 20), x86::PF_U), hal::TrapOutcome::skip);
  ASSERT_EQ(r.m->delivered().size(), 2u);
  EXPECT_EQ(r.m->delivered()[1].si.addr_lsb, 30u);
  hugetlb_check(*r.k);
}

TEST(fw_soft_offline_hugetlb, in_use_huge_page_moves_and_the_pool_shrinks_by_one) {
  Rig r(spec_mb(64), huge_params(4));
  const HugeProc p = huge_proc(r, 2 * M2, PA | H2, M2);
  const uint64_t pfn = p.pfn + 9;
  ASSERT_EQ(r.madvise(0, p.va + 9 * PAGE_SIZE, PAGE_SIZE, uapi::kMadvSoftOffline), 0) << r.console();
  EXPECT_TRUE(has(r.console(), "Soft offlining pfn " + hex(pfn) + " at process virtual address " +
                                   hex(p.va + 9 * PAGE_SIZE)))
      << r.console();
  // Same data at another huge page; the old one left the pool without its bad page.
  const uint64_t npfn = r.access(0, p.va, x86::Access::read) >> 12;
  EXPECT_NE(npfn, p.pfn);
  verify(r, p.va, 2 * M2);
  EXPECT_EQ(hs2(r).nr_huge_pages, 3u);
  EXPECT_EQ(hs2(r).free_huge_pages, 1u);
  EXPECT_TRUE(fw::PageHWPoison(r.k->nodes().pfn_to_page(pfn)));
  EXPECT_EQ(fw::page_ref_count(r.k->nodes().pfn_to_page(pfn)), 1);
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 4u);
  EXPECT_EQ(mf(r).node_stats(0).total, 0u) << "soft offline counts no memory_failure() outcome";
  EXPECT_EQ(r.m->delivered().size(), 0u);
  hugetlb_check(*r.k);
  mapping_check(*r.k, r.cpu());
  full_check(*r.k, {});
}

TEST(fw_soft_offline_hugetlb, shared_huge_page_moves_in_its_object_too) {
  // The selftests' hugetlb-soft-offline case maps a hugetlbfs file shared.
  Rig r(spec_mb(64), huge_params(4));
  const HugeProc p = huge_proc(r, M2, SA | H2, M2);
  ASSERT_EQ(r.madvise(0, p.va + PAGE_SIZE, PAGE_SIZE, uapi::kMadvSoftOffline), 0) << r.console();
  EXPECT_NE(r.access(0, p.va, x86::Access::read) >> 12, p.pfn);
  verify(r, p.va, M2);
  EXPECT_EQ(hs2(r).nr_huge_pages, 3u);
  EXPECT_EQ(hs2(r).free_huge_pages, 2u);
  // The leaf zapped, the next fault maps the object's page: the new one.
  EXPECT_EQ(r.madvise(0, p.va, M2, uapi::kMadvDontneed), 0);
  verify(r, p.va, M2);
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 4u);
  hugetlb_check(*r.k);
  mapping_check(*r.k, r.cpu());
  EXPECT_EQ(r.munmap(0, p.va, M2), 0);
  EXPECT_EQ(hs2(r).free_huge_pages, 3u) << "the object's page freed at the last unmap";
  hugetlb_check(*r.k);
  full_check(*r.k, {});
}

TEST(fw_soft_offline_hugetlb, free_huge_page_is_dissolved_and_a_full_pool_refuses) {
  Rig r(spec_mb(64), huge_params(2));
  fw::page* head = free_pool_page(r, hs2(r));
  const uint64_t pfn = r.k->nodes().page_to_pfn(head) + 1;
  EXPECT_EQ(mf(r).soft_offline_page(r.cpu(), pfn, 0), 0) << r.console();
  EXPECT_EQ(hs2(r).nr_huge_pages, 1u);
  EXPECT_TRUE(fw::PageHWPoison(r.k->nodes().pfn_to_page(pfn)));
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 4u);
  hugetlb_check(*r.k);
  full_check(*r.k, {});
  // The last huge page in use and no other to move to: migration fails, nothing lost.
  const HugeProc p = huge_proc(r, M2, PA | H2, M2);
  EXPECT_EQ(r.madvise(0, p.va, PAGE_SIZE, uapi::kMadvSoftOffline), -ENOMEM) << r.console();
  EXPECT_TRUE(has(r.console(), "Soft offline: " + hex(p.pfn) + ": hugepage migration failed -12")) << r.console();
  verify(r, p.va, M2);
  EXPECT_EQ(hs2(r).nr_huge_pages, 1u);
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 4u);
}

// ---- THP ----

fw::Params thp_params() {
  fw::Params p = quiet_params();
  p.transparent_hugepage = fw::THP_ALWAYS;
  return p;
}

struct Thp {
  int pid;
  uint64_t va;
  uint64_t pfn;
};
Thp thp_proc(Rig& r) {
  Thp t{};
  t.pid = r.start_process(0, "thp");
  t.va = static_cast<uint64_t>(r.mmap(0, 0, 2 * M2));
  t.va = (t.va + M2 - 1) & ~(M2 - 1);
  fill(r, t.va, M2);
  fw::PteLookup l;
  EXPECT_TRUE(r.k->translate(r.cpu(), t.pid, t.va, &l));
  EXPECT_EQ(l.level, x86::LEVEL_PD) << "a THP maps it";
  t.pfn = r.access(0, t.va, x86::Access::read) >> 12;
  return t;
}

TEST(fw_memory_failure_thp, consumed_error_splits_the_thp_and_loses_one_page) {
  Rig r(spec_mb(64), thp_params());
  const Thp t = thp_proc(r);
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  const uint64_t off = 17 * PAGE_SIZE + 0x80;
  EXPECT_EQ(r.k->machine_check(r.cpu(), consumed((t.pfn << 12) + off, t.va + off)), hal::TrapOutcome::skip);
  EXPECT_TRUE(has(r.console(), result_line(t.pfn + 17, "dirty LRU page", "Recovered"))) << r.console();
  ASSERT_EQ(r.m->delivered().size(), 1u);
  EXPECT_EQ(r.m->delivered()[0].si.addr, t.va + 17 * PAGE_SIZE);
  EXPECT_EQ(r.m->delivered()[0].si.addr_lsb, 12u) << "split first: a 4 KiB page";
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 4u);
  // Every other page keeps its data, now mapped by PTEs.
  verify(r, t.va, 17 * PAGE_SIZE);
  verify(r, t.va + 18 * PAGE_SIZE, M2 - 18 * PAGE_SIZE);
  EXPECT_EQ(r.k->page_fault(r.cpu(), t.va + 17 * PAGE_SIZE + 8, x86::PF_U), hal::TrapOutcome::skip);
  EXPECT_EQ(r.m->delivered()[1].si.addr_lsb, 12u);
  mapping_check(*r.k, r.cpu());
}

TEST(fw_memory_failure_thp, a_thp_that_cannot_split_is_unsplit_thp_and_its_mappers_hear_of_it) {
  Rig r(spec_mb(64), thp_params());
  const Thp t = thp_proc(r);
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  ASSERT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKill, uapi::kPrMceKillSet, uapi::kPrMceKillEarly), 0);
  fw::page* head = r.k->nodes().pfn_to_page(t.pfn);
  fw::SetPageFlag(head, fw::PG_locked);  // someone else is splitting it
  EXPECT_EQ(mf(r).memory_failure(r.cpu(), t.pfn + 2, 0), -EHWPOISON);
  EXPECT_TRUE(has(r.console(), result_line(t.pfn + 2, "unsplit thp", "Failed"))) << r.console();
  ASSERT_EQ(r.m->delivered().size(), 1u) << "kill_procs_now: the early-kill mappers, whatever the data";
  EXPECT_EQ(r.m->delivered()[0].si.code, uapi::kBusMceerrAo);
  EXPECT_EQ(r.m->delivered()[0].si.addr, t.va + 2 * PAGE_SIZE);
  EXPECT_EQ(r.m->delivered()[0].si.addr_lsb, 21u);
  EXPECT_EQ(mf(r).node_stats(0).failed, 1u);
  fw::ClearPageFlag(head, fw::PG_locked);
}

TEST(fw_soft_offline_thp, a_thp_is_split_first_and_thp_split_failed_when_it_cannot) {
  Rig r(spec_mb(64), thp_params());
  const Thp t = thp_proc(r);
  fw::page* head = r.k->nodes().pfn_to_page(t.pfn);
  fw::SetPageFlag(head, fw::PG_locked);
  EXPECT_EQ(r.madvise(0, t.va + 3 * PAGE_SIZE, PAGE_SIZE, uapi::kMadvSoftOffline), -EBUSY);
  EXPECT_TRUE(has(r.console(), "Soft offline: " + hex(t.pfn + 3) + ": thp split failed")) << r.console();
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 0u);
  fw::ClearPageFlag(head, fw::PG_locked);
  ASSERT_EQ(r.madvise(0, t.va + 3 * PAGE_SIZE, PAGE_SIZE, uapi::kMadvSoftOffline), 0) << r.console();
  EXPECT_TRUE(fw::PageHWPoison(r.k->nodes().pfn_to_page(t.pfn + 3)));
  EXPECT_NE(r.access(0, t.va + 3 * PAGE_SIZE, x86::Access::read) >> 12, t.pfn + 3);
  EXPECT_EQ(meminfo(r, "HardwareCorrupted"), 4u);
  verify(r, t.va, M2);
  mapping_check(*r.k, r.cpu());
}

}  // namespace
