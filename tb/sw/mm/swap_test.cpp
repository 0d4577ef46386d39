// Swap on the host HAL with a RAM disk as the swap device: swapon of an
// mkswap header (and its refusal without one), /proc/swaps and meminfo,
// pages swapped out by the reclaim sequence (add_to_swap, the PTEs turned
// into swap entries as try_to_unmap does, swap_writepage,
// delete_from_swap_cache) and faulted back with their data, readahead of
// the cluster, slot counts through fork, mprotect, MADV_DONTNEED, munmap
// and exit, gup on a swapped page, I/O errors both ways, shadows, full swap.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "sw/drivers/block/brd.h"
#include "sw/mm/gup.h"
#include "sw/mm/lru.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/shmem.h"
#include "sw/mm/swap_state.h"
#include "sw/mm/mkswap.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmstat.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

namespace fwtest {
namespace {

// The first page mkswap writes: version 1, last_page, the magic at 4086.
std::vector<uint8_t> mkswap_header(uint64_t bytes) {
  std::vector<uint8_t> hdr(fw::PAGE_SIZE, 0);
  fw::mkswap_header(hdr.data(), bytes);
  return hdr;
}

struct SwapRig {
  explicit SwapRig(uint64_t swap_mib = 16, fw::Params p = quiet_params(), uint64_t mem_mib = 128)
      : r(spec_mb(mem_mib), p) {
    disk = fw::brd_create(r.cpu(), &r.k->ctx(), "swap0", swap_mib * MiB, 512);
    EXPECT_NE(disk, nullptr);
    const std::vector<uint8_t> hdr = mkswap_header(swap_mib * MiB);
    EXPECT_TRUE(fw::brd_write(r.cpu(), disk, 0, hdr.data(), hdr.size()));
    EXPECT_EQ(sf().swapon(r.cpu(), &disk->bdev), 0) << r.console();
    pid = r.start_process(0);
  }
  fw::Swapfile& sf() { return r.k->swapfile(); }
  fw::SwapCache& sc() { return r.k->swap_cache(); }
  fw::mm_struct* mm() { return r.k->mm_of(pid); }
  uint64_t node(unsigned item) { return static_cast<uint64_t>(r.k->vmstat().node_total(item)); }
  uint64_t event(unsigned item) { return r.k->vmstat().event[item]; }
  uint64_t stat(const char* n) { return r.stats().at(n); }
  uint64_t pte_pa(fw::mm_struct* m, uint64_t va) {
    uint64_t epa = 0;
    EXPECT_EQ(r.k->pgtable().walk_to(r.cpu(), m->pgd, va, x86::LEVEL_PT, false, 0, false, &epa), 0);
    return epa;
  }
  uint64_t pte(fw::mm_struct* m, uint64_t va) {
    uint64_t e = 0;
    EXPECT_TRUE(r.k->pgtable().read_entry(r.cpu(), pte_pa(m, va), &e));
    return e;
  }
  void store(uint64_t va, uint64_t v) { r.write64(r.access(0, va, x86::Access::write), v); }
  // n private pages, page i holding first + i in its first word.
  uint64_t map_filled(uint64_t n, uint64_t first) {
    const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, n * PAGE_SIZE));
    for (uint64_t i = 0; i < n; ++i) store(a + i * PAGE_SIZE, first + i);
    return a;
  }
  // The first n pages at a swapped out, in order; their entries.
  std::vector<fw::swp_entry_t> swap_out_range(uint64_t a, uint64_t n) {
    std::vector<fw::swp_entry_t> e;
    for (uint64_t i = 0; i < n; ++i) e.push_back(swap_out({mm()}, a + i * PAGE_SIZE));
    return e;
  }
  uint64_t load(uint64_t va) { return r.read64(r.access(0, va, x86::Access::read)); }

