// The OOM killer on the host HAL: the allocation slow path ends in
// out_of_memory only for the requests Linux kills for, the victim is the
// process with the highest oom_badness (oom_score_adj and swap entries
// included), it is killed through the task layer (at once when it is the
// faulting task, when next picked otherwise) and reaped, and
// /proc/PID/oom_score shows 6.18's scaling.
#include <vector>

#include "sw/drivers/block/brd.h"
#include "sw/mm/internal.h"
#include "sw/mm/mkswap.h"
#include "sw/mm/swapfile.h"
#include "tb/sw/mm/fw_rig.h"

namespace fwtest {
namespace {

using fw::GFP_HIGHUSER_MOVABLE;

// Touches [a, a + len) page by page as process `c`'s current task; returns
// the pages touched before the task was killed (all of them if it was not).
// A fault that found no memory is retried (pagefault_out_of_memory), as
// often as the firmware asks.
uint64_t touch(Rig& r, uint64_t a, uint64_t len) {
  uint64_t n = 0;
  for (uint64_t off = 0; off < len; off += PAGE_SIZE, ++n) {
    for (int tries = 0;; ++tries) {
      const Walk w = r.walk(0, a + off, x86::Access::write);
      if (w.status == Walk::ok) break;
      if (tries > 64) {
        ADD_FAILURE() << "fault at " << std::hex << a + off << " retried for ever";
        return n;
      }
      if (r.k->page_fault(r.cpu(), a + off, w.error_code) == hal::TrapOutcome::task_killed) return n;
    }
  }
  return n;
}

// Spawns a process on CPU 0 and switches to it (the one running there is
// preempted, as at the end of its slice).
int start(Rig& r, const char* name) {
  const int pid = r.k->spawn(r.cpu(), name, 0, nullptr);
  EXPECT_GT(pid, 0);
  for (int i = 0; i < 8 && r.k->current_pid(0) != pid; ++i) {
    r.k->interrupt(r.cpu(), x86::VEC_RESCHEDULE);
    r.k->schedule(r.cpu());
  }
  EXPECT_EQ(r.k->current_pid(0), pid);
  return pid;
}

int64_t set_adj(Rig& r, int64_t adj) { return r.sys(0, hal::Sys::sysctl, uapi::kSysctlOomScoreAdj, static_cast<uint64_t>(adj)); }

TEST(fw_oom, the_largest_process_is_killed_and_reaped_while_the_allocator_goes_on) {
  Rig r(spec_mb(64));
  const uint64_t boot_free = r.k->boot_free_pages();
  // "big" fills most of memory, then "small" (current from then on) asks for more.
  const int big = start(r, "big");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 40 * MiB));
  ASSERT_EQ(touch(r, a, 40 * MiB), 40 * MiB / PAGE_SIZE);
  const int small = start(r, "small");
  const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, 32 * MiB));
  EXPECT_EQ(touch(r, b, 32 * MiB), 32 * MiB / PAGE_SIZE) << "the faulting task survives: big was killed";
  EXPECT_EQ(r.k->vmstat().event[fw::OOM_KILL], 1u);
  EXPECT_EQ(r.k->oom().stats().kills, 1u);
  EXPECT_EQ(r.k->oom().stats().reaped, 1u);
  EXPECT_GE(r.k->oom().stats().reaped_pages, 40 * MiB / PAGE_SIZE - 64);
  const std::string& log = r.console();
  EXPECT_NE(log.find("small invoked oom-killer: gfp_mask="), std::string::npos) << log;
  EXPECT_NE(log.find("Tasks state (memory values in pages):"), std::string::npos);
  // The whole line, in kB: big's 40 MiB all resident at the kill; its page
  // tables stay until exit (the reaper frees only pages).
  EXPECT_NE(log.find("Out of memory: Killed process 1 (big) total-vm:40960kB, anon-rss:40960kB, file-rss:0kB, "
                     "shmem-rss:0kB, UID:0 pgtables:" +
                     std::to_string(r.k->mm_of(big)->pgtables * 4) + "kB oom_score_adj:0\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("oom_reaper: reaped process 1 (big), now anon-rss:0kB"), std::string::npos) << log;
  // big is dying: SIGKILL pending, its mm skipped by the next OOM.
  const fw::task_struct* t = r.k->find_task(big);
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->oom_victim && t->exit_pending);
  EXPECT_EQ(r.k->mm_of(big)->rss_anon, 0u);
  EXPECT_EQ(r.proc((std::to_string(big) + "/oom_score").c_str()), "0\n") << "a reaped task is not killable";
  // small exits; the scheduler picks big and delivers its SIGKILL.
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->schedule(r.cpu()).pid, -1);
  EXPECT_EQ(r.k->find_task(big), nullptr);
  EXPECT_EQ(r.k->task_stats().sigkill, 1u);
  EXPECT_EQ(r.k->nr_free_pages(), boot_free);
  (void)small;
}

