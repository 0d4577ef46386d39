// fw::Kernel: construction, boot (memory map, memblock, zones, the
// allocators, the kernel's page tables), secondary CPUs, and the scheduling
// entry points (schedule, timer ticks and the deferred work they run).
// The rest of Kernel is in the files kernel.h names.
#include "sw/kernel/kernel.h"

#include "sw/lib/bitops.h"

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
  ctx_.vmscan = &vmscan_;
  ctx_.workingset = &workingset_;
  ctx_.shrinkers = &shrinkers_;
  ctx_.swapfile = &swapfile_;
  ctx_.swap_cache = &swap_cache_;
  ctx_.oom = &oom_;
  ctx_.memory_failure = &memory_failure_;
  ctx_.blockdevs = &blockdevs_;
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
  ctx_.gup = &gup_;
  ctx_.filemap = &filemap_;
  ctx_.readahead = &readahead_;
  ctx_.writeback = &writeback_;
  ctx_.dma = &dma_;
  ctx_.pfnmap_owner = &dma_driver_;
  ctx_.tasks = &tasks_;
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
  vmscan_.init(&ctx_);
  workingset_.init(&ctx_);
  shrinkers_.init(&ctx_);
  swapfile_.init(&ctx_);
  swap_cache_.init(&ctx_);
  oom_.init(&ctx_);
  oom_.set_tasks(this);
  memory_failure_.init(&ctx_);
  memory_failure_.set_tasks(this);
  cec_.init(&log_, &memory_failure_, &nodes_, &params_);
  mce_.set_cec(&cec_);
  mce_.set_memory_failure(&memory_failure_);
  blockdevs_.init();
  memory_.init(&ctx_);
  mmap_.init(&ctx_);
  shmem_.init(&ctx_);
  hugetlb_.init(&ctx_);
  huge_memory_.init(&ctx_);
  khugepaged_.init(&ctx_);
  fork_.init(&ctx_);
  mprotect_.init(&ctx_);
  madvise_.init(&ctx_);
  gup_.init(&ctx_);
  filemap_.init(&ctx_);
  readahead_.init(&ctx_);
  writeback_.init(&ctx_);
  mmfs_.init(&ctx_);
  dma_.init(&ctx_);
  dma_driver_.init(&ctx_);
  blk_driver_.init(&ctx_);
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
  // node 0 until the node ranges say otherwise. The first page and the PC
  // BIOS area (640 KiB - 1 MiB) are never RAM, whatever the map says
  // (Linux's trim_bios_range).
  constexpr uint64_t kBiosBegin = 0xa0000, kBiosEnd = 0x100000;
  for (unsigned i = 0; i < boot_.nr_e820; ++i) {
    const hal::E820Entry& e = boot_.e820[i];
    if (e.type != hal::E820Type::usable) continue;
    const uint64_t s = max(align_up(e.addr, PAGE_SIZE), PAGE_SIZE);
    const uint64_t end = min(align_down(e.addr + e.size, PAGE_SIZE), phys_limit);
    if (s < kBiosBegin && end > s) ok &= memblock_.add(s, min(end, kBiosBegin) - s, 0);
    const uint64_t hs = max(s, kBiosEnd);
    if (end > hs) ok &= memblock_.add(hs, end - hs, 0);
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
  // The first MiB (Linux's reserve_real_mode reserves all of it: BIOSes
  // scribble there, and the real-mode trampoline lives there) and the
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
  if (!dma_.boot_early(bsp, memblock_)) return false;  // the swiotlb pool
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
  workingset_.boot_init(bsp);

  // The kernel's page tables: the direct map of all RAM, and the upper
  // tables of the vmalloc range that every address space shares.
  kernel_root_ = pgtable_.alloc_table(bsp, true);
  if (!kernel_root_) {
    log_.printk(bsp, LOGLEVEL_ERR, "boot: no memory for the kernel page tables");
    return false;
  }
  if (pgtable_.init_mem_mapping(bsp, kernel_root_, memblock_.memory(), boot_.gbpages)) {
    log_.printk(bsp, LOGLEVEL_ERR, "boot: cannot build the direct map");
    return false;
  }
  if (!vmalloc_.boot(bsp, kernel_root_)) return false;

  const bool pcide = boot_.pcid && params_.pcid;
  tlb_.init(&ctx_, pcide, kernel_root_);
  tlb_.set_nr_cpus(boot_.nr_cpus);
  bsp.set_paging_control(hal::PagingControl{true, boot_.nx, pcide, boot_.paging_levels == 5});
  tlb_.cpu_init(bsp);
  sched_.rq(bsp.cpu()).online = true;
  // The shared zero page, and the hugetlb pools while memory is still in
  // large free blocks (gigantic pages need 1 GiB of it contiguous).
  if (!memory_.init_zero_page(bsp)) {
    log_.printk(bsp, LOGLEVEL_ERR, "boot: no memory for the zero page");
    return false;
  }
  hugetlb_.boot(bsp);
  cec_.boot(bsp);
  // Devices that master memory, and their driver.
  dma_.boot(bsp);
  dma_driver_.probe(bsp);
  blk_driver_.probe(bsp);  // the disks: their block devices and queues
  // Filesystems on the block devices the drivers registered.
  mmfs_.mount_all(bsp);
  // Swap areas on the disks firmware.swapon names.
  swapfile_.swapon_boot(bsp);
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
  h.set_paging_control(hal::PagingControl{true, boot_.nx, tlb_.pcide(), boot_.paging_levels == 5});
  tlb_.cpu_init(h);
  sched_.rq(h.cpu()).online = true;
  log_.printk(h, LOGLEVEL_INFO, "CPU%u: online", h.cpu());
}

