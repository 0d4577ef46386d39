// Processes and threads: fork with copy-on-write (parent and
// child isolated both ways, a sole owner reusing its page, the zero page
// copied on write, shared anonymous memory shared), threads sharing the
// address space, exit of a thread, exit_group and fatal signals ending the
// whole thread group (running threads on other CPUs included), every page,
// anon_vma and page table given back. After each step the mapping checker
// compares every mapcount and reference count with the page tables.
#include <gtest/gtest.h>

#include <vector>

#include "sw/lib/errno.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

constexpr uint64_t RW = fw::PROT_READ | fw::PROT_WRITE;

uint64_t pa_of(Rig& r, int pid, uint64_t va) {
  fw::PteLookup l;
  if (!r.k->translate(r.cpu(), pid, va, &l)) return ~0ull;
  return l.entry & x86::phys_mask(46) & ~(x86::level_size(l.level) - 1);
}

// Writes v at va through CPU c (a user store: faults as needed).
void store(Rig& r, unsigned c, uint64_t va, uint64_t v) {
  const uint64_t pa = r.access(c, va, x86::Access::write);
  ASSERT_NE(pa, ~0ull);
  r.write64(pa, v);
}
uint64_t load(Rig& r, unsigned c, uint64_t va) {
  const uint64_t pa = r.access(c, va, x86::Access::read);
  EXPECT_NE(pa, ~0ull);
  return pa == ~0ull ? ~0ull : r.read64(pa);
}

