#include "sw/kernel/kernel.h"

#include "sw/hal/uapi.h"
#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/lib/string.h"

namespace fw {

using hal::BootInfo;

Kernel::Kernel() : Kernel(Params{}) {}

Kernel::Kernel(const Params& params) : params_(params) {
  ctx_.log = &log_;
  ctx_.params = &params_;
  ctx_.boot = &boot_;
  ctx_.memblock = &memblock_;
  ctx_.nodes = &nodes_;
  ctx_.buddy = &buddy_;
  ctx_.pcp = &pcp_;
  ctx_.watermark = &watermark_;
  ctx_.page_alloc = &page_alloc_;
  ctx_.slab = &slab_;
  ctx_.vmalloc = &vmalloc_;
  ctx_.cma = &cma_;
  ctx_.compaction = &compaction_;
  ctx_.migrate = &migrate_;
  ctx_.isolation = &isolation_;
  ctx_.rmap = &rmap_;
  ctx_.lru = &lru_;
  ctx_.kswapd = &kswapd_;
  ctx_.pgtable = &pgtable_;
  ctx_.tlb = &tlb_;
  ctx_.memory = &memory_;
  ctx_.mmap = &mmap_;
  ctx_.shmem = &shmem_;
  ctx_.hugetlb = &hugetlb_;
  ctx_.huge_memory = &huge_memory_;
  ctx_.khugepaged = &khugepaged_;
  ctx_.fork = &fork_;
  ctx_.mprotect = &mprotect_;
  ctx_.madvise = &madvise_;
  ctx_.vmstat = &vmstat_;
  buddy_.init(&ctx_);
  pcp_.init(&ctx_);
  watermark_.init(&ctx_);
  page_alloc_.init(&ctx_);
  slab_.init(&ctx_);
  vmalloc_.init(&ctx_);
  cma_.init(&ctx_);
  compaction_.init(&ctx_);
  migrate_.init(&ctx_);
  isolation_.init(&ctx_);
  rmap_.init(&ctx_);
  lru_.init(&ctx_);
  kswapd_.init(&ctx_);
  memory_.init(&ctx_);
  mmap_.init(&ctx_);
  shmem_.init(&ctx_);
  hugetlb_.init(&ctx_);
  huge_memory_.init(&ctx_);
  khugepaged_.init(&ctx_);
  fork_.init(&ctx_);
  mprotect_.init(&ctx_);
  madvise_.init(&ctx_);
  sched_.init();
  INIT_LIST_HEAD(&tasks_);
  log_.set_console_level(params_.loglevel);
}

bool Kernel::set_params(const Params& params) {
  if (booted_) return false;
  params_ = params;
  log_.set_console_level(params_.loglevel);
  return true;
}

// ---------------------------------------------------------------- boot

bool Kernel::check_boot_info(hal::Hal& h, const BootInfo& bi) {
  const char* why = nullptr;
  if (bi.nr_e820 == 0 || bi.nr_e820 > hal::kMaxE820) why = "bad e820 entry count";
  else if (bi.nr_nodes == 0 || bi.nr_nodes > hal::kMaxNodes) why = "bad node count";
  else if (bi.nr_cpus == 0 || bi.nr_cpus > hal::kMaxCpus) why = "bad CPU count";
  else if (bi.paging_levels != 4 && bi.paging_levels != 5) why = "paging levels must be 4 or 5";
  else if (bi.va_bits != (bi.paging_levels == 5 ? 57u : 48u)) why = "va_bits must be 48 (4 levels) or 57 (5 levels)";
  else if (bi.maxphyaddr < 32 || bi.maxphyaddr > 52) why = "MAXPHYADDR must be 32..52";
  else if (h.cpu() >= bi.nr_cpus) why = "boot CPU beyond the CPU count";
  if (why) {
    log_.printk(h, LOGLEVEL_ERR, "boot: unusable boot information: %s", why);
    return false;
  }
  return true;
}

void Kernel::print_e820(hal::Hal& h) {
  for (unsigned i = 0; i < boot_.nr_e820; ++i) {
    const hal::E820Entry& e = boot_.e820[i];
    const char* type = "unknown";
    switch (e.type) {
      case hal::E820Type::usable: type = "usable"; break;
      case hal::E820Type::reserved: type = "reserved"; break;
      case hal::E820Type::acpi: type = "ACPI data"; break;
      case hal::E820Type::nvs: type = "ACPI NVS"; break;
      case hal::E820Type::unusable: type = "unusable"; break;
      case hal::E820Type::pmem: type = "persistent (type 7)"; break;
    }
    log_.printk(h, LOGLEVEL_INFO, "BIOS-e820: [mem 0x%016lx-0x%016lx] %s", static_cast<unsigned long>(e.addr),
                static_cast<unsigned long>(e.addr + e.size - 1), type);
  }
}

bool Kernel::setup_memblock(hal::Hal& h) {
  const uint64_t phys_limit = 1ull << boot_.maxphyaddr;
  bool ok = true;
  // Usable RAM, trimmed to whole pages and to what the MMU can address;
  // node 0 until the node ranges say otherwise.
  // The first page is the BIOS's, never RAM, whatever the map says
  // (Linux's trim_bios_range).
  for (unsigned i = 0; i < boot_.nr_e820; ++i) {
    const hal::E820Entry& e = boot_.e820[i];
    if (e.type != hal::E820Type::usable) continue;
    const uint64_t s = max(align_up(e.addr, PAGE_SIZE), PAGE_SIZE);
    const uint64_t end = min(align_down(e.addr + e.size, PAGE_SIZE), phys_limit);
    if (end > s) ok &= memblock_.add(s, end - s, 0);
  }
  // Everything else the map names is kept from the allocator, even where a
  // broken map overlaps it with usable RAM.
  for (unsigned i = 0; i < boot_.nr_e820; ++i) {
    const hal::E820Entry& e = boot_.e820[i];
    if (e.type == hal::E820Type::usable || !e.size) continue;
    const uint64_t s = align_down(e.addr, PAGE_SIZE);
    ok &= memblock_.reserve(s, align_up(e.addr + e.size, PAGE_SIZE) - s);
  }
  for (unsigned n = 0; n < boot_.nr_nodes; ++n)
    if (boot_.node_end[n] > boot_.node_start[n])
      ok &= memblock_.set_node(boot_.node_start[n], boot_.node_end[n] - boot_.node_start[n], static_cast<int>(n));
  // The first page(s) (BIOS data; Linux reserves at least page 0) and the
  // firmware image.
  ok &= memblock_.reserve(0, align_up(params_.reserve_low_kb * 1024, PAGE_SIZE));
  if (boot_.image_size) {
    const uint64_t s = align_down(boot_.image_base, PAGE_SIZE);
    ok &= memblock_.reserve(s, align_up(boot_.image_base + boot_.image_size, PAGE_SIZE) - s);
  }
  if (!ok) {
    log_.printk(h, LOGLEVEL_ERR, "boot: memory map too fragmented for memblock");
    return false;
  }
  if (memblock_.memory().total_size == 0) {
    log_.printk(h, LOGLEVEL_ERR, "boot: the memory map has no usable RAM");
    return false;
  }
  return true;
}

void Kernel::print_memblock(hal::Hal& h) {
  // Linux's memblock dump (memblock=debug), at INFO: the reservations
  // decide the managed pages, and tools read them from the log.
  const MemblockType& m = memblock_.memory();
  const MemblockType& r = memblock_.reserved();
  log_.printk(h, LOGLEVEL_INFO, "MEMBLOCK configuration:");
  log_.printk(h, LOGLEVEL_INFO, " memory size = 0x%lx reserved size = 0x%lx", static_cast<unsigned long>(m.total_size),
              static_cast<unsigned long>(r.total_size));
  log_.printk(h, LOGLEVEL_INFO, " memory.cnt  = 0x%x", m.cnt);
  for (unsigned i = 0; i < m.cnt; ++i)
    log_.printk(h, LOGLEVEL_INFO, " memory[0x%x]\t[0x%016lx-0x%016lx], 0x%016lx bytes on node %d flags: 0x0", i,
                static_cast<unsigned long>(m.regions[i].base), static_cast<unsigned long>(m.regions[i].end() - 1),
                static_cast<unsigned long>(m.regions[i].size), m.regions[i].nid);
  log_.printk(h, LOGLEVEL_INFO, " reserved.cnt  = 0x%x", r.cnt);
  for (unsigned i = 0; i < r.cnt; ++i)
    log_.printk(h, LOGLEVEL_INFO, " reserved[0x%x]\t[0x%016lx-0x%016lx], 0x%016lx bytes flags: 0x0", i,
                static_cast<unsigned long>(r.regions[i].base), static_cast<unsigned long>(r.regions[i].end() - 1),
                static_cast<unsigned long>(r.regions[i].size));
}

void Kernel::print_zones(hal::Hal& h) {
  log_.printk(h, LOGLEVEL_INFO, "Zone ranges:");
  for (unsigned z = 0; z < ZONE_MOVABLE; ++z) {
    uint64_t lo = ~0ull, hi = 0;
    for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
      const zone& zn = nodes_.node(static_cast<int>(n)).node_zones[z];
      if (!zn.spanned_pages) continue;
      lo = min(lo, zn.zone_start_pfn);
      hi = max(hi, zn.zone_end_pfn());
    }
    if (hi > lo)
      log_.printk(h, LOGLEVEL_INFO, "  %-8s [mem 0x%016lx-0x%016lx]", zone_name(z), static_cast<unsigned long>(PFN_PHYS(lo)),
                  static_cast<unsigned long>(PFN_PHYS(hi) - 1));
    else
      log_.printk(h, LOGLEVEL_INFO, "  %-8s empty", zone_name(z));
  }
  log_.printk(h, LOGLEVEL_INFO, "Movable zone start for each node");
  for (unsigned n = 0; n < nodes_.nr_nodes(); ++n)
    if (nodes_.zone_movable_pfn(static_cast<int>(n)))
      log_.printk(h, LOGLEVEL_INFO, "  Node %u: 0x%016lx", n,
                  static_cast<unsigned long>(PFN_PHYS(nodes_.zone_movable_pfn(static_cast<int>(n)))));
  for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
    const pglist_data& pg = nodes_.node(static_cast<int>(n));
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
      const zone& zn = pg.node_zones[z];
      if (!zn.spanned_pages) continue;
      log_.printk(h, LOGLEVEL_INFO, "Node %u zone %-7s [mem 0x%016lx-0x%016lx] spanned %lu present %lu", n, zn.name,
                  static_cast<unsigned long>(PFN_PHYS(zn.zone_start_pfn)),
                  static_cast<unsigned long>(PFN_PHYS(zn.zone_end_pfn()) - 1),
                  static_cast<unsigned long>(zn.spanned_pages), static_cast<unsigned long>(zn.present_pages));
    }
  }
}