// ---------------------------------------------------------------- scheduling and deferred work

hal::RunTask Kernel::schedule(hal::Hal& h) {
  if (!booted_ || h.cpu() >= boot_.nr_cpus) return {-1, nullptr};
  reap_if_pending(h, current(h));
  bool switched = false;
  task_struct* t = sched_.pick(h, &switched);
  // A task killed while it waited (an OOM victim) dies as it is picked.
  while (t && t->exit_pending) {
    reap_if_pending(h, t);
    t = sched_.pick(h, &switched);
  }
  if (switched) ctx_.charge(h, params_.cost_context_switch_ns);
  // Idle keeps the last address space loaded (lazy, like Linux).
  if (t) tlb_.switch_mm(h, t->mm);
  else tlb_.enter_lazy(h);
  return t ? hal::RunTask{t->pid, t->user} : hal::RunTask{-1, nullptr};
}

void Kernel::timer_tick(hal::Hal& h) {
  if (!booted_) return;
  sched_.tick(h, params_.timeslice_us * 1000);
  blk_driver_.check_timeouts(h);
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
    kswapd_.tick(h, pg);  // its runs mark the timeline themselves
    // The timeline keeps the daemons' runs that did work (their run counts moved).
    const uint64_t compactions = compaction_.stats().kcompactd_runs + compaction_.stats().proactive_runs;
    h.trace({hal::TraceKind::kcompactd, true, nullptr, {n, 0}, false});
    compaction_.kcompactd_tick(h, pg);
    h.trace({hal::TraceKind::kcompactd, false, nullptr, {0, 0},
             compaction_.stats().kcompactd_runs + compaction_.stats().proactive_runs == compactions});
  }
  if (h.cpu() == 0) {
    const uint64_t scans = khugepaged_.stats().wakeups;
    h.trace({hal::TraceKind::khugepaged, true, nullptr, {0, 0}, false});
    khugepaged_.tick(h);
    h.trace({hal::TraceKind::khugepaged, false, nullptr, {khugepaged_.stats().pages_collapsed, 0},
             khugepaged_.stats().wakeups == scans});
    writeback_.flusher_tick(h);  // the flusher (wb_workfn)
    cec_.tick(h);  // the collector's ageing and queued soft offlines (cec_work_fn, memory_failure_work_func)
  }
  mce_.process_records(h);  // uncorrected errors the CMCI poll found (mce_gen_pool_process)
  memory_failure_.memory_failure_work(h);  // errors kernel copies met (memory_failure_queue)
  pcp_.vmstat_update(h);
  // Back to the running task's address space, caught up with any flush
  // that skipped this CPU.
  if (task_struct* cur = current(h)) tlb_.switch_mm(h, cur->mm);
  in_deferred_[h.cpu()] = false;
}

void Kernel::quiesce(hal::Hal& h) {
  dma_driver_.release(h);  // the driver is done: what it still holds is reported
  huge_memory_.shrink_huge_zero_page(h);
  slab_.shrink_all(h);  // its pages land on the per-CPU lists: drain after
  pcp_.drain_all_pages(h, nullptr);
}

}  // namespace fw
