// memory_failure() on the host HAL, row by row of Linux 6.18's table: the
// result and its log line, the per-node counters, num_poisoned_pages and
// HardwareCorrupted, who gets which SIGBUS (early kill with BUS_MCEERR_AO,
// late kill through a hwpoison entry with BUS_MCEERR_AR at the exact
// address, action required through the #MC handler), a handler taking the
// signal against the task dying of it, and the firmware parameters.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sw/drivers/block/brd.h"
#include "sw/hal/x86_mce.h"
#include "sw/kernel/mce.h"
#include "sw/fs/mmfs/format.h"
#include "sw/lib/errno.h"
#include "sw/mm/memory_failure.h"
#include "sw/mm/mkswap.h"
#include "sw/mm/swap_state.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/tlb.h"
#include "tb/sw/mm/consumed_error.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

std::string line(const char* fmt, uint64_t pfn, const char* a = "", const char* b = "") {
  char s[200];
  std::snprintf(s, sizeof s, fmt, static_cast<unsigned long>(pfn), a, b);
  return s;
}

// "Memory failure: PFN: recovery action for TYPE: RESULT".
std::string result_line(uint64_t pfn, const char* type, const char* result) {
  return line("Memory failure: %#lx: recovery action for %s: %s", pfn, type, result);
}

bool has(const Rig& r, const std::string& s) { return r.console().find(s) != std::string::npos; }

uint64_t meminfo_kb(Rig& r, const char* key) {
  const std::string m = r.proc("meminfo");
  const size_t at = m.find(std::string(key) + ":");
  EXPECT_NE(at, std::string::npos) << key;
  return at == std::string::npos ? ~0ull : std::stoull(m.substr(at + std::strlen(key) + 1));
}

// A process on CPU 0 with one anonymous page written at the returned address.
struct AnonPage {
  int pid;
  uint64_t va;
  uint64_t pfn;
};
AnonPage anon_page(Rig& r, const char* name = "victim") {
  AnonPage a{};
  a.pid = r.start_process(0, name);
  a.va = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE));
  const uint64_t pa = r.access(0, a.va);
  r.write64(pa, 0x1234);
  a.pfn = pa >> 12;
  return a;
}

TEST(fw_memory_failure, free_buddy_page_is_taken_off_the_free_lists) {
  Rig r(spec_mb(64));
  fw::MemoryFailure& mf = r.k->memory_failure();
  // A page on the per-CPU lists counts as free too (they are drained).
  fw::page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  ASSERT_NE(p, nullptr);
  const uint64_t pfn = r.k->nodes().page_to_pfn(p);
  r.k->page_alloc().put_page(r.cpu(), p);
  const uint64_t free0 = r.k->nr_free_pages();
  EXPECT_EQ(meminfo_kb(r, "HardwareCorrupted"), 0u);
  StringSink none;
  EXPECT_FALSE(r.k->proc_show("node0/memory_failure/total", none)) << "no file before a memory failure";
  EXPECT_EQ(mf.memory_failure(r.cpu(), pfn, 0), 0);
  EXPECT_TRUE(has(r, result_line(pfn, "free buddy page", "Recovered"))) << r.console();
  EXPECT_EQ(r.k->nr_free_pages(), free0 - 1);
  EXPECT_EQ(page_ref_count(p), 1) << "held by memory_failure() for ever";
  EXPECT_TRUE(PageHWPoison(p));
  EXPECT_EQ(mf.num_poisoned_pages(), 1u);
  EXPECT_EQ(mf.node_stats(0).total, 1u);
  EXPECT_EQ(mf.node_stats(0).recovered, 1u);
  EXPECT_EQ(meminfo_kb(r, "HardwareCorrupted"), 4u);
  full_check(*r.k, {});
  // The same page again: already poisoned, Failed, not counted again.
  EXPECT_EQ(mf.memory_failure(r.cpu(), pfn, 0), -EHWPOISON);
  EXPECT_TRUE(has(r, result_line(pfn, "already poisoned page", "Failed")));
  EXPECT_EQ(mf.node_stats(0).total, 1u);
  EXPECT_EQ(mf.num_poisoned_pages(), 1u);
  EXPECT_EQ(meminfo_kb(r, "HardwareCorrupted"), 4u);
  // The statistics and the node's files name it.
  EXPECT_EQ(r.stats().at("memory_failure.node0.recovered"), 1u);
  EXPECT_EQ(r.proc("node0/memory_failure/total"), "1\n");
  EXPECT_EQ(r.proc("node0/memory_failure/recovered"), "1\n");
  EXPECT_EQ(r.proc("node0/memory_failure/ignored"), "0\n");
  StringSink node1;
  EXPECT_FALSE(r.k->proc_show("node1/memory_failure/total", node1)) << "a one-node machine";
  EXPECT_EQ(r.stats().at("memory_failure.num_poisoned_pages"), 1u);
}