bool Kernel::boot(hal::Hal& bsp, const BootInfo& info) {
  if (booted_) {
    log_.printk(bsp, LOGLEVEL_ERR, "boot: already booted");
    return false;
  }
  log_.set_console_level(params_.loglevel);
  log_.printk(bsp, LOGLEVEL_NOTICE, "mmcosim firmware booting on CPU%u", bsp.cpu());
  if (!check_boot_info(bsp, info)) return false;
  boot_ = info;
  print_e820(bsp);
  if (!setup_memblock(bsp)) return false;

  pgtable_.init(&ctx_, boot_.paging_levels, boot_.maxphyaddr, boot_.nx);
  // Everything memblock must hand out comes first: the memmap and
  // pageblock flags, the per-CPU structures, the CMA area.
  if (!nodes_.init(bsp, boot_, memblock_, params_, log_)) return false;
  if (!pcp_.alloc_pagesets(bsp, memblock_) || !slab_.alloc_percpu(bsp, memblock_)) return false;
  if (!cma_.declare(bsp, memblock_, params_.cma)) return false;
  print_memblock(bsp);
  print_zones(bsp);
  nodes_.memmap_init(bsp, memblock_, params_.deferred_struct_page_init);
  nodes_.build_kaddr_map(bsp, memblock_);

  // Hand the free RAM to the buddy allocator (Linux memblock_free_all),
  // then the CMA area, then compute what depends on the managed pages.
  page_alloc_.free_bootmem(bsp, memblock_);
  cma_.activate(bsp);
  watermark_.init_per_zone_wmark_min();
  pcp_.update_all();
  log_.printk(bsp, LOGLEVEL_INFO, "Built %u zonelists, mobility grouping on.  Total pages: %lu", nodes_.nr_nodes(),
              static_cast<unsigned long>(nodes_.total_managed_pages()));

  // Slab caches.
  if (!slab_.kmem_cache_init(bsp)) return false;
  task_cachep_ = slab_.kmem_cache_create("task_struct", sizeof(task_struct), 0, SLAB_HWCACHE_ALIGN, nullptr);
  ctx_.mm_cachep = slab_.kmem_cache_create("mm_struct", sizeof(mm_struct), 0, SLAB_HWCACHE_ALIGN, nullptr);
  ctx_.vma_cachep = slab_.kmem_cache_create("vm_area_struct", sizeof(vm_area_struct), 0, 0, nullptr);
  if (!task_cachep_ || !ctx_.mm_cachep || !ctx_.vma_cachep || !rmap_.create_caches(bsp)) {
    log_.printk(bsp, LOGLEVEL_ERR, "boot: cannot create the slab caches");
    return false;
  }

  // The kernel's page tables: the direct map of all RAM, and the upper
  // tables of the vmalloc range that every address space shares.
  kernel_root_ = pgtable_.alloc_table(bsp, true);
  if (!kernel_root_) {
    log_.printk(bsp, LOGLEVEL_ERR, "boot: no memory for the kernel page tables");
    return false;
  }
  const MemblockType& mem = memblock_.memory();
  for (unsigned i = 0; i < mem.cnt; ++i) {
    if (pgtable_.map_direct(bsp, kernel_root_, mem.regions[i].base, mem.regions[i].end(), boot_.gbpages)) {
      log_.printk(bsp, LOGLEVEL_ERR, "boot: cannot build the direct map");
      return false;
    }
  }
  if (!vmalloc_.boot(bsp, kernel_root_)) return false;

  const bool pcide = boot_.pcid && params_.pcid;
  tlb_.init(&ctx_, pcide, kernel_root_);
  tlb_.set_nr_cpus(boot_.nr_cpus);
  bsp.set_paging_control(hal::PagingControl{true, boot_.nx, pcide});
  tlb_.cpu_init(bsp);
  sched_.rq(bsp.cpu()).online = true;
  // The shared zero page, and the hugetlb pools while memory is still in
  // large free blocks (gigantic pages need 1 GiB of it contiguous).
  if (!memory_.init_zero_page(bsp)) {
    log_.printk(bsp, LOGLEVEL_ERR, "boot: no memory for the zero page");
    return false;
  }
  hugetlb_.boot(bsp);
  page_alloc_.boot_done();
  booted_ = true;

  const uint64_t total = nodes_.total_managed_pages();
  log_.printk(bsp, LOGLEVEL_INFO,
              "Memory: %luK/%luK available (%luK memmap, %luK kernel page tables, %luK reserved, %luK cma-reserved)",
              static_cast<unsigned long>(page_alloc_.nr_free_pages() << (PAGE_SHIFT - 10)),
              static_cast<unsigned long>(nodes_.total_present_pages() << (PAGE_SHIFT - 10)),
              static_cast<unsigned long>(nodes_.memmap_bytes() >> 10),
              static_cast<unsigned long>(pgtable_.stats().kernel_pages << (PAGE_SHIFT - 10)),
              static_cast<unsigned long>((nodes_.total_present_pages() - total) << (PAGE_SHIFT - 10)),
              static_cast<unsigned long>(cma_.count() << (PAGE_SHIFT - 10)));
  log_.printk(bsp, LOGLEVEL_INFO, "min_free_kbytes %lu, struct pages initialized %lu, deferred max-order blocks %lu",
              static_cast<unsigned long>(watermark_.min_free_kbytes()),
              static_cast<unsigned long>(nodes_.memmap_pages_initialized()),
              static_cast<unsigned long>(nodes_.memmap_deferred_blocks()));
  log_.printk(bsp, LOGLEVEL_INFO, "paging: %u levels, PAGE_OFFSET %#lx, PCID %s, NX %s", boot_.paging_levels,
              static_cast<unsigned long>(pgtable_.page_offset()), pcide ? "on" : "off", boot_.nx ? "on" : "off");
  return true;
}