  // What reclaim does to one anonymous page mapped at va in each of `mms`:
  // a slot and the swap cache, every PTE a swap entry holding a reference
  // (try_to_unmap), the write, and the page out of the cache (with shadow).
  fw::swp_entry_t swap_out(const std::vector<fw::mm_struct*>& mms, uint64_t va, uint64_t shadow = 0) {
    hal::Hal& h = r.cpu();
    fw::page* p = r.k->nodes().phys_to_page(pte(mms[0], va) & r.k->pgtable().phys_mask());
    EXPECT_NE(p, nullptr);
    if (!p) return fw::swp_entry_t{0};
    fw::get_page(p);  // reclaim's isolation reference
    EXPECT_TRUE(sc().add_to_swap(h, p));
    const fw::swp_entry_t e{p->private_};
    for (fw::mm_struct* m : mms) {
      const uint64_t epa = pte_pa(m, va);
      uint64_t old = 0;
      r.k->pgtable().read_entry(h, epa, &old);
      r.k->pgtable().write_entry(h, epa, fw::swp_entry_to_pte(e));
      r.k->tlb().flush_tlb_page(h, m, va);
      if (old & x86::PTE_D) fw::SetPageFlag(p, fw::PG_dirty);
      EXPECT_EQ(sf().swap_duplicate(h, e), 0);
      ++m->swapents;
      --m->rss_anon;
      r.k->rmap().page_remove_rmap(p);
      r.k->page_alloc().put_page(h, p);  // the mapping's reference
    }
    EXPECT_EQ(sc().swap_writepage(h, p), 0);
    EXPECT_FALSE(fw::PageFlag(p, fw::PG_writeback));  // the RAM disk completes at once
    EXPECT_FALSE(fw::PageFlag(p, fw::PG_dirty));
    sc().delete_from_swap_cache(h, p, shadow);
    r.k->page_alloc().put_page(h, p);  // the cache's reference
    r.k->page_alloc().put_page(h, p);  // the isolation's: the page is free
    EXPECT_EQ(fw::page_ref_count(p), 0);
    EXPECT_FALSE(fw::PageSwapCache(p));
    return e;
  }
  // Every slot free, nothing in the swap cache, no anonymous page mapped.
  void expect_all_back() {
    EXPECT_EQ(sf().nr_swap_pages(), sf().total_swap_pages());
    EXPECT_EQ(node(fw::NR_SWAPCACHE), 0u);
    EXPECT_EQ(node(fw::NR_ANON_MAPPED), 0u);
  }
  std::string meminfo_line(const char* key) {
    const std::string mi = r.proc("meminfo");
    const size_t at = mi.find(std::string(key) + ":");
    return at == std::string::npos ? "" : mi.substr(at, mi.find('\n', at) - at);
  }

  Rig r;
  fw::brd_device* disk = nullptr;
  int pid = 0;
};

TEST(Swap, SwaponReadsTheHeaderAndProcSwapsShowsTheArea) {
  SwapRig s(16);
  EXPECT_NE(s.r.console().find("Adding 16380k swap on /dev/swap0.  Priority:-2 extents:1 across:16380k \n"),
            std::string::npos)
      << s.r.console();
  EXPECT_EQ(s.sf().total_swap_pages(), 4095u);
  EXPECT_EQ(s.sf().nr_swap_pages(), 4095u);
  EXPECT_EQ(s.r.proc("swaps"),
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
            "/dev/swap0                              partition\t16380\t\t0\t\t-2\n");
  EXPECT_EQ(s.meminfo_line("SwapTotal"), "SwapTotal:         16380 kB");
  EXPECT_EQ(s.meminfo_line("SwapFree"), "SwapFree:          16380 kB");
  // Twice the same device, and a device without a header.
  EXPECT_EQ(s.sf().swapon(s.r.cpu(), &s.disk->bdev), -EBUSY);
  fw::brd_device* bare = fw::brd_create(s.r.cpu(), &s.r.k->ctx(), "bare", 1 * MiB, 512);
  ASSERT_NE(bare, nullptr);
  EXPECT_EQ(s.sf().swapon(s.r.cpu(), &bare->bdev), -EINVAL);
  EXPECT_NE(s.r.console().find("Unable to find swap-space signature"), std::string::npos);
  // A second area gets the next priority down.
  fw::brd_device* two = fw::brd_create(s.r.cpu(), &s.r.k->ctx(), "swap1", 1 * MiB, 512);
  const std::vector<uint8_t> hdr = mkswap_header(1 * MiB);
  ASSERT_TRUE(fw::brd_write(s.r.cpu(), two, 0, hdr.data(), hdr.size()));
  EXPECT_EQ(s.sf().swapon(s.r.cpu(), &two->bdev), 0);
  EXPECT_NE(s.r.proc("swaps").find("/dev/swap1                              partition\t1020\t\t0\t\t-3\n"),
            std::string::npos);
  EXPECT_EQ(s.stat("swap.areas"), 2u);
}