TEST(fw_memory_failure, kernel_pages_are_ignored_and_keep_the_flag) {
  Rig r(spec_mb(64));
  fw::MemoryFailure& mf = r.k->memory_failure();
  void* obj = r.k->slab().kmalloc(r.cpu(), 64, fw::GFP_KERNEL);
  ASSERT_NE(obj, nullptr);
  const uint64_t pfn = r.k->nodes().page_to_pfn(r.k->nodes().virt_to_page(obj));
  EXPECT_EQ(mf.memory_failure(r.cpu(), pfn, 0), -EBUSY);
  EXPECT_TRUE(has(r, line("Memory failure: %#lx: unhandlable page.", pfn)));
  EXPECT_TRUE(has(r, result_line(pfn, "get hwpoison page", "Ignored"))) << r.console();
  EXPECT_TRUE(PageHWPoison(r.k->nodes().pfn_to_page(pfn)));
  EXPECT_EQ(mf.node_stats(0).ignored, 1u);
  EXPECT_EQ(meminfo_kb(r, "HardwareCorrupted"), 4u);
}

TEST(fw_memory_failure, dirty_anonymous_page_late_kill_through_a_hwpoison_entry) {
  Rig r(spec_mb(64));
  fw::MemoryFailure& mf = r.k->memory_failure();
  const AnonPage a = anon_page(r);
  // A scrub find (action optional): nobody asked for early kill.
  EXPECT_EQ(mf.memory_failure(r.cpu(), a.pfn, 0), 0);
  EXPECT_TRUE(has(r, result_line(a.pfn, "dirty LRU page", "Recovered"))) << r.console();
  EXPECT_EQ(r.k->nr_tasks(), 1u) << "late kill: nobody signalled yet";
  EXPECT_EQ(r.m->delivered().size(), 0u);
  mapping_check(*r.k, r.cpu());
  // The PTE is a hwpoison entry: the next touch is SIGBUS, and the task
  // has no handler: it dies of it.
  const uint64_t at = a.va + 0x18;
  EXPECT_EQ(r.access(0, at, x86::Access::read), ~0ull);
  char want[160];
  std::snprintf(want, sizeof want, "MCE: Killing victim:%d due to hardware memory corruption fault at %lx", a.pid,
                static_cast<unsigned long>(at));
  EXPECT_TRUE(has(r, want)) << r.console();
  ASSERT_EQ(r.m->ended().size(), 1u);
  EXPECT_EQ(r.m->ended()[0].signal, uapi::kSigbus);
  EXPECT_EQ(r.k->task_stats().sigbus, 1u);
  // Exit zapped the entry; the page stays out of use.
  EXPECT_EQ(page_ref_count(r.k->nodes().pfn_to_page(a.pfn)), 1);
}

TEST(fw_memory_failure, late_kill_with_a_handler_gets_the_exact_address_and_goes_on) {
  Rig r(spec_mb(64));
  const AnonPage a = anon_page(r);
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  EXPECT_EQ(r.k->memory_failure().memory_failure(r.cpu(), a.pfn, 0), 0);
  const uint64_t at = a.va + 0x2a8;
  const fw::PteLookup l = [&] {
    fw::PteLookup x;
    r.k->translate(r.cpu(), a.pid, at, &x);
    return x;
  }();
  EXPECT_FALSE(l.present);
  EXPECT_EQ(r.k->page_fault(r.cpu(), at, x86::PF_U), hal::TrapOutcome::skip);
  ASSERT_EQ(r.m->delivered().size(), 1u);
  const hal::SigInfo& si = r.m->delivered()[0].si;
  EXPECT_EQ(si.signo, uapi::kSigbus);
  EXPECT_EQ(si.code, uapi::kBusMceerrAr);
  EXPECT_EQ(si.addr, at) << "the exact address of the touch";
  EXPECT_EQ(si.addr_lsb, 12u);
  EXPECT_EQ(r.k->nr_tasks(), 1u);
  EXPECT_EQ(r.k->task_stats().sigbus_handled, 1u);
  // The rest of the mapping still works.
  r.write64(r.access(0, a.va + PAGE_SIZE), 7);
}