void Kernel::start_secondary(hal::Hal& h) {
  if (!booted_ || h.cpu() >= boot_.nr_cpus) {
    log_.printk(h, LOGLEVEL_ERR, "CPU%u: cannot start (not booted or beyond the CPU count)", h.cpu());
    return;
  }
  h.set_paging_control(hal::PagingControl{true, boot_.nx, tlb_.pcide()});
  tlb_.cpu_init(h);
  sched_.rq(h.cpu()).online = true;
  log_.printk(h, LOGLEVEL_INFO, "CPU%u: online", h.cpu());
}

// ---------------------------------------------------------------- tasks

task_struct* Kernel::current(hal::Hal& h) const {
  const unsigned cpu = h.cpu();
  return cpu < hal::kMaxCpus ? sched_.rq(cpu).curr : nullptr;
}

int Kernel::current_pid(unsigned cpu) const {
  if (cpu >= hal::kMaxCpus) return -1;
  const task_struct* t = sched_.rq(cpu).curr;
  return t ? t->pid : -1;
}

task_struct* Kernel::find_task(int pid) const {
  for (const list_head* p = tasks_.next; p != &tasks_; p = p->next) {
    task_struct* t = list_entry(const_cast<list_head*>(p), task_struct, tasks);
    if (t->pid == pid) return t;
  }
  return nullptr;
}

