// fw::Kernel's debug interface (hal::FirmwareDebug, sw/hal/debug.h): its
// statistics, each subsystem visiting its own in a fixed order; /proc
// through the table of sw/fs/proc; tasks and page tables. stats.txt's
// meminfo.*, vmstat.*, zone.* and node*.* come from the same walkers as
// proc/meminfo, proc/vmstat, proc/zoneinfo, proc/buddyinfo and
// proc/pagetypeinfo, so they always agree.
#include "sw/fs/proc/proc_fs.h"
#include "sw/kernel/kernel.h"
#include "sw/lib/seq_file.h"

namespace fw {

namespace {

// Returns the pid at the start of s (setting *rest past it), or -1 when s
// does not start with a digit.
int parse_pid(const char* s, const char** rest) {
  int v = 0;
  if (*s < '0' || *s > '9') return -1;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  *rest = s;
  return v;
}

}  // namespace

void Kernel::visit_stats(StatVisitor& v) const {
  StatEmitter(v, "time")("charged_ns", ctx_.charged_ns, "simulated time charged for firmware work", "ns");
  log_.visit_stats(v, "log");
  memblock_.visit_stats(v, "memblock");
  nodes_.visit_stats(v, "mem");
  watermark_.visit_stats(v, "mem");
  pcp_.visit_stats(v, "mem");
  page_alloc_.visit_stats(v, "buddy");
  zoneinfo_visit_stats(ctx_, v);
  meminfo_visit_stats(ctx_, v, "meminfo");
  vmstat_visit_stats(ctx_, v, "vmstat");
  pgtable_.visit_stats(v, "pgtable");
  tlb_.visit_stats(v, "tlb");
  memory_.visit_stats(v, "fault");
  mmap_.visit_stats(v, "mmap");
  mprotect_.visit_stats(v, "mprotect");
  madvise_.visit_stats(v, "madvise");
  fork_.visit_stats(v, "fork");
  shmem_.visit_stats(v, "shmem");
  huge_memory_.visit_stats(v, "thp");
  khugepaged_.visit_stats(v, "khugepaged");
  hugetlb_.visit_stats(v, "hugetlb");
  slab_.visit_stats(v, "slab");
  vmalloc_.visit_stats(v, "vmalloc");
  cma_.visit_stats(v, "cma");
  compaction_.visit_stats(v, "compaction");
  migrate_.visit_stats(v, "migrate");
  isolation_.visit_stats(v, "isolation");
  rmap_.visit_stats(v, "rmap");
  kswapd_.visit_stats(v, "kswapd");
  gup_.visit_stats(v, "gup");
  dma_.visit_stats(v);
  dma_driver_.visit_stats(v, "dmaengine");
  blk_driver_.visit_stats(v, "blk");
  task_stats_.visit(v, "task");
  sched_.visit_stats(v, "sched");
  syscall_stats_.visit(v, "syscall");
  mce_stats_.visit(v, "mce");
  irq_stats_.visit(v, "irq");
}

const char* Kernel::proc_file(unsigned index) const {
  const proc_entry* e = proc_root_entry(index);
  return e ? e->name : nullptr;
}

bool Kernel::proc_show(const char* name, TextSink& sink) const {
  seq_file m(sink);
  if (const proc_entry* e = proc_root_lookup(name)) {
    if (e->present && !e->present(ctx_)) return false;
    e->show(&m, ctx_);
    return true;
  }
  // "<pid>/<file>"
  const char* rest = nullptr;
  const int pid = parse_pid(name, &rest);
  if (pid <= 0 || *rest != '/') return false;
  const pid_entry* e = proc_pid_lookup(rest + 1);
  const mm_struct* mm = e ? mm_of(pid) : nullptr;
  if (!mm) return false;
  e->show(&m, *mm);
  return true;
}

void Kernel::visit_tasks(hal::TaskVisitor& v) const {
  // The task list is in creation order, which is pid order.
  for (const list_head* p = tasks_.next; p != &tasks_; p = p->next) {
    const task_struct* t = list_entry(const_cast<list_head*>(p), task_struct, tasks);
    hal::TaskInfo info{};
    info.pid = t->pid;
    info.tgid = t->tgid;
    info.cpu = t->cpu;
    info.running = t->state == TaskState::running;
    static_assert(sizeof info.comm >= TASK_COMM_LEN, "comm fits");
    for (unsigned i = 0; i < TASK_COMM_LEN; ++i) info.comm[i] = t->comm[i];
    v.task(info);
  }
}

bool Kernel::page_table_root(int pid, hal::paddr_t& root) const {
  if (pid == 0) {
    root = kernel_root_;
    return root != 0;
  }
  const mm_struct* mm = mm_of(pid);
  if (!mm) return false;
  root = mm->pgd;
  return true;
}

bool Kernel::translate(hal::Hal& h, int pid, hal::vaddr_t va, hal::Translation& out) {
  PteLookup l;
  const bool ok = translate(h, pid, va, &l);
  out = hal::Translation{ok && l.present, l.level, l.entry, l.entry_pa};
  return out.present;
}

bool Kernel::translate(hal::Hal& h, int pid, uint64_t va, PteLookup* out) {
  uint64_t root = kernel_root_;
  if (pid != 0) {
    mm_struct* mm = mm_of(pid);
    if (!mm) return false;
    root = mm->pgd;
  }
  return root && pgtable_.lookup(h, root, va, out);
}

}  // namespace fw