TEST(fw_fork, copy_on_write_isolates_parent_and_child_both_ways) {
  Rig r(spec_mb(128, 2));
  r.m->enable_tlb_model(true);
  const int parent = r.start_process(0, "parent");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 16 * PAGE_SIZE));
  for (unsigned i = 0; i < 12; ++i) store(r, 0, a + i * PAGE_SIZE, 0x1000 + i);
  for (unsigned i = 12; i < 16; ++i) EXPECT_EQ(load(r, 0, a + i * PAGE_SIZE), 0u);  // the zero page
  mapping_check(*r.k, r.cpu());

  const int child = static_cast<int>(r.fork(0, 1, reinterpret_cast<void*>(0xc)));
  ASSERT_GT(child, parent);
  EXPECT_EQ(r.k->find_task(child)->cpu, 1u);
  EXPECT_NE(r.k->mm_of(child), r.k->mm_of(parent));
  // Shared, read-only in both, two mappings and two references per page.
  for (unsigned i = 0; i < 12; ++i) {
    const uint64_t pa = pa_of(r, parent, a + i * PAGE_SIZE);
    EXPECT_EQ(pa_of(r, child, a + i * PAGE_SIZE), pa);
    fw::page* p = r.k->nodes().phys_to_page(pa);
    EXPECT_EQ(fw::page_mapcount(p), 2);
    EXPECT_EQ(p->_refcount, 2);
  }
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), parent, a, &l));
  EXPECT_FALSE(l.entry & x86::PTE_RW);
  mapping_check(*r.k, r.cpu());
  // The parent's TLB lost its writable entries (fork shot them down).
  EXPECT_EQ(r.cpu(0).tlb_lookup(a), nullptr);

  ASSERT_EQ(r.k->schedule(r.cpu(1)).pid, child);
  EXPECT_EQ(r.k->schedule(r.cpu(1)).user, reinterpret_cast<void*>(0xc));
  // The child writes page 0: its own copy; the parent keeps the old one.
  const uint64_t old0 = pa_of(r, parent, a);
  store(r, 1, a, 0xc0);
  EXPECT_NE(pa_of(r, child, a), old0);
  EXPECT_EQ(pa_of(r, parent, a), old0);
  EXPECT_EQ(load(r, 0, a), 0x1000u);
  EXPECT_EQ(load(r, 1, a), 0xc0u);
  // The parent, now the only owner of page 0, writes it in place.
  const uint64_t reuse = r.k->vmstat().event[fw::PGREUSE];
  store(r, 0, a, 0xa0);
  EXPECT_EQ(pa_of(r, parent, a), old0);
  EXPECT_EQ(r.k->vmstat().event[fw::PGREUSE], reuse + 1);
  // The parent writes page 1 while shared: copies; the child sees its old data.
  store(r, 0, a + PAGE_SIZE, 0xa1);
  EXPECT_EQ(load(r, 1, a + PAGE_SIZE), 0x1001u);
  EXPECT_EQ(load(r, 0, a + PAGE_SIZE), 0xa1u);
  // Zero-page entries: each side's write gets a fresh page.
  store(r, 1, a + 12 * PAGE_SIZE, 0xc12);
  EXPECT_EQ(load(r, 0, a + 12 * PAGE_SIZE), 0u);
  EXPECT_EQ(r.k->memory().is_zero_pfn(pa_of(r, parent, a + 12 * PAGE_SIZE) >> 12), true);
  for (unsigned i = 2; i < 12; ++i) {
    EXPECT_EQ(load(r, 0, a + i * PAGE_SIZE), 0x1000u + i);
    EXPECT_EQ(load(r, 1, a + i * PAGE_SIZE), 0x1000u + i);
  }
  mapping_check(*r.k, r.cpu());
  EXPECT_GE(r.k->memory().stats().cow, 3u);

  // The child exits: its copies go, the shared pages are the parent's alone.
  EXPECT_EQ(r.sys(1, hal::Sys::exit, 3), 0);
  ASSERT_FALSE(r.m->ended().empty());
  EXPECT_EQ(r.m->ended().back().pid, child);
  EXPECT_EQ(r.m->ended().back().exit_status, 3);
  for (unsigned i = 2; i < 12; ++i) EXPECT_EQ(fw::page_mapcount(r.k->nodes().phys_to_page(pa_of(r, parent, a + i * PAGE_SIZE))), 1);
  mapping_check(*r.k, r.cpu());
  EXPECT_EQ(r.sys(0, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  EXPECT_EQ(r.k->rmap().stats().anon_vmas, 0u);
  EXPECT_EQ(r.k->rmap().stats().chains, 0u);
  EXPECT_EQ(r.k->pgtable().stats().pages, r.k->pgtable().stats().kernel_pages);
  full_check(*r.k, {});
}

TEST(fw_fork, shared_anonymous_memory_is_shared_and_survives_dontneed) {
  Rig r(spec_mb(128, 2));
  const int parent = r.start_process(0, "parent");
  const uint64_t s = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE, RW, fw::MAP_SHARED | fw::MAP_ANONYMOUS));
  const uint64_t p = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE));
  store(r, 0, s, 111);
  store(r, 0, p, 222);
  const int child = static_cast<int>(r.fork(0, 1));
  ASSERT_EQ(r.k->schedule(r.cpu(1)).pid, child);
  // The child sees the shared page (a fault maps the object's page) and
  // a copy-on-write view of the private one.
  EXPECT_EQ(load(r, 1, s), 111u);
  EXPECT_EQ(load(r, 1, p), 222u);
  store(r, 1, s + 8, 333);   // both see it
  store(r, 1, p + 8, 444);   // only the child
  EXPECT_EQ(load(r, 0, s + 8), 333u);
  EXPECT_EQ(load(r, 0, p + 8), 0u);
  EXPECT_EQ(pa_of(r, parent, s), pa_of(r, child, s));
  mapping_check(*r.k, r.cpu());
  // MADV_DONTNEED on shared memory unmaps but keeps the data; on private
  // memory the next read is zero.
  EXPECT_EQ(r.madvise(1, s, 4 * PAGE_SIZE, uapi::kMadvDontneed), 0);
  EXPECT_EQ(r.madvise(1, p, 4 * PAGE_SIZE, uapi::kMadvDontneed), 0);
  EXPECT_EQ(load(r, 1, s), 111u);
  EXPECT_EQ(load(r, 1, s + 8), 333u);
  EXPECT_EQ(load(r, 1, p), 0u);
  EXPECT_EQ(load(r, 0, p), 222u) << "the parent's private page is untouched";
  mapping_check(*r.k, r.cpu());
  EXPECT_EQ(r.k->shmem().stats().objects, 1u);
  EXPECT_EQ(r.sys(0, hal::Sys::exit, 0), 0);
  EXPECT_EQ(load(r, 1, s + 8), 333u) << "the object lives while the child maps it";
  EXPECT_EQ(r.sys(1, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.k->shmem().stats().objects, 0u);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  full_check(*r.k, {});
}