mm_struct* Kernel::mm_of(int pid) const {
  task_struct* t = find_task(pid);
  return t ? t->mm : nullptr;
}

int Kernel::spawn(hal::Hal& caller, const char* name, unsigned cpu, void* user) {
  if (!booted_ || cpu >= boot_.nr_cpus) {
    ++kstats_.spawn_failed;
    return -EINVAL;
  }
  mm_struct* mm = mmap_.mm_alloc(caller);
  task_struct* t = mm ? alloc_task(caller, name ? name : "task", cpu, mm, user) : nullptr;
  if (!t) {
    if (mm) mmap_.mm_destroy(caller, mm);
    ++kstats_.spawn_failed;
    log_.printk(caller, LOGLEVEL_WARNING, "spawn %s: out of memory", name ? name : "?");
    return -ENOMEM;
  }
  ++kstats_.spawned;
  sched_.enqueue(caller, t);
  // Wake an idle CPU elsewhere so it schedules the new task.
  if (cpu != caller.cpu() && sched_.rq(cpu).online && !sched_.rq(cpu).curr) caller.send_ipi(cpu, x86::VEC_RESCHEDULE);
  log_.printk(caller, LOGLEVEL_DEBUG, "spawn: %s[%d] on CPU%u, pcid %u", t->comm, t->pid, cpu, mm->pcid);
  return t->pid;
}