TEST(fw_memory_failure, early_kill_by_prctl_or_the_sysctl_signals_at_once) {
  for (int how = 0; how < 2; ++how) {
    fw::Params p = quiet_params();
    p.memory_failure_early_kill = how == 1;
    Rig r(spec_mb(64), p);
    const AnonPage a = anon_page(r, "early");
    ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
    if (how == 0) {
      ASSERT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKill, uapi::kPrMceKillSet, uapi::kPrMceKillEarly), 0);
    }
    EXPECT_EQ(r.k->memory_failure().memory_failure(r.cpu(), a.pfn, 0), 0);
    char want[120];
    std::snprintf(want, sizeof want, "Memory failure: %#lx: Sending SIGBUS to early:%d due to hardware memory corruption",
                  static_cast<unsigned long>(a.pfn), a.pid);
    EXPECT_TRUE(has(r, want)) << r.console();
    ASSERT_EQ(r.m->delivered().size(), 1u) << how;
    const hal::SigInfo& si = r.m->delivered()[0].si;
    EXPECT_EQ(si.code, uapi::kBusMceerrAo);
    EXPECT_EQ(si.addr, a.va) << "the page's address";
    EXPECT_EQ(si.addr_lsb, 12u);
    EXPECT_EQ(r.k->memory_failure().node_stats(0).recovered, 1u);
  }
}

// A process's own policy wins over the system's (find_early_kill_thread):
// with vm.memory_failure_early_kill set, a process that chose late kill gets
// no signal now, and BUS_MCEERR_AR when it touches the page.
TEST(fw_memory_failure, a_process_that_chose_late_kill_is_not_killed_early_by_the_sysctl) {
  fw::Params p = quiet_params();
  p.memory_failure_early_kill = true;
  Rig r(spec_mb(64), p);
  const AnonPage a = anon_page(r, "late");
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  ASSERT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKill, uapi::kPrMceKillSet, uapi::kPrMceKillLate), 0);
  EXPECT_EQ(r.k->memory_failure().memory_failure(r.cpu(), a.pfn, 0), 0);
  EXPECT_EQ(r.m->delivered().size(), 0u) << r.console();
  EXPECT_EQ(r.k->memory_failure().node_stats(0).recovered, 1u);
  EXPECT_EQ(r.k->page_fault(r.cpu(), a.va + 8, x86::PF_U), hal::TrapOutcome::skip);
  ASSERT_EQ(r.m->delivered().size(), 1u);
  EXPECT_EQ(r.m->delivered()[0].si.code, uapi::kBusMceerrAr);
  EXPECT_EQ(r.m->delivered()[0].si.addr, a.va + 8) << "the exact address of the touch";
}

TEST(fw_memory_failure, early_kill_without_a_handler_ends_the_process) {
  Rig r(spec_mb(64));
  const AnonPage a = anon_page(r, "early");
  ASSERT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKill, uapi::kPrMceKillSet, uapi::kPrMceKillEarly), 0);
  EXPECT_EQ(r.k->memory_failure().memory_failure(r.cpu(), a.pfn, 0), 0);
  // The signal is fatal: the task dies when its CPU next schedules.
  EXPECT_EQ(r.k->find_task(a.pid)->exit_pending, true);
  EXPECT_EQ(r.k->schedule(r.cpu()).pid, -1);
  EXPECT_EQ(r.k->nr_tasks(), 0u);
  EXPECT_EQ(r.k->task_stats().sigbus, 1u);
}

TEST(fw_memory_failure, consumed_error_kills_with_bus_mceerr_ar_or_goes_to_the_handler) {
  for (bool handler : {false, true}) {
    Rig r(spec_mb(64));
    const AnonPage a = anon_page(r);
    if (handler) {
      ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
    }
    const hal::TrapOutcome o = r.k->machine_check(r.cpu(), consumed(a.pfn << 12 | 0x40, a.va + 0x40));
    EXPECT_TRUE(has(r, result_line(a.pfn, "dirty LRU page", "Recovered"))) << r.console();
    char want[160];
    std::snprintf(want, sizeof want, "mce: Uncorrected hardware memory error in user-access at %llx",
                  static_cast<unsigned long long>(a.pfn << 12 | 0x40));
    EXPECT_TRUE(has(r, want)) << r.console();
    std::snprintf(want, sizeof want, "Memory failure: %#lx: Sending SIGBUS to victim:%d due to hardware memory corruption",
                  static_cast<unsigned long>(a.pfn), a.pid);
    EXPECT_TRUE(has(r, want)) << r.console();
    EXPECT_EQ(r.k->mce_stats().action_required, 1u);
    if (!handler) {
      EXPECT_EQ(o, hal::TrapOutcome::task_killed);
      EXPECT_EQ(r.k->nr_tasks(), 0u);
      EXPECT_EQ(r.k->task_stats().sigbus, 1u);
      continue;
    }
    EXPECT_EQ(o, hal::TrapOutcome::skip);
    ASSERT_EQ(r.m->delivered().size(), 1u);
    EXPECT_EQ(r.m->delivered()[0].si.code, uapi::kBusMceerrAr);
    EXPECT_EQ(r.m->delivered()[0].si.addr, a.va) << "kill_proc: the page's address";
    EXPECT_EQ(r.m->delivered()[0].si.addr_lsb, 12u);
    // The touch again: the hwpoison entry answers it, at the exact address.
    EXPECT_EQ(r.k->page_fault(r.cpu(), a.va + 0x40, x86::PF_U), hal::TrapOutcome::skip);
    ASSERT_EQ(r.m->delivered().size(), 2u);
    EXPECT_EQ(r.m->delivered()[1].si.addr, a.va + 0x40);
    EXPECT_EQ(r.k->memory_failure().num_poisoned_pages(), 1u);
  }
}