TEST(fw_oom, oom_score_adj_picks_the_victim_and_minus_1000_is_never_killed) {
  Rig r(spec_mb(64));
  const int victim = start(r, "victim");
  ASSERT_EQ(set_adj(r, 1000), 0);
  EXPECT_EQ(set_adj(r, 1001), -EINVAL);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * MiB));
  touch(r, a, 4 * MiB);
  const int hog = start(r, "hog");
  ASSERT_EQ(set_adj(r, -1000), 0);
  EXPECT_EQ(r.proc((std::to_string(hog) + "/oom_score_adj").c_str()), "-1000\n");
  EXPECT_EQ(r.proc((std::to_string(hog) + "/oom_score").c_str()), "0\n");
  // victim's score: (1000 + badness * 1000 / totalpages) * 2 / 3 with
  // badness = rss + page tables + 1000 * (totalpages / 1000).
  const fw::mm_struct* vm = r.k->mm_of(victim);
  const int64_t total = static_cast<int64_t>(r.k->oom().totalpages());
  const int64_t badness = static_cast<int64_t>(vm->rss_anon + vm->rss_shmem + vm->pgtables) + 1000 * (total / 1000);
  EXPECT_EQ(r.proc((std::to_string(victim) + "/oom_score").c_str()),
            std::to_string((1000 + badness * 1000 / total) * 2 / 3) + "\n");
  const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, 64 * MiB));
  // victim goes first (its 4 MiB help a little), then nothing is left to
  // kill: the kernel panics as 6.18 does (the console echoed to see the order).
  EXPECT_DEATH(
      {
        r.m->set_echo(true);
        touch(r, b, 64 * MiB);
      },
      "Killed process 1 \\(victim\\).*Out of memory and no killable processes\\.\\.\\..*"
      "Kernel panic - not syncing: System is deadlocked on memory.*halted: System is deadlocked on memory");
  EXPECT_EQ(r.k->oom().stats().kills, 0u) << "the parent of the death test did not run it";
}

// With swap, a process's swap entries count in its badness as its RSS
// does, and totalpages is RAM plus swap (Linux oom_badness, oom_score).
TEST(fw_oom, swapped_out_pages_count_in_the_badness) {
  Rig r(spec_mb(64));
  fw::brd_device* d = fw::brd_create(r.cpu(), &r.k->ctx(), "swap0", 32 * MiB, 512);
  ASSERT_NE(d, nullptr);
  std::vector<uint8_t> hdr(PAGE_SIZE);
  fw::mkswap_header(hdr.data(), 32 * MiB);
  ASSERT_TRUE(fw::brd_write(r.cpu(), d, 0, hdr.data(), hdr.size()));
  ASSERT_EQ(r.k->swapfile().swapon(r.cpu(), &d->bdev), 0);
  // "swapped": 16 MiB, 14 of them paged out; "resident": 8 MiB in memory.
  const int a = start(r, "swapped");
  const uint64_t va = static_cast<uint64_t>(r.mmap(0, 0, 16 * MiB));
  ASSERT_EQ(touch(r, va, 16 * MiB), 16 * MiB / PAGE_SIZE);
  ASSERT_EQ(r.madvise(0, va, 14 * MiB, uapi::kMadvPageout), 0);
  const int b = start(r, "resident");
  const uint64_t vb = static_cast<uint64_t>(r.mmap(0, 0, 8 * MiB));
  ASSERT_EQ(touch(r, vb, 8 * MiB), 8 * MiB / PAGE_SIZE);
  const fw::mm_struct* am = r.k->mm_of(a);
  const fw::mm_struct* bm = r.k->mm_of(b);
  ASSERT_EQ(am->swapents, 14 * MiB / PAGE_SIZE);
  ASSERT_LT(am->rss_anon, bm->rss_anon);
  ASSERT_GT(am->rss_anon + am->swapents, bm->rss_anon + bm->pgtables);
  const uint64_t total = r.k->nodes().total_managed_pages() + r.k->swapfile().total_swap_pages();
  EXPECT_EQ(r.k->oom().totalpages(), total);
  const int64_t badness = static_cast<int64_t>(am->rss_anon + am->rss_shmem + am->swapents + am->pgtables);
  EXPECT_EQ(r.proc((std::to_string(a) + "/oom_score").c_str()),
            std::to_string((1000 + badness * 1000 / static_cast<int64_t>(total)) * 2 / 3) + "\n");
  fw::alloc_context ac{};
  ASSERT_TRUE(r.k->oom().out_of_memory(r.cpu(), fw::GFP_KERNEL, 0, ac));
  EXPECT_NE(r.console().find("Killed process " + std::to_string(a) + " (swapped)"), std::string::npos) << r.console();
}

TEST(fw_oom, requests_linux_never_resolves_by_killing_fail_instead) {
  Rig r(spec_mb(64));
  start(r, "hog");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 40 * MiB));
  touch(r, a, 40 * MiB);
  start(r, "other");
  // Take everything the min watermark allows without killing anyone.
  std::vector<fw::page*> held;
  while (fw::page* p = r.k->page_alloc().alloc_pages(r.cpu(), GFP_HIGHUSER_MOVABLE | fw::__GFP_NORETRY, 0))
    held.push_back(p);
  const uint64_t inv = r.k->oom().stats().invocations;
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), GFP_HIGHUSER_MOVABLE | fw::__GFP_NORETRY, 0), nullptr);
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_RETRY_MAYFAIL, 0), nullptr);
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_DMA32, 0), nullptr);
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_COMP, 4), nullptr);
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_NOFS, 0), nullptr);
  EXPECT_EQ(r.k->oom().stats().kills, 0u);
  EXPECT_EQ(r.k->oom().stats().invocations, inv + 1) << "only the no-fs request reached out_of_memory";
  EXPECT_EQ(r.k->oom().stats().skipped, 1u);
  // A GFP_KERNEL order-0 request kills hog (the largest) and succeeds.
  fw::page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 0);
  EXPECT_NE(p, nullptr);
  EXPECT_EQ(r.k->oom().stats().kills, 1u);
  EXPECT_NE(r.console().find("Killed process 1 (hog)"), std::string::npos);
  if (p) r.k->page_alloc().free_pages(r.cpu(), p, 0);
  for (fw::page* q : held) r.k->page_alloc().free_pages(r.cpu(), q, 0);
}

}  // namespace
}  // namespace fwtest