task_struct* Kernel::alloc_task(hal::Hal& h, const char* comm, unsigned cpu, mm_struct* mm, void* user) {
  task_struct* t = static_cast<task_struct*>(slab_.kmem_cache_zalloc(h, task_cachep_, GFP_KERNEL));
  if (!t) return nullptr;
  t->pid = next_pid_++;
  t->tgid = t->pid;
  t->cpu = cpu;
  t->mm = mm;
  t->user = user;
  t->start_ns = h.now_ns();
  str_copy(t->comm, comm, TASK_COMM_LEN);
  list_add_tail(&t->tasks, &tasks_);
  ++nr_tasks_;
  return t;
}

void Kernel::do_exit(hal::Hal& h, task_struct* t, int exit_status, int signal) {
  const int pid = t->pid;
  void* user = t->user;
  // This CPU is in the kernel without a task now: lazy until it schedules.
  if (sched_.rq(t->cpu).curr == t && t->cpu == h.cpu()) tlb_.enter_lazy(h);
  sched_.task_dead(h, t);
  // The address space goes with the last thread using it.
  mm_struct* mm = t->mm;
  t->mm = nullptr;
  if (mm && --mm->mm_users == 0) mmap_.mm_destroy(h, mm);
  list_del(&t->tasks);
  --nr_tasks_;
  if (signal) {
    ++kstats_.killed;
    if (signal == kSIGSEGV) ++kstats_.sigsegv;
    else if (signal == kSIGBUS) ++kstats_.sigbus;
    else if (signal == kSIGKILL) ++kstats_.sigkill;
  } else {
    ++kstats_.exited;
  }
  slab_.kmem_cache_free(h, task_cachep_, t);
  if (!nr_tasks_) quiesce(h);
  h.task_ended(pid, user, signal ? -1 : exit_status, signal);
}

void Kernel::kill_other_threads(hal::Hal& h, task_struct* t, int exit_status, int signal) {
  for (bool again = true; again;) {
    again = false;
    for (list_head* p = tasks_.next; p != &tasks_; p = p->next) {
      task_struct* u = list_entry(p, task_struct, tasks);
      if (u == t || u->tgid != t->tgid || u->exit_pending) continue;
      ++kstats_.group_kills;
      if (sched_.rq(u->cpu).curr == u && u->cpu != h.cpu()) {
        // Running elsewhere: its CPU ends it at its next entry here.
        u->exit_pending = true;
        u->exit_code = exit_status;
        u->exit_signal = signal;
        ++kstats_.pending_reaps;
        h.send_ipi(u->cpu, x86::VEC_RESCHEDULE);
        continue;
      }
      do_exit(h, u, exit_status, signal);
      again = true;  // the list changed under us
      break;
    }
  }
}

bool Kernel::reap_if_pending(hal::Hal& h, task_struct* t) {
  if (!t || !t->exit_pending) return false;
  do_exit(h, t, t->exit_code, t->exit_signal);
  return true;
}

