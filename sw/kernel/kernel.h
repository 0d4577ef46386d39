// fw::Kernel: the firmware memory manager as a whole, implementing the
// machine's view of it (hal::Firmware) and its debug interface
// (hal::FirmwareDebug). Every piece of firmware state hangs off this object
// (no global mutable state), so several Kernels can live in one process.
// The host creates it (new or on the stack); inside, dynamic objects come
// from simulated DRAM through the buddy allocator.
//
// Lifecycle: construct (optionally with Params) -> set_params() ->
// boot(bsp, info) -> start_secondary(cpu) for the other CPUs -> spawn(),
// schedule(), traps, system calls, timer ticks. Observe with visit_stats(),
// proc_show() and dmesg() at any time.
//
// Its methods are spread as Linux spreads the code: kernel.cpp (boot,
// scheduling entry points, deferred work), fork.cpp and exit.cpp (task
// lifecycle), pid.cpp (task lookup), traps.cpp (faults and machine checks),
// syscall.cpp (system calls), irq.cpp (interrupts), debug.cpp
// (hal::FirmwareDebug: statistics, /proc, tasks, page tables).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/block/bio.h"
#include "sw/dma/dma.h"
#include "sw/drivers/block/virtio_blk.h"
#include "sw/fs/mmfs/mmfs.h"
#include "sw/drivers/dma/dmaengine.h"
#include "sw/drivers/ras/cec.h"
#include "sw/hal/debug.h"
#include "sw/hal/firmware.h"
#include "sw/hal/hal.h"
#include "sw/kernel/irq.h"
#include "sw/kernel/params.h"
#include "sw/kernel/sched.h"
#include "sw/kernel/syscall.h"
#include "sw/kernel/task.h"
#include "sw/kernel/traps.h"
#include "sw/lib/observe.h"
#include "sw/lib/printk.h"
#include "sw/mm/buddy.h"
#include "sw/mm/cma.h"
#include "sw/mm/compaction.h"
#include "sw/mm/filemap.h"
#include "sw/mm/context.h"
#include "sw/mm/fork.h"
#include "sw/mm/gup.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/khugepaged.h"
#include "sw/mm/madvise.h"
#include "sw/mm/memory_failure.h"
#include "sw/mm/mprotect.h"
#include "sw/mm/shmem.h"
#include "sw/mm/lru.h"
#include "sw/mm/memblock.h"
#include "sw/mm/memory.h"
#include "sw/mm/migrate.h"
#include "sw/mm/mmap.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/page_isolation.h"
#include "sw/mm/page-writeback.h"
#include "sw/mm/oom_kill.h"
#include "sw/mm/swap_state.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/workingset.h"
#include "sw/mm/pcp.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/readahead.h"
#include "sw/mm/rmap.h"
#include "sw/mm/slub.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmalloc.h"
#include "sw/mm/vmscan.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/watermark.h"

namespace fw {

class Kernel final : public hal::Firmware, public hal::FirmwareDebug, private OomTasks, private MfTasks {
 public:
  Kernel();
  explicit Kernel(const Params& params);
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // Parameters take effect at boot: false (nothing changed) once booted.
  bool set_params(const Params& params);
  const Params& params() const { return params_; }

  // ---- hal::Firmware ----
  bool boot(hal::Hal& bsp, const hal::BootInfo& info) override;
  void start_secondary(hal::Hal& cpu) override;
  int spawn(hal::Hal& caller, const char* name, unsigned cpu, void* user) override;
  hal::RunTask schedule(hal::Hal& cpu) override;
  void timer_tick(hal::Hal& cpu) override;
  hal::TrapOutcome page_fault(hal::Hal& cpu, hal::vaddr_t cr2, uint32_t error_code) override;
  hal::TrapOutcome machine_check(hal::Hal& cpu, const hal::MachineCheck& mc) override;
  hal::TrapOutcome general_protection(hal::Hal& cpu, hal::vaddr_t addr) override;
  void interrupt(hal::Hal& cpu, uint8_t vector) override;
  int64_t syscall(hal::Hal& cpu, const hal::SyscallArgs& args) override;

