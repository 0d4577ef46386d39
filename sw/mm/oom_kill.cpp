#include "sw/mm/oom_kill.h"

#include "sw/kernel/task.h"
#include "sw/lib/format.h"
#include "sw/lib/list.h"
#include "sw/lib/printk.h"
#include "sw/mm/internal.h"
#include "sw/mm/memory.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/pcp.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {

constexpr int64_t kUnkillable = INT64_MIN;

// Linux's get_mm_rss: anonymous, file and shmem pages mapped (file pages
// count in rss_shmem here, docs/storage.md).
uint64_t get_mm_rss(const mm_struct* mm) { return mm->rss_anon + mm->rss_shmem; }

// The names %pGg prints for a gfp mask, composite masks first (Linux's
// __def_gfpflag_names order); a data table.
const struct {
  gfp_t mask;
  const char* name;
} kGfpNames[] = {
    {GFP_TRANSHUGE, "GFP_TRANSHUGE"},
    {GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"},
    {GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"},
    {GFP_HIGHUSER, "GFP_HIGHUSER"},
    {GFP_USER, "GFP_USER"},
    {GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"},
    {GFP_KERNEL, "GFP_KERNEL"},
    {GFP_NOFS, "GFP_NOFS"},
    {GFP_ATOMIC, "GFP_ATOMIC"},
    {GFP_NOIO, "GFP_NOIO"},
    {GFP_NOWAIT, "GFP_NOWAIT"},
    {GFP_DMA, "GFP_DMA"},
    {__GFP_HIGHMEM, "__GFP_HIGHMEM"},
    {GFP_DMA32, "GFP_DMA32"},
    {__GFP_HIGH, "__GFP_HIGH"},
    {__GFP_IO, "__GFP_IO"},
    {__GFP_FS, "__GFP_FS"},
    {__GFP_NOWARN, "__GFP_NOWARN"},
    {__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"},
    {__GFP_NOFAIL, "__GFP_NOFAIL"},
    {__GFP_NORETRY, "__GFP_NORETRY"},
    {__GFP_COMP, "__GFP_COMP"},
    {__GFP_ZERO, "__GFP_ZERO"},
    {__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"},
    {__GFP_MEMALLOC, "__GFP_MEMALLOC"},
    {__GFP_HARDWALL, "__GFP_HARDWALL"},
    {__GFP_THISNODE, "__GFP_THISNODE"},
    {__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"},
    {__GFP_MOVABLE, "__GFP_MOVABLE"},
    {__GFP_ACCOUNT, "__GFP_ACCOUNT"},
    {__GFP_RECLAIM, "__GFP_RECLAIM"},
    {__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"},
    {__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"},
};

// Writes gfp's names joined by '|' into buf (Linux format_flags).
void format_gfp(gfp_t gfp, char* buf, size_t len) {
  size_t n = 0;
  buf[0] = 0;
  for (const auto& f : kGfpNames) {
    if (!gfp || (gfp & f.mask) != f.mask) continue;
    n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "|" : "", f.name);
    gfp &= ~f.mask;
  }
  if (gfp) snprintf(buf + n, n < len ? len - n : 0, "%s%#x", n ? "|" : "", gfp);
}

}  // namespace

uint64_t OomKiller::totalpages() const {
  return ctx_->nodes->total_managed_pages() + ctx_->swapfile->total_swap_pages();
}

task_struct* OomKiller::next_process(task_struct* prev) const {
  const list_head* head = ctx_->tasks;
  for (list_head* p = prev ? prev->tasks.next : head->next; p != head; p = p->next) {
    task_struct* t = list_entry(p, task_struct, tasks);
    // The first thread of its group on the list stands for the process.
    bool first = true;
    for (list_head* q = head->next; q != p; q = q->next)
      if (list_entry(q, task_struct, tasks)->tgid == t->tgid) {
        first = false;
        break;
      }
    if (first) return t;
  }
  return nullptr;
}

int64_t OomKiller::oom_badness(const task_struct* t, uint64_t total) const {
  // The workload's processes are all user processes: none is init, none a
  // kernel thread (Linux's oom_unkillable_task).
  const mm_struct* mm = t->mm;
  if (!mm) return kUnkillable;
  const int64_t adj = t->oom_score_adj;
  if (adj == OOM_SCORE_ADJ_MIN || (mm->oom_flags & MMF_OOM_SKIP)) return kUnkillable;
  int64_t points = static_cast<int64_t>(get_mm_rss(mm) + mm->swapents + mm->pgtables);
  points += adj * static_cast<int64_t>(total / 1000);
  return points;
}

uint64_t OomKiller::oom_score(const task_struct* t) const {
  const uint64_t total = totalpages();
  const int64_t badness = oom_badness(t, total);
  if (badness == kUnkillable || !total) return 0;
  const int64_t points = (1000 + badness * 1000 / static_cast<int64_t>(total)) * 2 / 3;
  return points > 0 ? static_cast<uint64_t>(points) : 0;
}

bool OomKiller::current_is_victim(hal::Hal& h) {
  const task_struct* cur = tasks_ ? tasks_->oom_current(h) : nullptr;
  return cur && cur->oom_victim;
}

void OomKiller::select_bad_process(Control& oc) {
  oc.chosen_points = kUnkillable;
  for (task_struct* t = next_process(nullptr); t; t = next_process(t)) {
    if (t->oom_victim) {
      // Already dying: wait for it unless the reaper is done with it
      // (Linux oom_evaluate_task's abort).
      if (t->mm && (t->mm->oom_flags & MMF_OOM_SKIP)) continue;
      oc.abort = true;
      oc.chosen = nullptr;
      return;
    }
    const int64_t points = oom_badness(t, oc.totalpages);
    if (points == kUnkillable || points < oc.chosen_points) continue;
    oc.chosen = t;
    oc.chosen_points = points;
  }
}

// Mirrors Linux out_of_memory (with the global, unconstrained case only:
// no memcg, cpuset or mempolicy).
bool OomKiller::out_of_memory(hal::Hal& h, gfp_t gfp, unsigned order, const alloc_context&) {
  ++stats_.invocations;
  // The current task is dying already: it frees its memory soon.
  task_struct* cur = tasks_ ? tasks_->oom_current(h) : nullptr;
  if (cur && cur->exit_pending && cur->mm && !(cur->mm->oom_flags & MMF_OOM_SKIP)) {
    cur->oom_victim = true;
    return true;
  }
  // The OOM killer does not compensate for I/O-less reclaim. Linux reports
  // progress here and the allocation loops; here it fails (nothing else
  // would free memory while it spins).
  if (!(gfp & __GFP_FS)) {
    ++stats_.skipped;
    return false;
  }
  Control oc{gfp, order, kUnkillable, nullptr, false, totalpages()};
  select_bad_process(oc);
  if (oc.abort) {
    ++stats_.victim_waits;
    return true;
  }
  if (!oc.chosen) {
    // Nothing to kill for a system-wide allocation: the allocator would
    // loop for ever, so Linux panics (the run ends, exit 1).
    ++stats_.no_victim;
    dump_header(h, oc);
    ctx_->log->printk(h, LOGLEVEL_WARNING, "Out of memory and no killable processes...");
    ctx_->log->panic(h, "System is deadlocked on memory");
  }
  oom_kill_process(h, oc);
  return true;
}

void OomKiller::oom_kill_process(hal::Hal& h, Control& oc) {
  task_struct* victim = oc.chosen;
  mm_struct* mm = victim->mm;
  dump_header(h, oc);
  ctx_->log->printk(h, LOGLEVEL_INFO,
                    "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0%s%u,global_oom,"
                    "task_memcg=/,task=%s,pid=%d,uid=0",
                    ctx_->nodes->nr_nodes() > 1 ? "-" : "", ctx_->nodes->nr_nodes() > 1 ? ctx_->nodes->nr_nodes() - 1 : 0,
                    victim->comm, victim->tgid);
  // Counted before the signal, as Linux does (the task reaper must see it).
  ctx_->vmstat->count(OOM_KILL);
  ++stats_.kills;
  ctx_->log->printk(h, LOGLEVEL_ERR,
                    "Out of memory: Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB, "
                    "shmem-rss:%lukB, UID:%u pgtables:%lukB oom_score_adj:%hd",
                    victim->tgid, victim->comm, static_cast<unsigned long>(mm->total_vm << 2),
                    static_cast<unsigned long>(mm->rss_anon << 2), 0ul,
                    static_cast<unsigned long>(mm->rss_shmem << 2), 0u,
                    static_cast<unsigned long>(mm->pgtables << 2), static_cast<short>(victim->oom_score_adj));
  tasks_->oom_sigkill(h, victim);
  // Linux queues the reaper with a 2 s delay for the victim to exit by
  // itself; nothing else runs while this allocation waits, so it reaps now.
  oom_reap(h, victim);
}

bool OomKiller::oom_reap(hal::Hal& h, task_struct* victim) {
  mm_struct* mm = victim->mm;
  task_struct* cur = tasks_->oom_current(h);
  // The allocating task itself dies when its fault returns; its memory is
  // in use by the fault under way.
  if (!mm || (cur && cur->mm == mm) || !mm->mmap_lock.try_lock(h)) {
    ++stats_.reap_busy;
    return false;
  }
  if (mm->oom_flags & MMF_OOM_SKIP) {
    mm->mmap_lock.unlock();
    return false;
  }
  mm->oom_flags |= MMF_UNSTABLE;
  const uint64_t before = mm->rss_anon;
  // From the top of the address space down, as Linux does (away from
  // where the dying task starts its own teardown).
  for (list_head* l = mm->mmap.prev; l != &mm->mmap;) {
    vm_area_struct* vma = list_entry(l, vm_area_struct, vm_list);
    l = l->prev;
    if (vma->vm_flags & (VM_HUGETLB | VM_PFNMAP | VM_SHARED)) continue;
    ctx_->memory->zap_page_range(h, mm, vma, vma->vm_start, vma->vm_end);
  }
  ++stats_.reaped;
  stats_.reaped_pages += before - mm->rss_anon;
  ctx_->log->printk(h, LOGLEVEL_INFO,
                    "oom_reaper: reaped process %d (%s), now anon-rss:%lukB, file-rss:%lukB, shmem-rss:%lukB",
                    victim->tgid, victim->comm, static_cast<unsigned long>(mm->rss_anon << 2), 0ul,
                    static_cast<unsigned long>(mm->rss_shmem << 2));
  mm->oom_flags |= MMF_OOM_SKIP;
  mm->mmap_lock.unlock();
  return true;
}

void OomKiller::dump_header(hal::Hal& h, const Control& oc) {
  task_struct* cur = tasks_ ? tasks_->oom_current(h) : nullptr;
  char names[256];
  format_gfp(oc.gfp, names, sizeof names);
  ctx_->log->printk(h, LOGLEVEL_WARNING, "%s invoked oom-killer: gfp_mask=%#x(%s), order=%u, oom_score_adj=%hd",
                    cur ? cur->comm : "kworker", oc.gfp, names, oc.order,
                    static_cast<short>(cur ? cur->oom_score_adj : 0));
  // dump_stack's first line (no call trace: the firmware has no unwinder).
  ctx_->log->printk(h, LOGLEVEL_WARNING, "CPU: %u UID: 0 PID: %d Comm: %s", h.cpu(), cur ? cur->pid : 0,
                    cur ? cur->comm : "kworker");
  show_mem(h);
  dump_tasks(h);
}

void OomKiller::show_mem(hal::Hal& h) const {
  const VmStat& vs = *ctx_->vmstat;
  uint64_t free = 0, free_cma = 0;
  for (unsigned n = 0; n < ctx_->nodes->nr_nodes(); ++n)
    for (const zone& z : ctx_->nodes->node(static_cast<int>(n)).node_zones) {
      free += z.vm_stat[NR_FREE_PAGES];
      free_cma += z.vm_stat[NR_FREE_CMA_PAGES];
    }
  auto g = [&](unsigned item) { return static_cast<unsigned long>(vs.node_total(item)); };
  // Linux show_free_areas's summary (the per-node and per-zone lines of
  // __show_mem are in proc/zoneinfo of the run).
  ctx_->log->printk(h, LOGLEVEL_INFO, "Mem-Info:");
  // One printk in Linux with continuation lines; one line each here (the
  // log's lines are bounded).
  Log& log = *ctx_->log;
  log.printk(h, LOGLEVEL_INFO, "active_anon:%lu inactive_anon:%lu isolated_anon:%lu", g(NR_ACTIVE_ANON),
             g(NR_INACTIVE_ANON), g(NR_ISOLATED_ANON));
  log.printk(h, LOGLEVEL_INFO, " active_file:%lu inactive_file:%lu isolated_file:%lu", g(NR_ACTIVE_FILE),
             g(NR_INACTIVE_FILE), g(NR_ISOLATED_FILE));
  log.printk(h, LOGLEVEL_INFO, " unevictable:%lu dirty:%lu writeback:%lu", g(NR_UNEVICTABLE), g(NR_FILE_DIRTY),
             g(NR_WRITEBACK));
  log.printk(h, LOGLEVEL_INFO, " slab_reclaimable:%lu slab_unreclaimable:%lu", g(NR_SLAB_RECLAIMABLE),
             g(NR_SLAB_UNRECLAIMABLE));
  log.printk(h, LOGLEVEL_INFO, " mapped:%lu shmem:%lu pagetables:%lu", g(NR_FILE_MAPPED), g(NR_SHMEM),
             g(NR_PAGETABLE));
  log.printk(h, LOGLEVEL_INFO, " sec_pagetables:0 bounce:0");
  log.printk(h, LOGLEVEL_INFO, " kernel_misc_reclaimable:0");
  log.printk(h, LOGLEVEL_INFO, " free:%lu free_pcp:%lu free_cma:%lu", static_cast<unsigned long>(free),
             static_cast<unsigned long>(ctx_->pcp->nr_pcp_pages()), static_cast<unsigned long>(free_cma));
  ctx_->log->printk(h, LOGLEVEL_INFO, "%lu total pagecache pages", g(NR_FILE_PAGES));
  ctx_->log->printk(h, LOGLEVEL_INFO, "%lu pages in swap cache", g(NR_SWAPCACHE));
  ctx_->log->printk(h, LOGLEVEL_INFO, "Free swap  = %lukB",
                    static_cast<unsigned long>(ctx_->swapfile->nr_swap_pages() << 2));
  ctx_->log->printk(h, LOGLEVEL_INFO, "Total swap = %lukB",
                    static_cast<unsigned long>(ctx_->swapfile->total_swap_pages() << 2));
  const uint64_t present = ctx_->nodes->total_present_pages();
  ctx_->log->printk(h, LOGLEVEL_INFO, "%lu pages RAM", static_cast<unsigned long>(present));
  ctx_->log->printk(h, LOGLEVEL_INFO, "0 pages HighMem/MovableOnly");
  ctx_->log->printk(h, LOGLEVEL_INFO, "%lu pages reserved",
                    static_cast<unsigned long>(present - ctx_->nodes->total_managed_pages()));
}

void OomKiller::dump_tasks(hal::Hal& h) const {
  ctx_->log->printk(h, LOGLEVEL_INFO, "Tasks state (memory values in pages):");
  ctx_->log->printk(h, LOGLEVEL_INFO,
                    "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents "
                    "oom_score_adj name");
  for (task_struct* t = next_process(nullptr); t; t = next_process(t)) {
    const mm_struct* mm = t->mm;
    if (!mm) continue;
    ctx_->log->printk(h, LOGLEVEL_INFO, "[%7d] %5d %5d %8lu %8lu %8lu %8lu %9lu %8ld %8lu         %5hd %s", t->pid, 0,
                      t->tgid, static_cast<unsigned long>(mm->total_vm), static_cast<unsigned long>(get_mm_rss(mm)),
                      static_cast<unsigned long>(mm->rss_anon), 0ul, static_cast<unsigned long>(mm->rss_shmem),
                      static_cast<long>(mm->pgtables * PAGE_SIZE), static_cast<unsigned long>(mm->swapents),
                      static_cast<short>(t->oom_score_adj), t->comm);
  }
}

void OomKiller::pagefault_out_of_memory(hal::Hal& h, const task_struct* t) {
  ++stats_.fault_retries;
  // Linux's ratelimited warning (at most 10 here).
  if (fault_reports_ >= 10) return;
  ++fault_reports_;
  ctx_->log->printk(h, LOGLEVEL_WARNING, "Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF (%s[%d])",
                    t->comm, t->pid);
}

namespace {

const StatDesc<OomStats> oom_stat_table[] = {
    {"invocations", &OomStats::invocations, "OOM killer invocations (out_of_memory)", "count"},
    {"kills", &OomStats::kills, "processes killed by the OOM killer", "count"},
    {"victim_waits", &OomStats::victim_waits, "invocations that found a victim still dying", "count"},
    {"no_victim", &OomStats::no_victim, "invocations that found no killable process", "count"},
    {"skipped", &OomStats::skipped, "invocations that would not kill (no __GFP_FS)", "count"},
    {"reaped", &OomStats::reaped, "victims' address spaces emptied by the OOM reaper", "count"},
    {"reaped_pages", &OomStats::reaped_pages, "anonymous pages the OOM reaper unmapped", "pages"},
    {"reap_busy", &OomStats::reap_busy, "reaps put off (the victim's mm was busy or faulting)", "count"},
    {"fault_retries", &OomStats::fault_retries, "faults retried after an allocation failure (pagefault_out_of_memory)", "count"},
};
static_assert(stat_table_size(oom_stat_table) == sizeof(OomStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void OomKiller::visit_stats(StatVisitor& v, const char* prefix) const { StatEmitter(v, prefix).table(stats_, oom_stat_table); }

}  // namespace fw