int64_t Kernel::do_fork(hal::Hal& h, task_struct* parent, uint64_t cpu_arg, uint64_t flags, void* child_user) {
  const uint64_t cpu = cpu_arg == uapi::kForkSameCpu ? parent->cpu : cpu_arg;
  if (cpu >= boot_.nr_cpus || !sched_.rq(static_cast<unsigned>(cpu)).online) return -EINVAL;
  // Linux copy_process: a thread shares signal handlers, which need the VM.
  if ((flags & uapi::kCloneThread) && !(flags & uapi::kCloneSighand)) return -EINVAL;
  if ((flags & uapi::kCloneSighand) && !(flags & uapi::kCloneVm)) return -EINVAL;
  mm_struct* mm;
  if (flags & uapi::kCloneVm) {
    mm = parent->mm;
    ++mm->mm_users;
  } else {
    int err = 0;
    mm = fork_.dup_mm(h, parent->mm, &err);
    if (!mm) return err;
  }
  task_struct* t = alloc_task(h, parent->comm, static_cast<unsigned>(cpu), mm, child_user);
  if (!t) {
    if (--mm->mm_users == 0) mmap_.mm_destroy(h, mm);
    return -ENOMEM;
  }
  if (flags & uapi::kCloneThread) {
    t->tgid = parent->tgid;
    ++kstats_.threads;
  } else {
    ++kstats_.forked;
  }
  sched_.enqueue(h, t);
  if (t->cpu != h.cpu() && !sched_.rq(t->cpu).curr) h.send_ipi(t->cpu, x86::VEC_RESCHEDULE);
  log_.printk(h, LOGLEVEL_DEBUG, "%s: %s[%d] -> %d on CPU%u", (flags & uapi::kCloneThread) ? "clone" : "fork",
              parent->comm, parent->pid, t->pid, t->cpu);
  return t->pid;
}

hal::RunTask Kernel::schedule(hal::Hal& h) {
  if (!booted_ || h.cpu() >= boot_.nr_cpus) return {-1, nullptr};
  reap_if_pending(h, current(h));
  bool switched = false;
  task_struct* t = sched_.pick(h, &switched);
  if (switched) ctx_.charge(h, params_.cost_context_switch_ns);
  // Idle keeps the last address space loaded (lazy, like Linux).
  if (t) tlb_.switch_mm(h, t->mm);
  else tlb_.enter_lazy(h);
  return t ? hal::RunTask{t->pid, t->user} : hal::RunTask{-1, nullptr};
}

void Kernel::timer_tick(hal::Hal& h) {
  if (!booted_) return;
  sched_.tick(h, params_.timeslice_us * 1000);
  run_deferred_work(h);
}

void Kernel::run_deferred_work(hal::Hal& h) {
  if (!booted_ || h.cpu() >= hal::kMaxCpus || in_deferred_[h.cpu()]) return;
  // Kernel work runs in lazy-TLB mode (Linux's kernel threads): the loaded
  // address space stays, shootdowns may skip this CPU meanwhile.
  in_deferred_[h.cpu()] = true;
  tlb_.enter_lazy(h);
  // Each node's kswapd and kcompactd run on the node's first CPU (CPU 0
  // for nodes without CPUs).
  for (unsigned n = 0; n < nodes_.nr_nodes(); ++n) {
    unsigned owner = 0;
    for (unsigned c = 0; c < boot_.nr_cpus; ++c)
      if (nodes_.cpu_to_node(c) == static_cast<int>(n)) {
        owner = c;
        break;
      }
    if (owner != h.cpu()) continue;
    pglist_data& pg = nodes_.node(static_cast<int>(n));
    if (pg.kswapd_wait) kswapd_.run(h, pg);
    compaction_.kcompactd_tick(h, pg);
  }
  if (h.cpu() == 0) khugepaged_.tick(h);
  // Back to the running task's address space, caught up with any flush
  // that skipped this CPU.
  if (task_struct* cur = current(h)) tlb_.switch_mm(h, cur->mm);
  in_deferred_[h.cpu()] = false;
}

void Kernel::quiesce(hal::Hal& h) {
  huge_memory_.shrink_huge_zero_page(h);
  slab_.shrink_all(h);  // its pages land on the per-CPU lists: drain after
  pcp_.drain_all_pages(h, nullptr);
}

// ---------------------------------------------------------------- traps