  // ---- hal::FirmwareDebug (observation) ----
  const char* proc_file(unsigned index) const override;
  // Linux-format text of /proc/<name>: a file of the table in
  // sw/fs/proc/root.cpp ("meminfo", "buddyinfo", "zoneinfo", "pagetypeinfo",
  // "vmstat", "slabinfo") or "<pid>/maps". Returns false for an unknown name
  // or pid.
  bool proc_show(const char* name, TextSink& out) const override;
  void dmesg(TextSink& out) const override { log_.dump(out); }
  // Every statistic, always in the same order (names relative to system.fw.).
  void visit_stats(StatVisitor& v) const override;
  void visit_tasks(hal::TaskVisitor& v) const override;
  bool page_table_root(int pid, hal::paddr_t& root) const override;
  bool translate(hal::Hal& cpu, int pid, hal::vaddr_t va, hal::Translation& out) override;
  bool fincore(const char* file, TextSink& out) const override;
  bool page_state(uint64_t pfn, TextSink& out) const override;
  void hwpoison_show(TextSink& out) const override;
  int unpoison_pfn(hal::Hal& cpu, uint64_t pfn) override { return memory_failure_.unpoison_memory(cpu, pfn); }
  bool page_info(uint64_t pfn, hal::PageInfo& out) const override;
  bool page_pte_dirty(hal::Hal& cpu, uint64_t pfn) override;
  bool corrupt_pfn(hal::Hal&, uint64_t pfn) override {
    return memory_failure_.memory_failure_try_queue(pfn, MF_SW_SIMULATED);
  }
  void set_memory_failure_observer(hal::MemoryFailureObserver* o) override { memory_failure_.set_observer(o); }

  // ---- Introspection (tests, the monitor) ----
  bool booted() const { return booted_; }
  // Returns the pid running on cpu, -1 when idle; find_task and mm_of return
  // nullptr for an unknown pid.
  int current_pid(unsigned cpu) const;
  unsigned nr_tasks() const { return static_cast<unsigned>(task_stats_.live); }
  task_struct* find_task(int pid) const;
  mm_struct* mm_of(int pid) const;
  // Free pages of the page allocator: buddy lists and per-CPU lists.
  uint64_t nr_free_pages() const { return page_alloc_.nr_free_pages(); }
  uint64_t boot_free_pages() const { return page_alloc_.stats().boot_free_pages; }
  // Deferred work of the calling CPU (kswapd, kcompactd of the nodes it
  // serves); timer ticks run it, tests may call it directly.
  void run_deferred_work(hal::Hal& h);
  // What an idle machine gives back: the per-CPU page lists and the empty
  // slabs (done when the last task exits, so leaks show exactly).
  void quiesce(hal::Hal& h);
  uint64_t kernel_root() const { return kernel_root_; }
  // Looks va up in pid's page tables (0: the kernel's). False when unmapped.
  bool translate(hal::Hal& h, int pid, uint64_t va, PteLookup* out);
  const TaskStats& task_stats() const { return task_stats_; }
  const SyscallStats& syscall_stats() const { return syscall_stats_; }
  const MceStats& mce_stats() const { return mce_.stats(); }
  Cec& cec() { return cec_; }
  const Cec& cec() const { return cec_; }
  const IrqStats& irq_stats() const { return irq_stats_; }
  const hal::BootInfo& boot_info() const { return boot_; }