TEST(fw_memory_failure, scrub_find_goes_to_memory_failure_as_action_optional) {
  Rig r(spec_mb(64));
  const AnonPage a = anon_page(r);
  hal::MachineCheck mc{};
  mc.pa = a.pfn << 12;
  EXPECT_EQ(r.k->machine_check(r.cpu(), mc), hal::TrapOutcome::retry);
  EXPECT_EQ(r.k->mce_stats().action_optional, 1u);
  EXPECT_TRUE(has(r, result_line(a.pfn, "dirty LRU page", "Recovered"))) << r.console();
  EXPECT_EQ(r.k->nr_tasks(), 1u);
}

TEST(fw_memory_failure, mlocked_page_is_unmapped_and_munlocked) {
  Rig r(spec_mb(64));
  const AnonPage a = anon_page(r);
  ASSERT_EQ(r.sys(0, hal::Sys::mlock, a.va, PAGE_SIZE), 0);
  EXPECT_EQ(meminfo_kb(r, "Mlocked"), 4u);
  EXPECT_EQ(r.k->memory_failure().memory_failure(r.cpu(), a.pfn, 0), 0);
  // 6.18's order: unmapping from the locked VMA munlocks the page (back on
  // an evictable list), and the flags now match the plain LRU row first.
  EXPECT_TRUE(has(r, result_line(a.pfn, "dirty LRU page", "Recovered"))) << r.console();
  EXPECT_EQ(meminfo_kb(r, "Mlocked"), 0u);
  EXPECT_EQ(meminfo_kb(r, "Unevictable"), 0u);
  mapping_check(*r.k, r.cpu());
}

// A machine with one 64 KiB file on a RAM disk (byte o holds pattern(o)),
// open read-write as fd, and a process on CPU 0.
uint8_t pattern(uint64_t o) { return static_cast<uint8_t>(o * 7 + 3 + (o >> 12)); }
struct FileRig {
  FileRig() : r(spec_mb(64)) {
    fw::brd_device* disk = fw::brd_create(r.cpu(), &r.k->ctx(), "ram0", 16 * MiB, 512);
    EXPECT_NE(disk, nullptr);
    const fw::mmfs::file_spec files[] = {{1, "data", 64 * KiB}};
    std::vector<uint8_t> image(64 * KiB);
    uint64_t used = 0;
    EXPECT_EQ(fw::mmfs::mkfs(files, 1, 16 * MiB, 512, image.data(), image.size(), &used), 0);
    EXPECT_TRUE(fw::brd_write(r.cpu(), disk, 0, image.data(), used));
    fw::mmfs::super_block_disk sb;
    std::memcpy(&sb, image.data(), sizeof sb);
    fw::mmfs::inode_disk d;
    std::memcpy(&d, image.data() + sb.block_size, sizeof d);
    std::vector<uint8_t> content(d.allocated);
    for (uint64_t o = 0; o < content.size(); ++o) content[o] = pattern(o);
    EXPECT_TRUE(fw::brd_write(r.cpu(), disk, fw::mmfs::file_disk_offset(sb, d, 0), content.data(), content.size()));
    EXPECT_EQ(r.k->mmfs().mount_all(r.cpu()), 1u);
    pid = r.start_process(0, "mapper");
    fd = r.sys(0, hal::Sys::open, 0, uapi::kORdwr);
    EXPECT_GE(fd, 0);
    map = static_cast<uint64_t>(r.sys(0, hal::Sys::mmap, 0, 64 * KiB, fw::PROT_READ | fw::PROT_WRITE, fw::MAP_SHARED,
                                      static_cast<uint64_t>(fd), 0));
  }
  uint8_t byte_at(uint64_t va) {
    uint8_t b;
    std::memcpy(&b, r.m->raw(r.access(0, va, x86::Access::read), 1), 1);
    return b;
  }
  Rig r;
  int pid = 0;
  int64_t fd = -1;
  uint64_t map = 0;
};