hal::TrapOutcome Kernel::page_fault(hal::Hal& h, hal::vaddr_t cr2, uint32_t ec) {
  ctx_.charge(h, params_.cost_fault_entry_ns);
  task_struct* t = current(h);
  if (!t) {
    log_.printk(h, LOGLEVEL_ERR, "page fault at %#lx error %x with no task running on CPU%u",
                static_cast<unsigned long>(cr2), ec, h.cpu());
    return hal::TrapOutcome::task_killed;
  }
  if (reap_if_pending(h, t)) return hal::TrapOutcome::task_killed;
  const FaultResult r = memory_.handle_fault(h, t->mm, cr2, ec);
  int sig = 0;
  switch (r.kind) {
    case FaultKind::handled:
    case FaultKind::spurious:
    case FaultKind::fallback:  // (never returned: the 4 KiB path takes over)
      ctx_.charge(h, params_.cost_fault_exit_ns);
      return hal::TrapOutcome::retry;
    case FaultKind::sigsegv_maperr:
    case FaultKind::sigsegv_accerr:
      // Linux's show_signal_msg line, with the reason instead of ip/sp.
      log_.printk(h, LOGLEVEL_INFO, "%s[%d]: segfault at %lx error %x (%s)", t->comm, t->pid,
                  static_cast<unsigned long>(cr2), ec, r.reason);
      sig = kSIGSEGV;
      break;
    case FaultKind::sigbus:
      log_.printk(h, LOGLEVEL_ERR, "%s[%d]: bus error at %lx error %x (%s)", t->comm, t->pid,
                  static_cast<unsigned long>(cr2), ec, r.reason);
      sig = kSIGBUS;
      break;
    case FaultKind::oom:
      log_.printk(h, LOGLEVEL_ERR, "Out of memory: Killed process %d (%s) at %lx: %s", t->pid, t->comm,
                  static_cast<unsigned long>(cr2), r.reason);
      sig = kSIGKILL;
      break;
    case FaultKind::bad_pgtable:
    case FaultKind::kernel_mode:
      log_.printk(h, LOGLEVEL_ERR, "%s[%d]: fatal fault at %lx error %x (%s)", t->comm, t->pid,
                  static_cast<unsigned long>(cr2), ec, r.reason);
      sig = kSIGKILL;
      break;
  }
  // A fatal signal kills the whole thread group.
  kill_other_threads(h, t, 0, sig);
  do_exit(h, t, 0, sig);
  return hal::TrapOutcome::task_killed;
}

hal::TrapOutcome Kernel::general_protection(hal::Hal& h, hal::vaddr_t addr) {
  ctx_.charge(h, params_.cost_fault_entry_ns);
  task_struct* t = current(h);
  if (!t) {
    log_.printk(h, LOGLEVEL_ERR, "general protection fault at %#lx with no task running on CPU%u",
                static_cast<unsigned long>(addr), h.cpu());
    return hal::TrapOutcome::task_killed;
  }
  if (reap_if_pending(h, t)) return hal::TrapOutcome::task_killed;
  // Linux's "general protection fault" line; the task gets SIGSEGV.
  log_.printk(h, LOGLEVEL_INFO, "traps: %s[%d] general protection fault at %lx (non-canonical address)", t->comm,
              t->pid, static_cast<unsigned long>(addr));
  kill_other_threads(h, t, 0, kSIGSEGV);
  do_exit(h, t, 0, kSIGSEGV);
  return hal::TrapOutcome::task_killed;
}

hal::TrapOutcome Kernel::machine_check(hal::Hal& h, const hal::MachineCheck& mc) {
  ++kstats_.mce_total;
  if (mc.in_page_walk) ++kstats_.mce_in_page_walk;
  const uint64_t pfn = PFN_DOWN(mc.pa);
  if (!mc.action_required) {
    // Found by a scrub, not consumed: memory_failure() arrives later (issue 8).
    ++kstats_.mce_action_optional;
    log_.printk(h, LOGLEVEL_ERR, "Memory failure: %#lx: action optional, %s; recovery not implemented",
                static_cast<unsigned long>(pfn), mc.in_page_walk ? "page-table read" : "data");
    return hal::TrapOutcome::retry;
  }
  ++kstats_.mce_action_required;
  if (page* p = nodes_.pfn_to_page_init(pfn)) {
    if (!PageHWPoison(p)) {
      SetPageHWPoison(p);  // never reused once freed
      vmstat_.mod(page_to_nid(p), NR_HWPOISON, 1);
    }
  }
  task_struct* t = current(h);
  if (!t) {
    log_.printk(h, LOGLEVEL_ERR, "Memory failure: %#lx: consumed with no task running", static_cast<unsigned long>(pfn));
    return hal::TrapOutcome::task_killed;
  }
  if (reap_if_pending(h, t)) return hal::TrapOutcome::task_killed;
  log_.printk(h, LOGLEVEL_ERR, "Memory failure: %#lx: Sending SIGBUS to %s:%d due to hardware memory corruption",
              static_cast<unsigned long>(pfn), t->comm, t->pid);
  kill_other_threads(h, t, 0, kSIGBUS);
  do_exit(h, t, 0, kSIGBUS);
  return hal::TrapOutcome::task_killed;
}