  Log& log() { return log_; }
  Memblock& memblock() { return memblock_; }
  MmNodes& nodes() { return nodes_; }
  const MmNodes& nodes() const { return nodes_; }
  Buddy& buddy() { return buddy_; }
  PageAlloc& page_alloc() { return page_alloc_; }
  const PageAlloc& page_alloc() const { return page_alloc_; }
  Pcp& pcp() { return pcp_; }
  Watermark& watermark() { return watermark_; }
  const Watermark& watermark() const { return watermark_; }
  Slab& slab() { return slab_; }
  Vmalloc& vmalloc() { return vmalloc_; }
  Cma& cma() { return cma_; }
  Compaction& compaction() { return compaction_; }
  Migrate& migrate() { return migrate_; }
  PageIsolation& isolation() { return isolation_; }
  Rmap& rmap() { return rmap_; }
  Lru& lru() { return lru_; }
  Kswapd& kswapd() { return kswapd_; }
  Vmscan& vmscan() { return vmscan_; }
  Workingset& workingset() { return workingset_; }
  Shrinkers& shrinkers() { return shrinkers_; }
  Swapfile& swapfile() { return swapfile_; }
  SwapCache& swap_cache() { return swap_cache_; }
  OomKiller& oom() { return oom_; }
  MemoryFailure& memory_failure() { return memory_failure_; }
  PgTable& pgtable() { return pgtable_; }
  Tlb& tlb() { return tlb_; }
  Mmap& mmap() { return mmap_; }
  Memory& memory() { return memory_; }
  Shmem& shmem() { return shmem_; }
  Hugetlb& hugetlb() { return hugetlb_; }
  const Hugetlb& hugetlb() const { return hugetlb_; }
  HugeMemory& huge_memory() { return huge_memory_; }
  Khugepaged& khugepaged() { return khugepaged_; }
  Fork& fork() { return fork_; }
  Mprotect& mprotect() { return mprotect_; }
  Madvise& madvise() { return madvise_; }
  Dma& dma() { return dma_; }
  const Dma& dma() const { return dma_; }
  DmaEngineDriver& dma_driver() { return dma_driver_; }
  VirtioBlkDriver& blk_driver() { return blk_driver_; }
  Gup& gup() { return gup_; }
  Filemap& filemap() { return filemap_; }
  Readahead& readahead() { return readahead_; }
  Writeback& writeback() { return writeback_; }
  Mmfs& mmfs() { return mmfs_; }
  const VmStat& vmstat() const { return vmstat_; }
  MmContext& ctx() { return ctx_; }

 private:
  friend struct Syscalls;  // the system call handlers (syscall.cpp)

  // Boot stages (kernel.cpp). check_boot_info and setup_memblock return false
  // after logging why the machine cannot boot.
  bool check_boot_info(hal::Hal& h, const hal::BootInfo& bi);
  bool setup_memblock(hal::Hal& h);
  void print_memblock(hal::Hal& h);
  void print_zones(hal::Hal& h);
  // Returns the task running on h's CPU (Linux current), nullptr when idle.
  task_struct* current(hal::Hal& h) const;
  // Calls fn(u) for every thread u of t's process, t included (Linux
  // for_each_thread). fn must not add or remove tasks.
  template <class Fn>
  void for_each_thread(const task_struct* t, Fn&& fn) {
    const int tgid = t->tgid;
    for (list_head* p = tasks_.next; p != &tasks_; p = p->next) {
      task_struct* u = list_entry(p, task_struct, tasks);
      if (u->tgid == tgid) fn(u);
    }
  }
  // Ends one task (thread): its mm goes with the last thread using it.
  void do_exit(hal::Hal& h, task_struct* t, int exit_status, int signal);
  // Ends every other thread of t's group (exit_group, fatal signals): at
  // once when not running, else when their CPU next enters the firmware.
  void kill_other_threads(hal::Hal& h, task_struct* t, int exit_status, int signal);
  // Ends t now when another CPU marked it to end. Returns true when it did.
  bool reap_if_pending(hal::Hal& h, task_struct* t);
  // OomTasks (exit.cpp): the task running on h's CPU; SIGKILL to a process
  // chosen by the OOM killer, delivered when each thread next enters the
  // kernel (its fault, or its CPU's scheduler picking it).
  task_struct* oom_current(hal::Hal& h) override { return current(h); }
  void oom_sigkill(hal::Hal& h, task_struct* victim) override;
  // A fatal signal to every thread of t's process: each ends when it next
  // enters the kernel (t itself, when current, on the way out of its trap:
  // the caller's reap_if_pending). `oom`: they are the OOM killer's victims.
  void group_fatal_signal(hal::Hal& h, task_struct* t, int sig, bool oom);
  // MfTasks (signal.cpp): SIGBUS of memory errors, to a handler or fatal.
  task_struct* mf_current(hal::Hal& h) override { return current(h); }
  bool mf_send_sigbus(hal::Hal& h, task_struct* t, int code, uint64_t addr, unsigned lsb) override;
  // rt_sigaction(sig, handler) and prctl(option, arg2, arg3) (signal.cpp).
  // Return 0 or -errno as Linux does.
  int64_t do_sigaction(task_struct* t, uint64_t sig, uint64_t handler);
  int64_t do_prctl(task_struct* t, uint64_t option, uint64_t arg2, uint64_t arg3);
  // fork and clone (Linux kernel_clone): a new process with a copy of
  // parent's mm, or (CLONE_VM) a thread sharing it, runnable on cpu
  // (kForkSameCpu: the parent's). Returns the child's pid, -EINVAL or
  // -ENOMEM.
  int64_t do_fork(hal::Hal& h, task_struct* parent, uint64_t cpu, uint64_t clone_flags, void* child_user);
  // Returns a new task with the next pid, on the task list, or nullptr when
  // out of memory.
  task_struct* alloc_task(hal::Hal& h, const char* comm, unsigned cpu, mm_struct* mm, void* user);
  void print_e820(hal::Hal& h);
  // The trap and system-call entry points proper; the hal::Firmware entry
  // points wrap them in their timeline marks (Hal::trace).
  hal::TrapOutcome do_page_fault(hal::Hal& h, hal::vaddr_t cr2, uint32_t ec);
  hal::TrapOutcome do_machine_check(hal::Hal& h, const hal::MachineCheck& mc);
  // Linux kill_me_maybe: memory_failure() of a page the current task t
  // consumed (action required); returns skip when its handler took the
  // SIGBUS, task_killed when it died (always, for a poisoned page table),
  // retry when the page was recovered.
  hal::TrapOutcome kill_me_maybe(hal::Hal& h, task_struct* t, const hal::MachineCheck& rec);
  // The kernel's one SIGBUS for the current task t (si_code `code`, si_addr
  // `addr`, si_addr_lsb `lsb`): returns skip when its handler took it, else
  // task_killed (the thread group died of SIGBUS).
  hal::TrapOutcome force_sigbus(hal::Hal& h, task_struct* t, int code, uint64_t addr, unsigned lsb);
  int64_t do_syscall(hal::Hal& h, const hal::SyscallArgs& a);