TEST(fw_fork, threads_share_the_address_space_until_the_last_exits) {
  Rig r(spec_mb(128, 3));
  const int main_pid = r.start_process(0, "main");
  fw::mm_struct* mm = r.k->mm_of(main_pid);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 8 * PAGE_SIZE));
  store(r, 0, a, 1);
  const int t1 = static_cast<int>(r.clone_thread(0, 1, reinterpret_cast<void*>(0x71)));
  const int t2 = static_cast<int>(r.clone_thread(0, 2, reinterpret_cast<void*>(0x72)));
  ASSERT_GT(t1, 0);
  ASSERT_GT(t2, 0);
  EXPECT_EQ(r.k->mm_of(t1), mm);
  EXPECT_EQ(mm->mm_users, 3);
  EXPECT_EQ(r.k->schedule(r.cpu(1)).pid, t1);
  EXPECT_EQ(r.k->schedule(r.cpu(2)).pid, t2);
  EXPECT_EQ(r.sys(1, hal::Sys::getpid), main_pid) << "getpid is the thread group's";
  // One address space: a thread's write is the main thread's data.
  EXPECT_EQ(load(r, 1, a), 1u);
  store(r, 2, a + PAGE_SIZE, 2);
  EXPECT_EQ(load(r, 0, a + PAGE_SIZE), 2u);
  EXPECT_EQ(r.k->tlb().loaded_mm(1), mm);
  EXPECT_EQ(mm->cpu_mask, 0x7u);
  // Bad clone flags (a thread without shared signal handlers).
  EXPECT_EQ(r.sys(0, hal::Sys::clone, uapi::kCloneThread | uapi::kCloneVm, 1), -EINVAL);
  // The main thread exits: the address space stays for the others.
  EXPECT_EQ(r.sys(0, hal::Sys::exit, 0), 0);
  EXPECT_EQ(mm->mm_users, 2);
  EXPECT_EQ(load(r, 1, a + PAGE_SIZE), 2u);
  EXPECT_EQ(r.sys(1, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.sys(2, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.k->nr_tasks(), 0u);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  ASSERT_EQ(r.m->ended().size(), 3u);
  EXPECT_EQ(r.m->ended()[1].user, reinterpret_cast<void*>(0x71));
}

TEST(fw_fork, exit_group_and_fatal_signals_end_the_whole_group) {
  Rig r(spec_mb(128, 3));
  const int main_pid = r.start_process(0, "main");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE));
  store(r, 0, a, 1);
  // Two threads: one runs on CPU 1, one waits on CPU 2's run queue.
  const int t1 = static_cast<int>(r.clone_thread(0, 1));
  const int t2 = static_cast<int>(r.clone_thread(0, 2));
  ASSERT_EQ(r.k->schedule(r.cpu(1)).pid, t1);
  // exit_group: the waiting thread ends at once, the running one when its
  // CPU next enters the firmware.
  EXPECT_EQ(r.sys(0, hal::Sys::exit_group, 7), 0);
  EXPECT_EQ(r.k->find_task(t2), nullptr);
  ASSERT_NE(r.k->find_task(t1), nullptr);
  EXPECT_TRUE(r.k->find_task(t1)->exit_pending);
  EXPECT_NE(r.k->mm_of(t1), nullptr) << "the address space lives while a thread still runs on it";
  EXPECT_EQ(load(r, 1, a), 1u);  // still running user code until its next trap
  EXPECT_EQ(r.k->schedule(r.cpu(1)).pid, -1);  // its CPU reschedules: reaped
  EXPECT_EQ(r.k->nr_tasks(), 0u);
  for (const auto& e : r.m->ended()) {
    EXPECT_EQ(e.exit_status, 7) << e.pid;
    EXPECT_EQ(e.signal, 0);
  }
  EXPECT_EQ(r.m->ended().size(), 3u);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());

  // A segfault in one thread kills the others with SIGSEGV.
  const int p2 = r.start_process(0, "victim");
  const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE));
  store(r, 0, b, 5);
  const int u1 = static_cast<int>(r.clone_thread(0, 1));
  ASSERT_EQ(r.k->schedule(r.cpu(1)).pid, u1);
  EXPECT_EQ(r.access(1, 0x1000, x86::Access::write), ~0ull);  // no mapping: SIGSEGV
  EXPECT_TRUE(r.k->find_task(p2)->exit_pending);
  // The main thread's next trap ends it (its page fault is not handled).
  EXPECT_EQ(r.k->page_fault(r.cpu(0), b + 8, x86::PF_U | x86::PF_W), hal::TrapOutcome::task_killed);
  EXPECT_EQ(r.k->nr_tasks(), 0u);
  const size_t n = r.m->ended().size();
  EXPECT_EQ(r.m->ended()[n - 1].signal, fw::kSIGSEGV);
  EXPECT_EQ(r.m->ended()[n - 2].signal, fw::kSIGSEGV);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  EXPECT_EQ(r.k->task_stats().pending_reaps, 2u);
  full_check(*r.k, {});
  (void)main_pid;
}