TEST(fw_memory_failure, clean_page_cache_page_is_dropped_and_read_again) {
  FileRig f;
  const uint64_t va = f.map + 2 * PAGE_SIZE;
  EXPECT_EQ(f.byte_at(va + 5), pattern(2 * PAGE_SIZE + 5));
  const uint64_t pfn = f.r.access(0, va, x86::Access::read) >> 12;
  EXPECT_EQ(f.r.k->memory_failure().memory_failure(f.r.cpu(), pfn, 0), 0);
  EXPECT_TRUE(has(f.r, line("Memory failure: %#lx: corrupted page was clean: dropped without side effects", pfn)))
      << f.r.console();
  EXPECT_TRUE(has(f.r, result_line(pfn, "clean LRU page", "Recovered")));
  // Nobody killed; the next access reads the file again into another page.
  EXPECT_EQ(f.byte_at(va + 5), pattern(2 * PAGE_SIZE + 5));
  EXPECT_NE(f.r.access(0, va, x86::Access::read) >> 12, pfn);
  EXPECT_EQ(f.r.k->nr_tasks(), 1u);
  EXPECT_EQ(f.r.sys(0, hal::Sys::fsync, static_cast<uint64_t>(f.fd)), 0);
  mapping_check(*f.r.k, f.r.cpu());
}