  Params params_;
  hal::BootInfo boot_{};
  Log log_;
  Memblock memblock_;
  MmNodes nodes_;
  Buddy buddy_;
  Pcp pcp_;
  Watermark watermark_;
  PageAlloc page_alloc_;
  Slab slab_;
  Vmalloc vmalloc_;
  Cma cma_;
  Compaction compaction_;
  Migrate migrate_;
  PageIsolation isolation_;
  Rmap rmap_;
  Lru lru_;
  Kswapd kswapd_;
  Vmscan vmscan_;
  Workingset workingset_;
  Shrinkers shrinkers_;
  Swapfile swapfile_;
  SwapCache swap_cache_;
  OomKiller oom_;
  MemoryFailure memory_failure_;
  // The current task whose SIGBUS a handler took inside memory_failure()
  // (mf_send_sigbus), for kill_me_maybe.
  const task_struct* mf_current_handled_ = nullptr;
  PgTable pgtable_;
  Tlb tlb_;
  kmem_cache* task_cachep_ = nullptr;
  Memory memory_;
  Mmap mmap_;
  Shmem shmem_;
  Hugetlb hugetlb_;
  HugeMemory huge_memory_;
  Khugepaged khugepaged_;
  Fork fork_;
  Mprotect mprotect_;
  Madvise madvise_;
  Gup gup_;
  BlockDevices blockdevs_;  // registered by the block drivers at probe
  Filemap filemap_;
  Readahead readahead_;
  Writeback writeback_;
  Mmfs mmfs_;  // every mmfs disk, mounted at boot
  Dma dma_;
  DmaEngineDriver dma_driver_;
  VirtioBlkDriver blk_driver_;  // the disks (sw/drivers/block)
  bool in_deferred_[hal::kMaxCpus] = {};
  VmStat vmstat_;
  Scheduler sched_;
  MmContext ctx_;
  list_head tasks_;
  int next_pid_ = 1;
  bool booted_ = false;
  uint64_t kernel_root_ = 0;
  TaskStats task_stats_;
  SyscallStats syscall_stats_;
  Mce mce_{log_};
  Cec cec_;  // the corrected-error collector (sw/drivers/ras), fed by mce_'s CMCI poll
  IrqStats irq_stats_;
};

}  // namespace fw