TEST(fw_fork, many_forks_and_exits_return_every_page) {
  Rig r(spec_mb(256, 2));
  const int root = r.start_process(0, "root");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 64 * PAGE_SIZE));
  const uint64_t s = static_cast<uint64_t>(r.mmap(0, 0, 8 * PAGE_SIZE, RW, fw::MAP_SHARED | fw::MAP_ANONYMOUS));
  for (unsigned i = 0; i < 64; i += 2) store(r, 0, a + i * PAGE_SIZE, i);
  store(r, 0, s, 9);
  // A chain: each child forks the next on the other CPU, writes a little.
  std::vector<int> pids = {root};
  for (int gen = 1; gen < 6; ++gen) {
    const unsigned c = (gen - 1) % 2, nc = gen % 2;
    const int child = static_cast<int>(r.fork(c, nc));
    ASSERT_GT(child, 0);
    if (r.k->current_pid(nc) >= 0) {
      // The CPU is busy: let its task exit first.
      EXPECT_EQ(r.sys(nc, hal::Sys::exit, 0), 0);
    }
    ASSERT_EQ(r.k->schedule(r.cpu(nc)).pid, child);
    for (unsigned i = 0; i < 64; i += 3) store(r, nc, a + i * PAGE_SIZE, gen * 100 + i);
    EXPECT_EQ(load(r, nc, s), 9u);
    mapping_check(*r.k, r.cpu());
    pids.push_back(child);
  }
  while (r.k->nr_tasks()) {
    for (unsigned c = 0; c < 2; ++c)
      if (r.k->current_pid(c) >= 0) r.sys(c, hal::Sys::exit, 0);
    for (unsigned c = 0; c < 2; ++c) r.k->schedule(r.cpu(c));
  }
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  EXPECT_EQ(r.k->rmap().stats().anon_vmas, 0u);
  EXPECT_EQ(r.k->shmem().stats().objects, 0u);
  full_check(*r.k, {});
}

}  // namespace