TEST(Swap, WithoutSwapProcSwapsIsTheHeaderLine) {
  Rig r(spec_mb(64));
  EXPECT_EQ(r.proc("swaps"), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
  const StatMap st = r.stats();
  EXPECT_EQ(st.map.count("swap.areas"), 0u);  // no swap statistics on a machine without swap
}

// Pages written, swapped out one by one, faulted back: the data, the
// counters, the slots and the readahead of the cluster.
TEST(Swap, SwapOutThenInGivesTheDataBack) {
  SwapRig s(16);
  const uint64_t n = 64;
  const uint64_t a = static_cast<uint64_t>(s.r.mmap(0, 0, n * PAGE_SIZE));
  for (uint64_t i = 0; i < n; ++i) s.store(a + i * PAGE_SIZE + 8 * (i % 500), 0xabc000 + i);
  std::vector<fw::swp_entry_t> entries;
  for (uint64_t i = 0; i < n; ++i) entries.push_back(s.swap_out({s.mm()}, a + i * PAGE_SIZE));
  // Consecutive slots of the first cluster (slot 0 is the header).
  for (uint64_t i = 0; i < n; ++i) {
    EXPECT_EQ(fw::swp_type(entries[i]), 0u);
    EXPECT_EQ(fw::swp_offset(entries[i]), i + 1);
    EXPECT_EQ(s.pte(s.mm(), a + i * PAGE_SIZE), fw::swp_entry_to_pte(entries[i]));
    EXPECT_EQ(s.sf().swap_count(entries[i]), 1u);
  }
  EXPECT_EQ(s.mm()->swapents, n);
  EXPECT_EQ(s.mm()->rss_anon, 0u);
  EXPECT_EQ(s.event(fw::PSWPOUT), n);
  EXPECT_EQ(s.sf().nr_swap_pages(), 4095u - n);
  EXPECT_EQ(s.node(fw::NR_SWAPCACHE), 0u);
  EXPECT_EQ(s.node(fw::NR_ANON_MAPPED), 0u);
  EXPECT_EQ(s.meminfo_line("SwapFree"), "SwapFree:          16124 kB");
  EXPECT_NE(s.r.proc("swaps").find("\t16380\t\t256\t\t-2\n"), std::string::npos) << s.r.proc("swaps");
  mapping_check(*s.r.k, s.r.cpu());

  // Read back in order: readahead reads ahead of the faults (its window
  // grows with the hits), every value is there.
  for (uint64_t i = 0; i < n; ++i) EXPECT_EQ(s.load(a + i * PAGE_SIZE + 8 * (i % 500)), 0xabc000 + i) << i;
  EXPECT_EQ(s.event(fw::PSWPIN), n);
  EXPECT_GT(s.event(fw::SWAP_RA), n / 2);
  EXPECT_GT(s.event(fw::SWAP_RA_HIT), n / 2);
  EXPECT_LT(s.event(fw::PGMAJFAULT), n / 2);  // most faults found their page read ahead
  EXPECT_EQ(s.mm()->swapents, 0u);
  EXPECT_EQ(s.mm()->rss_anon, n);
  // Read faults keep the clean copies in swap (swap is far from full).
  EXPECT_EQ(s.node(fw::NR_SWAPCACHE), n);
  EXPECT_EQ(s.meminfo_line("SwapCached"), "SwapCached:          256 kB");
  for (uint64_t i = 0; i < n; ++i) EXPECT_EQ(s.sf().swap_count(entries[i]), 0u);
  mapping_check(*s.r.k, s.r.cpu());
  // A write to such a page drops its slot and makes it writable in place.
  s.store(a, 7);
  EXPECT_EQ(s.node(fw::NR_SWAPCACHE), n - 1);
  EXPECT_EQ(s.stat("fault.cow"), 0u);
  // munmap lets the swap cache go with the pages: all slots free again.
  EXPECT_EQ(s.r.munmap(0, a, n * PAGE_SIZE), 0);
  EXPECT_EQ(s.node(fw::NR_SWAPCACHE), 0u);
  EXPECT_EQ(s.sf().nr_swap_pages(), s.sf().total_swap_pages());
  EXPECT_EQ(s.r.proc("swaps").find("\t256\t\t"), std::string::npos);
}

TEST(Swap, WriteFaultOnAnExclusiveSwappedPageReusesItAndFreesTheSlot) {
  SwapRig s(16);
  const uint64_t a = static_cast<uint64_t>(s.r.mmap(0, 0, PAGE_SIZE));
  s.store(a, 0x1234);
  const fw::swp_entry_t e = s.swap_out({s.mm()}, a);
  s.store(a + 8, 0x5678);  // a write fault on the swap entry
  EXPECT_EQ(s.load(a), 0x1234u);
  EXPECT_EQ(s.load(a + 8), 0x5678u);
  EXPECT_TRUE(s.pte(s.mm(), a) & x86::PTE_RW);
  EXPECT_EQ(s.stat("swap.swapin_reuse"), 1u);
  EXPECT_EQ(s.sf().swap_count(e), 0u);
  EXPECT_EQ(s.node(fw::NR_SWAPCACHE), 0u);
  EXPECT_EQ(s.sf().nr_swap_pages(), s.sf().total_swap_pages());
  EXPECT_EQ(s.event(fw::PGMAJFAULT), 1u);
}

TEST(Swap, ReadaheadReadsTheAlignedCluster) {
  fw::Params p = quiet_params();
  p.page_cluster = 2;  // windows of up to 4 slots
  SwapRig s(16, p);
  const uint64_t n = 16;
  const uint64_t a = s.map_filled(n, 1);
  s.swap_out_range(a, n);
  // Slots 1..16. Fault slot 5 (no history: one page), then slot 6 (adjacent:
  // a window of 2, [6, 7]), then slot 7 (a hit), then slot 8: after the
  // hit the window is 4, aligned: [8, 11].
  EXPECT_EQ(s.load(a + 4 * PAGE_SIZE), 5u);
  EXPECT_EQ(s.event(fw::PSWPIN), 1u);
  EXPECT_EQ(s.load(a + 5 * PAGE_SIZE), 6u);
  EXPECT_EQ(s.event(fw::PSWPIN), 3u);
  EXPECT_EQ(s.event(fw::SWAP_RA), 1u);
  EXPECT_EQ(s.load(a + 6 * PAGE_SIZE), 7u);
  EXPECT_EQ(s.event(fw::SWAP_RA_HIT), 1u);
  EXPECT_EQ(s.load(a + 7 * PAGE_SIZE), 8u);
  EXPECT_EQ(s.event(fw::PSWPIN), 7u);
  EXPECT_EQ(s.event(fw::SWAP_RA), 4u);
  for (uint64_t slot = 8; slot <= 11; ++slot)
    EXPECT_NE(s.sf().cache_slot(fw::swp_entry(0, slot)), nullptr);
  // Pages read ahead and never faulted go when their PTEs go.
  EXPECT_EQ(s.r.munmap(0, a, n * PAGE_SIZE), 0);
  EXPECT_EQ(s.node(fw::NR_SWAPCACHE), 0u);
  EXPECT_EQ(s.sf().nr_swap_pages(), s.sf().total_swap_pages());
  // page_cluster 0: no readahead at all.
}

TEST(Swap, NoReadaheadWithPageClusterZero) {
  fw::Params p = quiet_params();
  p.page_cluster = 0;
  SwapRig s(16, p);
  const uint64_t a = s.map_filled(8, 0);
  s.swap_out_range(a, 8);
  for (uint64_t i = 0; i < 8; ++i) EXPECT_EQ(s.load(a + i * PAGE_SIZE), i);
  EXPECT_EQ(s.event(fw::PSWPIN), 8u);
  EXPECT_EQ(s.event(fw::SWAP_RA), 0u);
  EXPECT_EQ(s.event(fw::PGMAJFAULT), 8u);
}

// A page shared after fork swapped out from both: two references on the
// slot; each side gets the data, a write copies, exit frees everything.
TEST(Swap, ForkSharesTheSlotAndExitFreesIt) {
  SwapRig s(16);
  const uint64_t a = s.map_filled(4, 100);
  const int child = static_cast<int>(s.r.fork(0));
  ASSERT_GT(child, 0);
  fw::mm_struct* cmm = s.r.k->mm_of(child);
  const fw::swp_entry_t e0 = s.swap_out({s.mm(), cmm}, a);
  EXPECT_EQ(s.sf().swap_count(e0), 2u);
  // Fork again with an entry in place: the new child takes a reference.
  s.swap_out({s.mm(), cmm}, a + PAGE_SIZE);
  const int child2 = static_cast<int>(s.r.fork(0));
  ASSERT_GT(child2, 0);
  fw::mm_struct* c2 = s.r.k->mm_of(child2);
  EXPECT_EQ(s.sf().swap_count(e0), 3u);
  EXPECT_EQ(c2->swapents, 2u);
  EXPECT_EQ(s.mm()->swapents, 2u);
  mapping_check(*s.r.k, s.r.cpu());
  // The parent reads: mapped read-only (the slot is shared), data there.
  EXPECT_EQ(s.load(a), 100u);
  EXPECT_FALSE(s.pte(s.mm(), a) & x86::PTE_RW);
  EXPECT_EQ(s.sf().swap_count(e0), 2u);
  // ... and writes: a copy, the others keep the swapped page.
  s.store(a, 555);
  EXPECT_EQ(s.stat("fault.cow"), 1u);
  mapping_check(*s.r.k, s.r.cpu());
  // The parent exits; the children keep their references and their data.
  EXPECT_EQ(s.r.sys(0, hal::Sys::exit_group), 0);
  EXPECT_EQ(s.sf().swap_count(e0), 2u);
  mapping_check(*s.r.k, s.r.cpu());
  for (int i = 0; i < 2; ++i) {
    const hal::RunTask t = s.r.k->schedule(s.r.cpu(0));
    EXPECT_TRUE(t.pid == child || t.pid == child2) << t.pid;
    EXPECT_EQ(s.load(a + PAGE_SIZE), 101u);
    EXPECT_EQ(s.load(a), 100u);
    EXPECT_EQ(s.load(a + 3 * PAGE_SIZE), 103u);
    EXPECT_EQ(s.r.sys(0, hal::Sys::exit_group), 0);
  }
  s.expect_all_back();
}

TEST(Swap, MprotectKeepsEntriesAndDontneedAndExitFreeThem) {
  SwapRig s(16);
  const uint64_t a = s.map_filled(8, 40);
  const std::vector<fw::swp_entry_t> e = s.swap_out_range(a, 8);
  EXPECT_EQ(s.r.mprotect(0, a, 8 * PAGE_SIZE, fw::PROT_READ), 0);
  for (uint64_t i = 0; i < 8; ++i) EXPECT_EQ(s.pte(s.mm(), a + i * PAGE_SIZE), fw::swp_entry_to_pte(e[i]));
  EXPECT_EQ(s.r.mprotect(0, a, 8 * PAGE_SIZE, fw::PROT_NONE), 0);
  EXPECT_EQ(s.pte(s.mm(), a), fw::swp_entry_to_pte(e[0]));
  EXPECT_EQ(s.r.mprotect(0, a, 8 * PAGE_SIZE, fw::PROT_READ | fw::PROT_WRITE), 0);
  EXPECT_EQ(s.load(a), 40u);
  // MADV_DONTNEED drops entries and slots: the memory reads zero again.
  EXPECT_EQ(s.r.madvise(0, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE, uapi::kMadvDontneed), 0);
  for (uint64_t i = 4; i < 8; ++i) EXPECT_EQ(s.sf().swap_count(e[i]), 0u);
  EXPECT_EQ(s.load(a + 5 * PAGE_SIZE), 0u);
  EXPECT_EQ(s.mm()->swapents, 3u);  // pages 1..3: page 0 was faulted in, 4..7 dropped
  // munmap of one swapped page frees its slot, then exit for the rest.
  const uint64_t free_slots = s.sf().nr_swap_pages();
  EXPECT_EQ(s.sf().swap_count(e[3]), 1u);
  EXPECT_EQ(s.r.munmap(0, a + 3 * PAGE_SIZE, PAGE_SIZE), 0);
  EXPECT_EQ(s.sf().nr_swap_pages(), free_slots + 1);
  EXPECT_EQ(s.r.sys(0, hal::Sys::exit_group), 0);
  s.expect_all_back();
  EXPECT_EQ(s.node(fw::NR_FILE_PAGES), 0u);
}

TEST(Swap, GupFaultsASwappedPageIn) {
  SwapRig s(16);
  const uint64_t a = static_cast<uint64_t>(s.r.mmap(0, 0, PAGE_SIZE));
  s.store(a + 16, 0xfeed);
  s.swap_out({s.mm()}, a);
  fw::page* pg = nullptr;
  ASSERT_EQ(s.r.k->gup().pin_user_pages(s.r.cpu(), s.mm(), a, 1, fw::FOLL_WRITE, &pg), 1);
  EXPECT_EQ(s.r.read64(s.r.k->nodes().page_to_phys(pg) + 16), 0xfeedu);
  s.r.k->gup().unpin_user_pages(s.r.cpu(), &pg, 1, false);
  EXPECT_EQ(s.mm()->swapents, 0u);
}

TEST(Swap, IoErrorsKeepThePageDirtyOrSigbusTheFault) {
  SwapRig s(16);
  const uint64_t a = static_cast<uint64_t>(s.r.mmap(0, 0, 2 * PAGE_SIZE));
  s.store(a, 1);
  s.store(a + PAGE_SIZE, 2);
  // The write of the first slot fails: the page stays dirty, the log says so.
  s.disk->fail_sector = 1 * (PAGE_SIZE >> 9);
  hal::Hal& h = s.r.cpu();
  fw::page* p = s.r.k->nodes().phys_to_page(s.pte(s.mm(), a) & s.r.k->pgtable().phys_mask());
  ASSERT_TRUE(s.sc().add_to_swap(h, p));
  EXPECT_EQ(s.sc().swap_writepage(h, p), 0);
  EXPECT_TRUE(fw::PageFlag(p, fw::PG_dirty));
  EXPECT_NE(s.r.console().find("Write-error on swap-device (253:0:8)"), std::string::npos) << s.r.console();
  EXPECT_EQ(s.stat("swap.write_errors"), 1u);
  // Still mapped and in the swap cache, to be written again later.
  EXPECT_TRUE(fw::PageSwapCache(p));
  EXPECT_EQ(s.load(a), 1u);
  // A good write, then a failing read: SIGBUS for the fault.
  s.disk->fail_sector = ~0ull;
  const fw::swp_entry_t e = s.swap_out({s.mm()}, a + PAGE_SIZE);
  s.disk->fail_sector = fw::swp_offset(e) * (PAGE_SIZE >> 9);
  EXPECT_EQ(s.r.access(0, a + PAGE_SIZE, x86::Access::read), ~0ull);  // killed
  EXPECT_NE(s.r.console().find("Read-error on swap-device"), std::string::npos);
  EXPECT_EQ(s.stat("swap.swapin_errors"), 1u);
  EXPECT_EQ(s.sf().nr_swap_pages(), s.sf().total_swap_pages());  // the exit freed the slot
}

TEST(Swap, ShadowsLeftInSlotsReachTheRefault) {
  SwapRig s(16);
  const uint64_t a = static_cast<uint64_t>(s.r.mmap(0, 0, PAGE_SIZE));
  s.store(a, 9);
  s.swap_out({s.mm()}, a, 0x1235);
  EXPECT_EQ(s.stat("swap.shadows_stored"), 1u);
  EXPECT_EQ(s.load(a), 9u);
  EXPECT_EQ(s.stat("swap.shadows_refaulted"), 1u);
  EXPECT_EQ(s.node(fw::WORKINGSET_REFAULT_ANON), 1u) << "the shadow reached workingset_refault";
}

// Reclaim's own path (MADV_PAGEOUT): each swapped-out page leaves a shadow
// in its slot, and each one faulted back (or read ahead) is an anonymous refault.
TEST(Swap, ReclaimedAnonymousPagesRefaultThroughTheirShadows) {
  SwapRig s(16);
  const uint64_t n = 32;
  const uint64_t a = s.map_filled(n, 0x300);
  ASSERT_EQ(s.r.madvise(0, a, n * PAGE_SIZE, uapi::kMadvPageout), 0);
  ASSERT_EQ(s.mm()->swapents, n);
  EXPECT_EQ(s.stat("swap.shadows_stored"), n);
  EXPECT_EQ(s.node(fw::WORKINGSET_REFAULT_ANON), 0u);
  for (uint64_t i = 0; i < n; ++i) EXPECT_EQ(s.load(a + i * PAGE_SIZE), 0x300 + i) << i;
  EXPECT_EQ(s.node(fw::WORKINGSET_REFAULT_ANON), n);
  EXPECT_EQ(s.node(fw::WORKINGSET_REFAULT_FILE), 0u);
}

TEST(Swap, FullSwapRefusesSlotsAndFreesCopiesOnSwapin) {
  SwapRig s(1);  // 255 slots
  const uint64_t n = 255;
  const uint64_t a = s.map_filled(n + 1, 0);
  s.swap_out_range(a, n);
  EXPECT_EQ(s.sf().nr_swap_pages(), 0u);
  fw::page* p = s.r.k->nodes().phys_to_page(s.pte(s.mm(), a + n * PAGE_SIZE) & s.r.k->pgtable().phys_mask());
  EXPECT_FALSE(s.sc().add_to_swap(s.r.cpu(), p));
  EXPECT_EQ(s.stat("swap.alloc_failed"), 1u);
  EXPECT_EQ(s.r.proc("swaps"),
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
            "/dev/swap0                              partition\t1020\t\t1020\t\t-2\n");
  // With swap full, a swap-in lets go of the slot at once (vm_swap_full).
  EXPECT_EQ(s.load(a + 100 * PAGE_SIZE), 100u);
  EXPECT_GE(s.sf().nr_swap_pages(), 1u);
  for (uint64_t i = 0; i < n; ++i) EXPECT_EQ(s.load(a + i * PAGE_SIZE), i);
  // Slots are let go while more than half of swap is in use, no further.
  EXPECT_EQ(s.sf().nr_swap_pages(), (n + 1) / 2);
  EXPECT_EQ(s.node(fw::NR_SWAPCACHE), n - (n + 1) / 2);
  EXPECT_EQ(s.r.munmap(0, a, (n + 1) * PAGE_SIZE), 0);
  EXPECT_EQ(s.sf().nr_swap_pages(), n);
  EXPECT_EQ(s.node(fw::NR_SWAPCACHE), 0u);
}

// MADV_COLD clears the accessed bits and deactivates; MADV_PAGEOUT hands
// the pages to reclaim (which, until reclaim proper, puts them back; with
// it, swaps them out): either way nothing is left isolated, every page is
// mapped or swapped, and the data reads back.
TEST(Swap, MadvColdAndPageout) {
  SwapRig s(16);
  const uint64_t n = 8;
  const uint64_t a = s.map_filled(n, 0x77);
  for (uint64_t i = 0; i < n; ++i) EXPECT_TRUE(s.pte(s.mm(), a + i * PAGE_SIZE) & x86::PTE_A);
  // Half of them active: COLD deactivates those (pgdeactivate, as 6.18's
  // folio_deactivate counts) and leaves the inactive ones where they are.
  for (uint64_t i = 0; i < n; i += 2)
    s.r.k->lru().activate(s.r.cpu(), s.r.k->nodes().phys_to_page(s.pte(s.mm(), a + i * PAGE_SIZE) &
                                                                 s.r.k->pgtable().phys_mask()));
  const uint64_t deactivated = s.event(fw::PGDEACTIVATE);
  EXPECT_EQ(s.r.madvise(0, a, n * PAGE_SIZE, uapi::kMadvCold), 0);
  EXPECT_EQ(s.event(fw::PGDEACTIVATE) - deactivated, n / 2);
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t e = s.pte(s.mm(), a + i * PAGE_SIZE);
    EXPECT_TRUE(e & x86::PTE_P);
    EXPECT_FALSE(e & x86::PTE_A);
    fw::page* p = s.r.k->nodes().phys_to_page(e & s.r.k->pgtable().phys_mask());
    EXPECT_TRUE(fw::PageLRU(p));
    EXPECT_FALSE(fw::PageFlag(p, fw::PG_active));
  }
  EXPECT_EQ(s.r.madvise(0, a, n * PAGE_SIZE, uapi::kMadvPageout), 0);
  EXPECT_EQ(s.node(fw::NR_ISOLATED_ANON), 0u);
  uint64_t swapped = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t e = s.pte(s.mm(), a + i * PAGE_SIZE);
    EXPECT_TRUE((e & x86::PTE_P) || fw::is_swap_pte(e));
    swapped += fw::is_swap_pte(e);
  }
  EXPECT_EQ(s.mm()->swapents, swapped);
  EXPECT_EQ(s.event(fw::PSWPOUT), swapped);
  mapping_check(*s.r.k, s.r.cpu());
  for (uint64_t i = 0; i < n; ++i) EXPECT_EQ(s.load(a + i * PAGE_SIZE), 0x77 + i);
  // Not for hugetlb mappings.
  fw::Params hp = quiet_params();
  hp.hugepages_2m = 1;
  Rig r(spec_mb(64), hp);
  r.start_process(0);
  const int64_t hm = r.mmap(0, 0, 2 * MiB, fw::PROT_READ | fw::PROT_WRITE,
                            fw::MAP_PRIVATE | fw::MAP_ANONYMOUS | fw::MAP_HUGETLB);
  ASSERT_GT(hm, 0);
  EXPECT_EQ(r.madvise(0, static_cast<uint64_t>(hm), 2 * MiB, uapi::kMadvPageout), -EINVAL);
}

