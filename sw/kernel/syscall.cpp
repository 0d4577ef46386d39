// System calls (Linux arch/x86/entry/syscall_64.c and each call's sys_*):
// the handlers, the table that dispatches to them by number, and their
// counters.
#include "sw/kernel/syscall.h"

#include "sw/hal/uapi.h"
#include "sw/kernel/kernel.h"
#include "sw/lib/errno.h"
#include "sw/lib/format.h"
#include "sw/mm/mlock.h"

namespace fw {

// The handlers, friends of Kernel. Each returns the call's result, or
// -errno as Linux does.
struct Syscalls {
  using Fn = int64_t (*)(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a);

  static int64_t sys_mmap(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    const file* f = (a.arg[3] & uapi::kMapAnonymous) ? nullptr : k.mmfs_.fget(t->files, a.arg[4]);
    return k.mmap_.do_mmap(h, t->mm, a.arg[0], a.arg[1], a.arg[2], a.arg[3], static_cast<int64_t>(a.arg[4]), a.arg[5],
                           f);
  }
  static int64_t sys_msync(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.mmap_.do_msync(h, t->mm, a.arg[0], a.arg[1], a.arg[2]);
  }
  static int64_t sys_munmap(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.mmap_.do_munmap(h, t->mm, a.arg[0], a.arg[1]);
  }
  static int64_t sys_mprotect(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.mprotect_.do_mprotect(h, t->mm, a.arg[0], a.arg[1], a.arg[2]);
  }
  static int64_t sys_madvise(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.madvise_.do_madvise(h, t->mm, a.arg[0], a.arg[1], a.arg[2]);
  }
  static int64_t sys_mlock(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return do_mlock(h, &k.ctx_, t->mm, a.arg[0], a.arg[1], true);
  }
  static int64_t sys_munlock(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return do_mlock(h, &k.ctx_, t->mm, a.arg[0], a.arg[1], false);
  }
  // fork(cpu), clone(flags, cpu): the child's pid.
  static int64_t sys_fork(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.do_fork(h, t, a.arg[0], 0, a.child_user);
  }
  static int64_t sys_clone(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.do_fork(h, t, a.arg[1], a.arg[0], a.child_user);
  }
  // ioctl(engine, request, args...): the DMA engines' requests (uapi::kDmaIoc*).
  static int64_t sys_ioctl(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    const unsigned engine = static_cast<unsigned>(a.arg[0]);
    if (a.arg[1] == uapi::kDmaIocCopy) return k.dma_driver_.user_copy(h, t->mm, engine, a.arg[2], a.arg[3], a.arg[4]);
    if (a.arg[1] == uapi::kDmaIocAlloc) return k.dma_driver_.user_alloc(h, t->mm, engine, a.arg[2]);
    return -ENOTTY;
  }
  // The file calls (sw/fs/mmfs): open(file index, flags) and calls on fds.
  static int64_t sys_open(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.mmfs_.open(h, &t->files, a.arg[0], a.arg[1]);
  }
  static int64_t sys_close(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.mmfs_.close(h, t->files, a.arg[0]);
  }
  static int64_t sys_read(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.mmfs_.read(h, t->mm, t->files, a.arg[0], a.arg[1], a.arg[2], -1);
  }
  static int64_t sys_write(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.mmfs_.write(h, t->mm, t->files, a.arg[0], a.arg[1], a.arg[2], -1);
  }
  static int64_t sys_pread64(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    if (static_cast<int64_t>(a.arg[3]) < 0) return -EINVAL;
    return k.mmfs_.read(h, t->mm, t->files, a.arg[0], a.arg[1], a.arg[2], static_cast<int64_t>(a.arg[3]));
  }
  static int64_t sys_pwrite64(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    if (static_cast<int64_t>(a.arg[3]) < 0) return -EINVAL;
    return k.mmfs_.write(h, t->mm, t->files, a.arg[0], a.arg[1], a.arg[2], static_cast<int64_t>(a.arg[3]));
  }
  static int64_t sys_fsync(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.mmfs_.fsync(h, t->files, a.arg[0], false);
  }
  static int64_t sys_fdatasync(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.mmfs_.fsync(h, t->files, a.arg[0], true);
  }
  static int64_t sys_ftruncate(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    if (static_cast<int64_t>(a.arg[1]) < 0) return -EINVAL;
    return k.mmfs_.ftruncate(h, t->files, a.arg[0], a.arg[1]);
  }
  static int64_t sys_fadvise64(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    return k.mmfs_.fadvise(h, t->files, a.arg[0], a.arg[1], a.arg[2], a.arg[3]);
  }
  static int64_t sys_sync(Kernel& k, hal::Hal& h, task_struct*, const hal::SyscallArgs&) {
    k.writeback_.ksys_sync(h);
    return 0;
  }
  // sysctl(id, value[, arg]): writes of /proc/sys files and of
  // /proc/self/oom_score_adj, a read of /proc/self/pagemap, a write of ACPI
  // EINJ's debugfs files, and mmcosim's page-table entry hook (uapi::kSysctl*).
  static int64_t sys_sysctl(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    if (a.arg[0] == uapi::kSysctlDropCaches) return k.mmfs_.drop_caches(h, a.arg[1]);
    if (a.arg[0] == uapi::kSysctlOomScoreAdj) return set_oom_score_adj(k, t, static_cast<int64_t>(a.arg[1]));
    if (a.arg[0] == uapi::kSysctlPagemap || a.arg[0] == uapi::kSysctlPgtableEntry)
      return pagemap_pfn(k, h, t, a.arg[1], a.arg[0] == uapi::kSysctlPgtableEntry);
    if (a.arg[0] == uapi::kSysctlEinjInject) return einj_inject(h, a.arg[1], a.arg[2]);
    return -EINVAL;
  }
  // Returns the pfn mapping the caller's va (kSysctlPagemap), or -EFAULT
  // (nothing mapped there) or the fault's -errno. /proc/self/pagemap
  // reports an absent page as no pfn; ras-tools' einj_mem_uc touches its
  // page before reading pagemap, and this does the same: it faults the page
  // in — for writing in private anonymous memory (the buffer is the
  // process's own data, not the shared zero page), for reading elsewhere (a
  // page-cache page stays clean). With `entry` (kSysctlPgtableEntry) it
  // returns instead the physical address of the last-level entry the walk
  // of va reads, present or not, faulting nothing in; -EFAULT when the walk
  // stops at a missing table above the PTE level.
  static int64_t pagemap_pfn(Kernel& k, hal::Hal& h, task_struct* t, uint64_t va, bool entry) {
    mm_struct* mm = t->mm;
    if (!mm) return -EFAULT;
    LockGuard g(mm->mmap_lock, h);
    vm_area_struct* vma = k.mmap_.find_vma(mm, va);
    if (!vma || va < vma->vm_start) return -EFAULT;
    if (entry) {
      PteLookup e;
      k.pgtable_.lookup(h, mm->pgd, va, &e);
      const bool leaf_level = e.present || e.level == x86::LEVEL_PT;
      return leaf_level && e.entry_pa ? static_cast<int64_t>(e.entry_pa) : -EFAULT;
    }
    const bool write = !vma->vm_obj && (vma->vm_flags & VM_WRITE);
    int err = 0;
    page* p = k.gup_.follow_page(h, mm, va, write, &err);
    if (!p) return err ? err : -EFAULT;
    return static_cast<int64_t>(k.nodes_.page_to_pfn(p));
  }
  // ACPI EINJ (drivers/acpi/apei/einj-core.c): error_type 0x10 or 0x08 at
  // param1 = pa. Returns 0, or -EINVAL for another type or an address that
  // is not RAM (einj's region_intersects check), as Linux does.
  static int64_t einj_inject(hal::Hal& h, uint64_t pa, uint64_t type) {
    hal::EinjError e;
    if (type == uapi::kEinjMemUncorrectable) e = hal::EinjError::uc;
    else if (type == uapi::kEinjMemCorrectable) e = hal::EinjError::ce;
    else return -EINVAL;
    return h.einj_inject(pa, e) ? 0 : -EINVAL;
  }
  // Linux __set_oom_adj: every thread of the process takes the value
  // (the caller is privileged: it may lower it too).
  static int64_t set_oom_score_adj(Kernel& k, task_struct* t, int64_t adj) {
    if (adj < OOM_SCORE_ADJ_MIN || adj > OOM_SCORE_ADJ_MAX) return -EINVAL;
    k.for_each_thread(t, [adj](task_struct* u) { u->oom_score_adj = static_cast<int16_t>(adj); });
    return 0;
  }
  static int64_t sys_rt_sigaction(Kernel& k, hal::Hal&, task_struct* t, const hal::SyscallArgs& a) {
    return k.do_sigaction(t, a.arg[0], a.arg[1]);
  }
  static int64_t sys_prctl(Kernel& k, hal::Hal&, task_struct* t, const hal::SyscallArgs& a) {
    return k.do_prctl(t, a.arg[0], a.arg[1], a.arg[2]);
  }
  static int64_t sys_getpid(Kernel&, hal::Hal&, task_struct* t, const hal::SyscallArgs&) { return t->tgid; }
  static int64_t sys_exit(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    k.log_.printk(h, LOGLEVEL_DEBUG, "%s[%d]: exit(%ld)", t->comm, t->pid, static_cast<long>(a.arg[0]));
    k.do_exit(h, t, static_cast<int>(a.arg[0]), 0);
    return 0;
  }
  static int64_t sys_exit_group(Kernel& k, hal::Hal& h, task_struct* t, const hal::SyscallArgs& a) {
    k.log_.printk(h, LOGLEVEL_DEBUG, "%s[%d]: exit_group(%ld)", t->comm, t->pid, static_cast<long>(a.arg[0]));
    k.kill_other_threads(h, t, static_cast<int>(a.arg[0]), 0);
    k.do_exit(h, t, static_cast<int>(a.arg[0]), 0);
    return 0;
  }
};

namespace {

// One system call: its number, its name (its counter is syscall.<name>)
// and its handler.
struct syscall_entry {
  hal::Sys nr;
  const char* name;
  Syscalls::Fn fn;
  bool storage = false;  // a file call: counted in the statistics of machines with block devices only
};

// Every handled call, in the order of their counters in the statistics.
constexpr syscall_entry syscalls[] = {
    {hal::Sys::mmap, "mmap", Syscalls::sys_mmap},
    {hal::Sys::munmap, "munmap", Syscalls::sys_munmap},
    {hal::Sys::mprotect, "mprotect", Syscalls::sys_mprotect},
    {hal::Sys::madvise, "madvise", Syscalls::sys_madvise},
    {hal::Sys::mlock, "mlock", Syscalls::sys_mlock},
    {hal::Sys::munlock, "munlock", Syscalls::sys_munlock},
    {hal::Sys::ioctl, "ioctl", Syscalls::sys_ioctl},
    {hal::Sys::fork, "fork", Syscalls::sys_fork},
    {hal::Sys::clone, "clone", Syscalls::sys_clone},
    {hal::Sys::getpid, "getpid", Syscalls::sys_getpid},
    {hal::Sys::rt_sigaction, "rt_sigaction", Syscalls::sys_rt_sigaction},
    {hal::Sys::prctl, "prctl", Syscalls::sys_prctl},
    {hal::Sys::exit, "exit", Syscalls::sys_exit},
    {hal::Sys::exit_group, "exit_group", Syscalls::sys_exit_group},
    {hal::Sys::open, "open", Syscalls::sys_open, true},
    {hal::Sys::close, "close", Syscalls::sys_close, true},
    {hal::Sys::read, "read", Syscalls::sys_read, true},
    {hal::Sys::write, "write", Syscalls::sys_write, true},
    {hal::Sys::pread64, "pread64", Syscalls::sys_pread64, true},
    {hal::Sys::pwrite64, "pwrite64", Syscalls::sys_pwrite64, true},
    {hal::Sys::fsync, "fsync", Syscalls::sys_fsync, true},
    {hal::Sys::fdatasync, "fdatasync", Syscalls::sys_fdatasync, true},
    {hal::Sys::ftruncate, "ftruncate", Syscalls::sys_ftruncate, true},
    {hal::Sys::fadvise64, "fadvise64", Syscalls::sys_fadvise64, true},
    {hal::Sys::sync, "sync", Syscalls::sys_sync, true},
    {hal::Sys::msync, "msync", Syscalls::sys_msync, true},
    {hal::Sys::sysctl, "sysctl", Syscalls::sys_sysctl, true},
};

// sys_call_table: the entry of each number (nullptr: ENOSYS), built from
// syscalls[] at compile time.
struct sys_call_table_t {
  const syscall_entry* entry[NR_syscalls];
};

constexpr sys_call_table_t make_sys_call_table() {
  sys_call_table_t t{};
  for (const syscall_entry& e : syscalls) t.entry[static_cast<unsigned>(e.nr)] = &e;
  return t;
}

constexpr sys_call_table_t sys_call_table = make_sys_call_table();

// Returns the table's entry of nr, nullptr for a number without one (ENOSYS).
const syscall_entry* syscall_of(hal::Sys nr) {
  const unsigned i = static_cast<unsigned>(nr);
  return i < NR_syscalls ? sys_call_table.entry[i] : nullptr;
}

}  // namespace

int64_t Kernel::syscall(hal::Hal& h, const hal::SyscallArgs& a) {
  const syscall_entry* e = syscall_of(a.nr);
  h.trace({hal::TraceKind::syscall, true, e ? e->name : "unknown syscall", {static_cast<unsigned>(a.nr), a.arg[0]},
           false});
  const int64_t ret = do_syscall(h, a);
  h.trace({hal::TraceKind::syscall, false, nullptr, {static_cast<uint64_t>(ret), 0}, false});
  return ret;
}

int64_t Kernel::do_syscall(hal::Hal& h, const hal::SyscallArgs& a) {
  ctx_.charge(h, params_.cost_syscall_ns);
  ++syscall_stats_.total;
  task_struct* t = current(h);
  if (!t) return -ESRCH;
  // A thread whose group is ending runs its last calls until it takes a
  // trap or its CPU reschedules (then it is reaped); an exit ends it now.
  if (t->exit_pending && (a.nr == hal::Sys::exit || a.nr == hal::Sys::exit_group)) {
    reap_if_pending(h, t);
    return 0;
  }
  const syscall_entry* e = syscall_of(a.nr);
  if (!e) {
    ++syscall_stats_.enosys;
    return -ENOSYS;
  }
  ++syscall_stats_.calls[static_cast<unsigned>(a.nr)];
  const int64_t ret = e->fn(*this, h, t, a);
  // A kernel copy met poison in the caller's memory: memory_failure()
  // before the return to user (Linux's kill_me_never task work).
  memory_failure_.memory_failure_work(h);
  return ret;
}

void SyscallStats::visit(StatVisitor& v, const char* prefix, bool storage) const {
  const StatEmitter e(v, prefix);
  e("total", total, "system calls", "count");
  for (const syscall_entry& s : syscalls) {
    if (s.storage && !storage) continue;
    char desc[48];
    fw::snprintf(desc, sizeof desc, "%s system calls", s.name);
    e(s.name, calls[static_cast<unsigned>(s.nr)], desc, "count");
  }
  e("enosys", enosys, "system calls not implemented (ENOSYS)", "count");
}

}  // namespace fw