// Consumed by a task that cannot restart (MCG_STATUS.RIPV clear): the page
// is not dropped quietly, the task gets BUS_MCEERR_AR (MF_MUST_KILL); with
// RIPV the clean page is dropped and the access retries.
TEST(fw_memory_failure, a_consumed_clean_page_kills_the_task_that_cannot_restart) {
  for (bool ripv : {true, false}) {
    FileRig f;
    const uint64_t va = f.map + 3 * PAGE_SIZE;
    EXPECT_EQ(f.byte_at(va + 5), pattern(3 * PAGE_SIZE + 5));
    ASSERT_EQ(f.r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
    const uint64_t pa = f.r.access(0, va, x86::Access::read);
    hal::MachineCheck rec = fw::Mce::record_of(consumed(pa + 5, va + 5));
    if (!ripv) rec.mcg_status &= ~x86::MCG_STATUS_RIPV;
    const hal::TrapOutcome o = f.r.k->machine_check(f.r.cpu(), rec);
    const bool dropped = has(f.r, line("Memory failure: %#lx: corrupted page was clean: dropped without side effects",
                                       pa >> 12));
    EXPECT_EQ(dropped, ripv) << f.r.console();
    if (ripv) {
      EXPECT_EQ(o, hal::TrapOutcome::retry);
      EXPECT_EQ(f.r.m->delivered().size(), 0u);
      continue;
    }
    EXPECT_EQ(o, hal::TrapOutcome::skip) << "to the handler";
    ASSERT_EQ(f.r.m->delivered().size(), 1u);
    EXPECT_EQ(f.r.m->delivered()[0].si.code, uapi::kBusMceerrAr);
    EXPECT_EQ(f.r.m->delivered()[0].si.addr, va);
  }
}

TEST(fw_memory_failure, dirty_page_cache_page_fails_fsync_and_kills_its_mapper_late) {
  FileRig f;
  const uint64_t va = f.map + PAGE_SIZE;
  f.r.write64(f.r.access(0, va, x86::Access::write), 0xdead);  // dirty through the mapping
  const uint64_t pfn = f.r.access(0, va, x86::Access::read) >> 12;
  EXPECT_EQ(f.r.k->memory_failure().memory_failure(f.r.cpu(), pfn, 0), 0);
  EXPECT_TRUE(has(f.r, result_line(pfn, "dirty LRU page", "Recovered"))) << f.r.console();
  // The data is lost: fsync says so once (mapping_set_error)...
  EXPECT_EQ(f.r.sys(0, hal::Sys::fsync, static_cast<uint64_t>(f.fd)), -EIO);
  EXPECT_EQ(f.r.sys(0, hal::Sys::fsync, static_cast<uint64_t>(f.fd)), 0);
  // ...and the mapper's next touch of the page is SIGBUS (hwpoison entry).
  EXPECT_EQ(f.r.access(0, va + 8, x86::Access::read), ~0ull);
  ASSERT_EQ(f.r.m->ended().size(), 1u);
  EXPECT_EQ(f.r.m->ended()[0].signal, uapi::kSigbus);
}

// Soft offline of a mapped page-cache page dirty only in its flags (written
// by pwrite, mapped by a load): migrated through the file's mapping (6.18's
// filemap_migrate_folio) -- same data at a new pfn, the cache's slot and
// the PTE moved, still dirty with its counters, the isolation counted as a
// file page's -- and fsync then writes it from its new place.
TEST(fw_soft_offline, a_mapped_dirty_page_cache_page_moves_and_stays_dirty) {
  FileRig f;
  fw::Kernel& k = *f.r.k;
  const uint64_t buf = static_cast<uint64_t>(f.r.mmap(0, 0, PAGE_SIZE));
  f.r.write64(f.r.access(0, buf) + 16, 0x5eed5eed);
  ASSERT_EQ(f.r.sys(0, hal::Sys::pwrite64, static_cast<uint64_t>(f.fd), buf, PAGE_SIZE, PAGE_SIZE), PAGE_SIZE);
  const uint64_t va = f.map + PAGE_SIZE;
  const uint64_t old_pfn = f.r.access(0, va, x86::Access::read) >> 12;
  const fw::page* op = k.nodes().pfn_to_page(old_pfn);
  ASSERT_TRUE(fw::PageFlag(op, fw::PG_dirty));
  const int64_t dirty = k.vmstat().node_total(fw::NR_FILE_DIRTY);
  const int64_t file_pages = k.vmstat().node_total(fw::NR_FILE_PAGES);
  const int64_t mapped = k.vmstat().node_total(fw::NR_FILE_MAPPED);

  ASSERT_EQ(f.r.madvise(0, va, PAGE_SIZE, uapi::kMadvSoftOffline), 0) << f.r.console();
  const uint64_t new_pa = f.r.access(0, va, x86::Access::read);
  const uint64_t new_pfn = new_pa >> 12;
  EXPECT_NE(new_pfn, old_pfn);
  EXPECT_EQ(f.r.read64(new_pa + 16), 0x5eed5eedu);
  EXPECT_EQ(f.byte_at(va + 100), 0) << "the rest of the written page (the buffer's zeroes)";
  const fw::page* np = k.nodes().pfn_to_page(new_pfn);
  EXPECT_TRUE(fw::PageFlag(np, fw::PG_dirty)) << "dirty stays dirty";
  EXPECT_NE(fw::page_host(np), nullptr) << "in the file's cache";
  EXPECT_TRUE(fw::PageHWPoison(op));
  EXPECT_EQ(fw::page_ref_count(op), 1);
  EXPECT_EQ(op->mapping, 0u);
  EXPECT_EQ(k.vmstat().node_total(fw::NR_FILE_DIRTY), dirty);
  EXPECT_EQ(k.vmstat().node_total(fw::NR_FILE_PAGES), file_pages);
  EXPECT_EQ(k.vmstat().node_total(fw::NR_FILE_MAPPED), mapped);
  EXPECT_EQ(k.vmstat().node_total(fw::NR_ISOLATED_FILE), 0);
  EXPECT_EQ(k.vmstat().node_total(fw::NR_ISOLATED_ANON), 0);
  EXPECT_EQ(meminfo_kb(f.r, "HardwareCorrupted"), 4u);
  EXPECT_EQ(f.r.console().find("isolation failed"), std::string::npos) << f.r.console();
  EXPECT_EQ(f.byte_at(f.map + 2 * PAGE_SIZE + 5), pattern(2 * PAGE_SIZE + 5)) << "the other pages untouched";
  // Written back from its new place; the file reads it back.
  EXPECT_EQ(f.r.sys(0, hal::Sys::fsync, static_cast<uint64_t>(f.fd)), 0);
  EXPECT_FALSE(fw::PageFlag(np, fw::PG_dirty));
  EXPECT_EQ(k.vmstat().node_total(fw::NR_FILE_DIRTY), dirty - 1);
  mapping_check(k, f.r.cpu());
}

// A clean page-cache page nobody maps is still dropped, not migrated
// ("invalidated"): the next read takes it from the disk again.
TEST(fw_soft_offline, a_clean_unmapped_page_cache_page_is_invalidated) {
  FileRig f;
  fw::Kernel& k = *f.r.k;
  hal::Hal& h = f.r.cpu();
  const uint64_t buf = static_cast<uint64_t>(f.r.mmap(0, 0, PAGE_SIZE));
  ASSERT_EQ(f.r.sys(0, hal::Sys::pread64, static_cast<uint64_t>(f.fd), buf, PAGE_SIZE, 12 * PAGE_SIZE), PAGE_SIZE);
  fw::address_space* mapping = k.filemap().find_inode(1)->i_mapping;
  fw::page* p = k.filemap().find_get_page(h, mapping, 12);
  ASSERT_NE(p, nullptr);
  const uint64_t pfn = k.nodes().page_to_pfn(p);
  k.ctx().page_alloc->put_page(h, p);
  const uint64_t migrated = k.vmstat().event[fw::PGMIGRATE_SUCCESS];

  ASSERT_EQ(k.memory_failure().soft_offline_page(h, pfn, 0), 0) << f.r.console();
  EXPECT_TRUE(has(f.r, line("Soft offline: %#lx: invalidated", pfn))) << f.r.console();
  EXPECT_EQ(k.vmstat().event[fw::PGMIGRATE_SUCCESS], migrated);
  EXPECT_EQ(k.filemap().find_get_page(h, mapping, 12), nullptr) << "left the cache";
  EXPECT_EQ(meminfo_kb(f.r, "HardwareCorrupted"), 4u);
  // Read again from the disk, into another page.
  ASSERT_EQ(f.r.sys(0, hal::Sys::pread64, static_cast<uint64_t>(f.fd), buf, PAGE_SIZE, 12 * PAGE_SIZE), PAGE_SIZE);
  EXPECT_EQ(f.byte_at(buf + 9), pattern(12 * PAGE_SIZE + 9));
  mapping_check(k, h);
}

TEST(fw_memory_failure, copy_in_from_a_poisoned_buffer_is_efault_and_the_page_is_handled) {
  FileRig f;
  const uint64_t buf = static_cast<uint64_t>(f.r.mmap(0, 0, PAGE_SIZE));
  const uint64_t pa = f.r.access(0, buf);
  f.r.m->inject_poison(pa + 0x100);
  EXPECT_EQ(f.r.sys(0, hal::Sys::pwrite64, static_cast<uint64_t>(f.fd), buf, 512, 0), -EFAULT);
  char want[96];
  std::snprintf(want, sizeof want, "mce: Kernel accessed poison in user space at %llx",
                static_cast<unsigned long long>(pa));
  EXPECT_TRUE(has(f.r, want)) << f.r.console();
  // memory_failure() before the return to user: the buffer's page is
  // retired, its owner killed late.
  EXPECT_TRUE(has(f.r, result_line(pa >> 12, "dirty LRU page", "Recovered")));
  EXPECT_EQ(f.r.k->nr_tasks(), 1u);
  EXPECT_EQ(f.byte_at(f.map), pattern(0)) << "the file is unchanged";
}

TEST(fw_memory_failure, copy_on_write_of_a_poisoned_page_is_sigbus_and_the_page_is_handled) {
  Rig r(spec_mb(64));
  const AnonPage a = anon_page(r, "parent");
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  ASSERT_GT(r.fork(0), 0);  // the child shares the page, read-only
  r.m->inject_poison(a.pfn << 12);
  EXPECT_EQ(r.k->page_fault(r.cpu(), a.va + 0x10, x86::PF_U | x86::PF_W | x86::PF_P), hal::TrapOutcome::skip);
  ASSERT_EQ(r.m->delivered().size(), 1u);
  EXPECT_EQ(r.m->delivered()[0].si.code, uapi::kBusMceerrAr);
  EXPECT_EQ(r.m->delivered()[0].si.addr, a.va + 0x10);
  EXPECT_EQ(r.m->delivered()[0].si.addr_lsb, 12u);
  // The queued memory_failure() runs with the CPU's deferred work.
  r.k->run_deferred_work(r.cpu());
  EXPECT_TRUE(has(r, result_line(a.pfn, "dirty LRU page", "Recovered"))) << r.console();
  mapping_check(*r.k, r.cpu());
}

// An anonymous page put in the swap cache while mapped (reclaim's first
// step: a slot, PG_dirty), then, with `written`, written to the slot and
// its PTE clean (a page swapped in by a read looks so).
void to_swap_cache(Rig& r, const AnonPage& a, bool written) {
  fw::brd_device* disk = fw::brd_create(r.cpu(), &r.k->ctx(), "swap0", 4 * MiB, 512);
  ASSERT_NE(disk, nullptr);
  std::vector<uint8_t> hdr(PAGE_SIZE, 0);
  fw::mkswap_header(hdr.data(), 4 * MiB);
  ASSERT_TRUE(fw::brd_write(r.cpu(), disk, 0, hdr.data(), hdr.size()));
  ASSERT_EQ(r.k->swapfile().swapon(r.cpu(), &disk->bdev), 0);
  fw::page* p = r.k->nodes().pfn_to_page(a.pfn);
  fw::get_page(p);
  ASSERT_TRUE(r.k->swap_cache().add_to_swap(r.cpu(), p));
  if (written) {
    ASSERT_EQ(r.k->swap_cache().swap_writepage(r.cpu(), p), 0);
    // As if the page had come back by a read fault: its PTE is clean too.
    fw::PteLookup l;
    ASSERT_TRUE(r.k->translate(r.cpu(), a.pid, a.va, &l));
    r.k->pgtable().write_entry(r.cpu(), l.entry_pa, l.entry & ~x86::PTE_D);
    r.k->tlb().flush_tlb_page(r.cpu(), r.k->mm_of(a.pid), a.va);
  }
  r.k->page_alloc().put_page(r.cpu(), p);
  ASSERT_TRUE(fw::PageSwapCache(p));
  ASSERT_EQ(fw::PageFlag(p, fw::PG_dirty), !written);
}

TEST(fw_memory_failure, dirty_swap_cache_page_is_delayed_and_a_fault_on_its_slot_kills) {
  Rig r(spec_mb(64));
  const AnonPage a = anon_page(r);
  to_swap_cache(r, a, false);
  EXPECT_EQ(r.k->memory_failure().memory_failure(r.cpu(), a.pfn, 0), 0);
  EXPECT_TRUE(has(r, line("Memory failure: %#lx: keeping poisoned page in swap cache", a.pfn))) << r.console();
  EXPECT_TRUE(has(r, result_line(a.pfn, "dirty swapcache page", "Delayed")));
  EXPECT_EQ(r.k->memory_failure().node_stats(0).delayed, 1u);
  mapping_check(*r.k, r.cpu());
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  EXPECT_EQ(r.k->page_fault(r.cpu(), a.va + 8, x86::PF_U), hal::TrapOutcome::skip);
  ASSERT_EQ(r.m->delivered().size(), 1u);
  EXPECT_EQ(r.m->delivered()[0].si.code, uapi::kBusMceerrAr);
  EXPECT_EQ(r.m->delivered()[0].si.addr, a.va + 8);
}

TEST(fw_memory_failure, clean_swap_cache_page_leaves_the_cache_and_the_slot_is_read_again) {
  Rig r(spec_mb(64));
  const AnonPage a = anon_page(r);
  to_swap_cache(r, a, true);
  EXPECT_EQ(r.k->memory_failure().memory_failure(r.cpu(), a.pfn, 0), 0);
  EXPECT_TRUE(has(r, result_line(a.pfn, "clean swapcache page", "Recovered"))) << r.console();
  EXPECT_FALSE(fw::PageSwapCache(r.k->nodes().pfn_to_page(a.pfn)));
  mapping_check(*r.k, r.cpu());
  // The data was on the slot: the next touch reads it into a new page.
  const uint64_t pa = r.access(0, a.va, x86::Access::read);
  EXPECT_NE(pa >> 12, a.pfn);
  EXPECT_EQ(r.read64(pa), 0x1234u);
  EXPECT_EQ(r.k->nr_tasks(), 1u);
}

TEST(fw_memory_failure, poisoned_page_table_kills_its_owner_and_is_never_reused) {
  Rig r(spec_mb(64));
  const AnonPage a = anon_page(r);
  ASSERT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), a.pid, a.va, &l));
  const uint64_t table_pfn = l.entry_pa >> 12;
  hal::MachineCheck mc = consumed(l.entry_pa, a.va);
  mc.in_page_walk = true;
  // A handler does not save it: every walk would meet the table again.
  EXPECT_EQ(r.k->machine_check(r.cpu(), mc), hal::TrapOutcome::task_killed);
  EXPECT_TRUE(has(r, result_line(table_pfn, "get hwpoison page", "Ignored"))) << r.console();
  EXPECT_TRUE(has(r, "mce: Memory error not recovered"));
  EXPECT_EQ(r.k->nr_tasks(), 0u);
  EXPECT_EQ(r.k->task_stats().sigbus, 1u);
  EXPECT_EQ(r.m->delivered().size(), 0u);
  // The table was freed with the address space but stays out of use.
  const fw::page* t = r.k->nodes().pfn_to_page(table_pfn);
  EXPECT_TRUE(fw::PageHWPoison(t));
  EXPECT_FALSE(fw::PageBuddy(t));
  EXPECT_EQ(fw::page_ref_count(t), 1);
}

TEST(fw_memory_failure, recovery_off_panics_as_linux_does) {
  fw::Params p = quiet_params();
  p.memory_failure_recovery = false;
  Rig r(spec_mb(64), p);
  EXPECT_DEATH(r.k->memory_failure().memory_failure(r.cpu(), 0x1000, 0), "");
}

}  // namespace