void Kernel::interrupt(hal::Hal& h, uint8_t vector) {
  ++kstats_.irq_total;
  // Handlers take no locks: they may run inside a spin-wait of this CPU.
  switch (vector) {
    case x86::VEC_RESCHEDULE:
      ++kstats_.irq_resched;
      if (h.cpu() < hal::kMaxCpus) sched_.rq(h.cpu()).need_resched = true;
      break;
    case x86::VEC_TLB_SHOOTDOWN:
      // Every flush request naming this CPU (sw/mm/tlb.h).
      ++kstats_.irq_tlb;
      tlb_.handle_shootdown(h);
      break;
    case x86::VEC_TIMER:
      ++kstats_.irq_timer;
      timer_tick(h);
      break;
    default:
      ++kstats_.irq_other;
      break;
  }
}

int64_t Kernel::syscall(hal::Hal& h, const hal::SyscallArgs& a) {
  ctx_.charge(h, params_.cost_syscall_ns);
  ++kstats_.sys_total;
  task_struct* t = current(h);
  if (!t) return -ESRCH;
  // A thread whose group is ending runs its last calls until it takes a
  // trap or its CPU reschedules (then it is reaped); an exit ends it now.
  if (t->exit_pending && (a.nr == hal::Sys::exit || a.nr == hal::Sys::exit_group)) {
    reap_if_pending(h, t);
    return 0;
  }
  switch (a.nr) {
    case hal::Sys::mmap:
      ++kstats_.sys_mmap;
      return mmap_.do_mmap(h, t->mm, a.arg[0], a.arg[1], a.arg[2], a.arg[3], static_cast<int64_t>(a.arg[4]),
                           a.arg[5]);
    case hal::Sys::munmap:
      ++kstats_.sys_munmap;
      return mmap_.do_munmap(h, t->mm, a.arg[0], a.arg[1]);
    case hal::Sys::mprotect:
      ++kstats_.sys_mprotect;
      return mprotect_.do_mprotect(h, t->mm, a.arg[0], a.arg[1], a.arg[2]);
    case hal::Sys::madvise:
      ++kstats_.sys_madvise;
      return madvise_.do_madvise(h, t->mm, a.arg[0], a.arg[1], a.arg[2]);
    case hal::Sys::fork:
      ++kstats_.sys_fork;
      return do_fork(h, t, a.arg[0], 0, a.child_user);
    case hal::Sys::clone:
      ++kstats_.sys_clone;
      return do_fork(h, t, a.arg[1], a.arg[0], a.child_user);
    case hal::Sys::getpid:
      ++kstats_.sys_getpid;
      return t->tgid;
    case hal::Sys::exit:
      ++kstats_.sys_exit;
      log_.printk(h, LOGLEVEL_DEBUG, "%s[%d]: exit(%ld)", t->comm, t->pid, static_cast<long>(a.arg[0]));
      do_exit(h, t, static_cast<int>(a.arg[0]), 0);
      return 0;
    case hal::Sys::exit_group:
      ++kstats_.sys_exit_group;
      log_.printk(h, LOGLEVEL_DEBUG, "%s[%d]: exit_group(%ld)", t->comm, t->pid, static_cast<long>(a.arg[0]));
      kill_other_threads(h, t, static_cast<int>(a.arg[0]), 0);
      do_exit(h, t, static_cast<int>(a.arg[0]), 0);
      return 0;
    default:
      ++kstats_.sys_enosys;
      return -ENOSYS;
  }
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

const char* Kernel::proc_file(unsigned index) const {
  static const char* const kFiles[] = {"meminfo", "buddyinfo", "zoneinfo", "pagetypeinfo", "vmstat", "slabinfo"};
  return index < sizeof kFiles / sizeof kFiles[0] ? kFiles[index] : nullptr;
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

}  // namespace fw