// Shared anonymous memory swaps out as 6.18's shmem_writeout does: the
// page leaves its object for the swap cache and is written, the object's
// slot keeps the swap entry (one reference on the swap slot), the PTEs are
// cleared (not swap entries: the object holds the entry); a fault reads it
// back into the object (shmem_swapin_folio, a major fault) and frees the
// slot; an object that goes frees the slots of its swapped pages.
TEST(Swap, SharedMemoryPagesSwapOutThroughTheirObjectAndComeBack) {
  SwapRig s(16);
  const uint64_t n = 16;
  const int64_t m = s.r.mmap(0, 0, n * PAGE_SIZE, fw::PROT_READ | fw::PROT_WRITE, fw::MAP_SHARED | fw::MAP_ANONYMOUS);
  ASSERT_GT(m, 0);
  const uint64_t a = static_cast<uint64_t>(m);
  for (uint64_t i = 0; i < n; ++i) s.store(a + i * PAGE_SIZE, 0x5000 + i);
  const fw::ShmemStats& st = s.r.k->shmem().stats();
  const uint64_t shmem = s.node(fw::NR_SHMEM), free_slots = s.sf().nr_swap_pages();
  ASSERT_GE(shmem, n);
  EXPECT_EQ(s.r.madvise(0, a, n * PAGE_SIZE, uapi::kMadvPageout), 0);
  EXPECT_EQ(s.event(fw::PSWPOUT), n);
  EXPECT_EQ(st.swapped, n);
  EXPECT_EQ(s.node(fw::NR_SHMEM), shmem - n);
  EXPECT_EQ(s.node(fw::NR_SWAPCACHE), 0u) << "written and out of the swap cache";
  EXPECT_EQ(s.sf().nr_swap_pages(), free_slots - n) << "the object holds the slots";
  EXPECT_EQ(s.mm()->swapents, 0u) << "no swap PTE: the object holds the entries";
  EXPECT_EQ(s.mm()->rss_shmem, 0u);
  for (uint64_t i = 0; i < n; ++i) EXPECT_EQ(s.pte(s.mm(), a + i * PAGE_SIZE), 0u) << i;
  // A read fault of page 3 brings its cluster into the swap cache; every
  // page faulted comes back with its data, and its slot is freed.
  const uint64_t majflt = s.event(fw::PGMAJFAULT);
  EXPECT_EQ(s.load(a + 3 * PAGE_SIZE), 0x5003u);
  EXPECT_EQ(s.event(fw::PGMAJFAULT), majflt + 1);
  EXPECT_EQ(st.swapped, n - 1);
  for (uint64_t i = 0; i < n; i += 2) EXPECT_EQ(s.load(a + i * PAGE_SIZE), 0x5000 + i) << i;
  EXPECT_GE(s.event(fw::PSWPIN), n / 2);
  EXPECT_EQ(st.swapped, n - n / 2 - 1);
  EXPECT_EQ(s.sf().nr_swap_pages(), free_slots - st.swapped);
  mapping_check(*s.r.k, s.r.cpu());
  // The other half (the odd pages but 3) still in swap when the mapping
  // and its object go: their slots and swap-cache copies are freed.
  ASSERT_EQ(s.r.munmap(0, a, n * PAGE_SIZE), 0);
  EXPECT_EQ(st.swapped, 0u);
  s.expect_all_back();
}

// A swap device whose writes complete later, as a real disk's do: bios are
// held until complete_held() hands them to the RAM disk.
std::vector<fw::bio*> g_held;
const fw::block_device_operations* g_brd_ops = nullptr;
const fw::block_device_operations kHoldingOps = {[](hal::Hal&, fw::bio* b) { g_held.push_back(b); }};
void complete_held(hal::Hal& h) {
  std::vector<fw::bio*> held;
  held.swap(g_held);
  for (fw::bio* b : held) g_brd_ops->submit_bio(h, b);
}

TEST(Swap, WriteCompletionRotatesTheReclaimedPageToTheInactiveTail) {
  SwapRig s(16);
  const uint64_t n = 4;
  const uint64_t a = s.map_filled(n, 0x99);
  g_brd_ops = s.disk->bdev.fops;
  s.disk->bdev.fops = &kHoldingOps;
  EXPECT_EQ(s.r.madvise(0, a, n * PAGE_SIZE, uapi::kMadvPageout), 0);
  ASSERT_EQ(g_held.size(), n) << "each page's write in flight";
  EXPECT_EQ(s.event(fw::PSWPOUT), n);
  std::vector<fw::page*> pages;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t e = s.pte(s.mm(), a + i * PAGE_SIZE);
    ASSERT_TRUE(fw::is_swap_pte(e));
    fw::page* p = s.sc().lookup(s.r.cpu(), fw::pte_to_swp_entry(e));
    ASSERT_NE(p, nullptr) << "still in the swap cache while written";
    EXPECT_TRUE(fw::PageFlag(p, fw::PG_writeback));
    EXPECT_TRUE(fw::PageFlag(p, fw::PG_reclaim));
    EXPECT_TRUE(fw::PageLRU(p)) << "kept by reclaim, back on its list";
    s.r.k->page_alloc().put_page(s.r.cpu(), p);  // lookup's reference
    pages.push_back(p);
  }
  // Another anonymous page is added at the inactive head afterwards: the
  // completions must move the written pages behind it, to the tail.
  const uint64_t other = s.map_filled(1, 0x55);
  EXPECT_EQ(s.event(fw::PGROTATED), 0u);
  complete_held(s.r.cpu());
  s.disk->bdev.fops = g_brd_ops;
  EXPECT_EQ(s.event(fw::PGROTATED), n);
  fw::list_head* inactive = &s.r.k->nodes().node(0).lru[fw::LRU_INACTIVE_ANON];
  fw::list_head* l = inactive->prev;
  for (uint64_t i = 0; i < n; ++i, l = l->prev) {
    fw::page* p = list_entry(l, fw::page, lru);
    EXPECT_TRUE(std::find(pages.begin(), pages.end(), p) != pages.end()) << "position " << i << " from the tail";
    EXPECT_FALSE(fw::PageFlag(p, fw::PG_reclaim));
    EXPECT_FALSE(fw::PageFlag(p, fw::PG_writeback));
  }
  // Data back through the swap cache, and the other page untouched.
  for (uint64_t i = 0; i < n; ++i) EXPECT_EQ(s.load(a + i * PAGE_SIZE), 0x99 + i);
  EXPECT_EQ(s.load(other), 0x55u);
  mapping_check(*s.r.k, s.r.cpu());
}

}  // namespace
}  // namespace fwtest
