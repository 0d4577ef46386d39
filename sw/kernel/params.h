// Firmware parameters: the `firmware.<key>` entries of a scenario. Params is
// plain data the Kernel receives before boot; kParamTable describes every
// field (key, type, offset, default, range, description, unit) so the
// simulator's config layer can read, type-check and report them without
// knowing the struct. Freestanding: constexpr tables, no allocation.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace fw {

struct Params {
  // Scheduling.
  uint64_t timeslice_us = 4000;
  // Console.
  uint32_t loglevel = 7;
  // MMU use.
  bool pcid = true;
  // Memory layout and limits.
  uint64_t reserve_low_kb = 1024;
  uint64_t mmap_min_addr = 65536;
  uint64_t max_map_count = 65530;
  uint64_t tlb_single_page_flush_ceiling = 33;
  // Simulated cost of firmware work (charged with Hal::charge_ns).
  uint64_t cost_fault_entry_ns = 150;
  uint64_t cost_fault_exit_ns = 100;
  uint64_t cost_syscall_ns = 100;
  uint64_t cost_context_switch_ns = 800;
  uint64_t cost_pte_update_ns = 5;
  uint64_t cost_page_alloc_ns = 60;
  uint64_t cost_page_zero_ns = 0;
  uint64_t cost_slab_alloc_ns = 20;
  uint64_t cost_migrate_page_ns = 300;

  // Physical memory manager (Linux's names where Linux has the knob).
  uint64_t min_free_kbytes = 0;  // 0: Linux's formula from the lowmem pages
  uint32_t watermark_scale_factor = 10;
  uint32_t watermark_boost_factor = 15000;
  uint32_t lowmem_reserve_ratio_dma = 256;
  uint32_t lowmem_reserve_ratio_dma32 = 256;
  uint32_t lowmem_reserve_ratio_normal = 32;
  uint64_t kernelcore = 0;   // bytes; 0: no ZONE_MOVABLE from it
  uint64_t movablecore = 0;  // bytes
  uint32_t kernelcore_percent = 0;
  uint32_t movablecore_percent = 0;
  uint64_t cma = 0;  // bytes of CMA area reserved at boot
  uint32_t percpu_pagelist_high_fraction = 0;
  uint32_t compaction_proactiveness = 20;
  uint32_t extfrag_threshold = 500;
  bool alloc_nofragment = true;
  bool deferred_struct_page_init = true;
  uint32_t slub_debug = 0;
  uint32_t slub_min_objects = 0;
  uint32_t slub_min_order = 0;
  uint32_t slub_max_order = 3;

  // Huge pages (Linux's boot parameters and sysfs knobs).
  uint32_t transparent_hugepage = 1;         // choice: kThpModeNames (madvise)
  uint32_t transparent_hugepage_defrag = 3;  // choice: kThpDefragNames (madvise)
  bool transparent_hugepage_use_zero_page = true;
  bool khugepaged_defrag = true;
  uint32_t khugepaged_pages_to_scan = 4096;
  uint32_t khugepaged_scan_sleep_millisecs = 10000;
  uint32_t khugepaged_alloc_sleep_millisecs = 60000;
  uint32_t khugepaged_max_ptes_none = 511;
  uint32_t khugepaged_max_ptes_shared = 256;
  uint64_t hugepages_2m = 0;  // boot-time pool of 2 MiB pages, spread over the nodes
  uint64_t hugepages_1g = 0;  // ... of 1 GiB pages
  uint64_t nr_overcommit_hugepages_2m = 0;
  uint64_t nr_overcommit_hugepages_1g = 0;
  uint32_t default_hugepagesz = 0;  // choice: kHugepageSizeNames (2M)
  // TLB shootdowns.
  uint64_t tlb_shootdown_timeout_us = 100000;
  uint64_t cost_tlb_flush_ipi_ns = 200;

  // DMA (sw/dma, sw/drivers/dma).
  uint64_t swiotlb = 0;  // SwiotlbMode (auto, force, off) or the pool's size in bytes
  bool dma_debug = true;
  uint32_t dma_debug_num_errors = 1;
  uint64_t dma_timeout_ms = 3000;
  uint32_t dma_driver_bug = 0;  // choice: kDmaDriverBugNames
  // Page cache and writeback (Linux's vm.* sysctls and the block queue's read_ahead_kb).
  uint64_t read_ahead_kb = 128;
  uint32_t dirty_background_ratio = 10;
  uint32_t dirty_ratio = 20;
  uint32_t dirty_expire_centisecs = 3000;
  uint32_t dirty_writeback_centisecs = 500;
  // Swap (sw/mm/swapfile, swap_state).
  uint32_t page_cluster = 3;  // vm.page-cluster: swap readahead reads 2^page_cluster slots
  // Not a table key: firmware.swapon, the block devices used as swap in
  // priority order, as indices into BootInfo::devices (the simulator
  // resolves the names; sw/mm/swapfile swaps them on at boot).
  uint8_t swapon_devices[16] = {};
  uint32_t nr_swapon = 0;
  // Reclaim (Linux's vm.swappiness).
  uint32_t swappiness = 60;
  // Soft offline and the corrected-error collector (sw/mm/soft_offline.cpp, sw/drivers/ras/cec).
  bool enable_soft_offline = true;   // vm.enable_soft_offline
  uint32_t cec_action_threshold = 2;  // ras/cec/action_threshold (Intel's)
  uint64_t cec_decay_interval_ms = 24ull * 60 * 60 * 1000;  // ras/cec/decay_interval, in ms
  bool cec_disable = false;           // ras=cec_disable
  // Memory failure (Linux's vm.memory_failure_early_kill and
  // vm.memory_failure_recovery).
  bool memory_failure_early_kill = false;
  bool memory_failure_recovery = true;
  // Not a scenario key: the simulator sets it with --debug-flags=DMA.
  bool trace_dma = false;
  // Not a scenario key: --debug-flags=Swap (swap-outs, swap-ins, readahead windows).
  bool trace_swap = false;
  // Not a scenario key: --debug-flags=RAS (the corrected-error collector's entries, ageing, soft offlines).
  bool trace_ras = false;
};

// Names of the choice parameters' values, in index order (nullptr-terminated).
inline constexpr const char* kThpModeNames[] = {"always", "madvise", "never", nullptr};
enum ThpMode : uint32_t { THP_ALWAYS, THP_MADVISE, THP_NEVER };
inline constexpr const char* kThpDefragNames[] = {"always", "defer", "defer+madvise", "madvise", "never", nullptr};
enum ThpDefrag : uint32_t { THP_DEFRAG_ALWAYS, THP_DEFRAG_DEFER, THP_DEFRAG_DEFER_MADVISE, THP_DEFRAG_MADVISE, THP_DEFRAG_NEVER };
inline constexpr const char* kHugepageSizeNames[] = {"2M", "1G", nullptr};
inline constexpr const char* kSwiotlbModeNames[] = {"auto", "force", "off", nullptr};
// Bugs the DMA driver can be told to make, for scenarios that show the checks catch them.
inline constexpr const char* kDmaDriverBugNames[] = {"none", "unmapped", "stale", nullptr};
enum DmaDriverBug : uint32_t {
  DMA_BUG_NONE,
  DMA_BUG_UNMAPPED,  // hand the engine CPU physical addresses of the buffers, never mapped
  DMA_BUG_STALE,     // map, then unmap before the engine runs: it uses stale addresses
};

// slub_debug bits (Linux's letters: F, Z, P, U).
constexpr uint32_t SLUB_DEBUG_F = 0x1;  // sanity checks (double free, pointer outside the slab)
constexpr uint32_t SLUB_DEBUG_Z = 0x2;  // red zones around each object
constexpr uint32_t SLUB_DEBUG_P = 0x4;  // poison freed and fresh objects
constexpr uint32_t SLUB_DEBUG_U = 0x8;  // remember the last allocating/freeing CPU and time

// bytes: a u64 the configuration layer may read as a size ("64MiB").
// choice: a u32 holding the index of one of `choices` (a nullptr-terminated
// list of words); the configuration layer reads and records the word.
// size_or_choice: a u64 holding the index of one of `choices`, or a size in
// bytes within [min, max] (min is above every index).
enum class ParamType : uint8_t { u32, u64, boolean, bytes, choice, size_or_choice };

struct ParamDesc {
  const char* key;  // scenario key below "firmware."
  ParamType type;
  uint32_t offset;  // of the field in Params
  uint64_t def;     // default (equals Params{}'s field; a unit test checks)
  uint64_t min;     // inclusive range accepted by param_set
  uint64_t max;
  const char* desc;
  const char* unit;
  const char* const* choices = nullptr;  // ParamType::choice and size_or_choice
};

// clang-format off
inline constexpr ParamDesc kParamTable[] = {
  {"timeslice_us", ParamType::u64, offsetof(Params, timeslice_us), 4000, 1, 10000000,
   "round-robin timeslice: a timer tick after this much time on a CPU preempts the task", "us"},
  {"loglevel", ParamType::u32, offsetof(Params, loglevel), 7, 0, 8,
   "console log level: kernel messages with a lower level reach the console (Linux console_loglevel)", "level"},
  {"pcid", ParamType::boolean, offsetof(Params, pcid), 1, 0, 1,
   "use PCIDs when the CPU has them (0 is Linux's nopcid)", "bool"},
  {"reserve_low_kb", ParamType::u64, offsetof(Params, reserve_low_kb), 1024, 4, 1024,
   "memory kept from the allocator at the bottom of physical memory (Linux's reserve_real_mode takes the first 1024)",
   "KiB"},
  {"mmap_min_addr", ParamType::u64, offsetof(Params, mmap_min_addr), 65536, 0, 1ull << 32,
   "lowest address a process may map (vm.mmap_min_addr)", "bytes"},
  {"max_map_count", ParamType::u64, offsetof(Params, max_map_count), 65530, 1, 1ull << 31,
   "most VMAs a process may have (vm.max_map_count)", "count"},
  {"tlb_single_page_flush_ceiling", ParamType::u64, offsetof(Params, tlb_single_page_flush_ceiling), 33, 0, 1ull << 20,
   "ranges of more pages than this are flushed with a full TLB flush instead of INVLPG per page", "pages"},
  {"cost_fault_entry_ns", ParamType::u64, offsetof(Params, cost_fault_entry_ns), 150, 0, 1000000,
   "simulated time of page-fault entry (exception delivery, handler dispatch, VMA lookup)", "ns"},
  {"cost_fault_exit_ns", ParamType::u64, offsetof(Params, cost_fault_exit_ns), 100, 0, 1000000,
   "simulated time of returning from a page fault to the user task", "ns"},
  {"cost_syscall_ns", ParamType::u64, offsetof(Params, cost_syscall_ns), 100, 0, 1000000,
   "simulated time of system-call entry and exit", "ns"},
  {"cost_context_switch_ns", ParamType::u64, offsetof(Params, cost_context_switch_ns), 800, 0, 1000000,
   "simulated time of a context switch (besides the CR3 write)", "ns"},
  {"cost_pte_update_ns", ParamType::u64, offsetof(Params, cost_pte_update_ns), 5, 0, 1000000,
   "simulated time of one page-table entry write", "ns"},
  {"cost_page_alloc_ns", ParamType::u64, offsetof(Params, cost_page_alloc_ns), 60, 0, 1000000,
   "simulated time of one buddy-allocator allocation or free", "ns"},
  {"cost_page_zero_ns", ParamType::u64, offsetof(Params, cost_page_zero_ns), 0, 0, 1000000,
   "CPU time of zeroing one 4 KiB page on top of what the HAL charges for the fill itself (0: the HAL's charge only)", "ns"},
  {"cost_slab_alloc_ns", ParamType::u64, offsetof(Params, cost_slab_alloc_ns), 20, 0, 1000000,
   "simulated time of one kmem_cache allocation or free", "ns"},
  {"cost_migrate_page_ns", ParamType::u64, offsetof(Params, cost_migrate_page_ns), 300, 0, 1000000,
   "simulated time of migrating one page besides the copy (rmap walk, PTE updates)", "ns"},
  {"min_free_kbytes", ParamType::u64, offsetof(Params, min_free_kbytes), 0, 0, 1ull << 40,
   "vm.min_free_kbytes: the min watermarks' total; 0 computes Linux's clamp(int_sqrt(lowmem_kbytes * 16), 128, 262144), "
   "raised with THP as khugepaged's set_recommended_min_free_kbytes does",
   "KiB"},
  {"watermark_scale_factor", ParamType::u32, offsetof(Params, watermark_scale_factor), 10, 1, 3000,
   "vm.watermark_scale_factor: distance between min, low and high watermarks in 1/10000 of a zone's managed pages", "1/10000"},
  {"watermark_boost_factor", ParamType::u32, offsetof(Params, watermark_boost_factor), 15000, 0, 1000000,
   "vm.watermark_boost_factor: watermark boost after a fragmenting fallback, in 1/10000 of the high watermark (0: no boosting)", "1/10000"},
  {"lowmem_reserve_ratio_dma", ParamType::u32, offsetof(Params, lowmem_reserve_ratio_dma), 256, 0, 1u << 20,
   "vm.lowmem_reserve_ratio for ZONE_DMA: pages kept from higher-zone requests = their zones' managed pages / ratio (0: none)", "ratio"},
  {"lowmem_reserve_ratio_dma32", ParamType::u32, offsetof(Params, lowmem_reserve_ratio_dma32), 256, 0, 1u << 20,
   "vm.lowmem_reserve_ratio for ZONE_DMA32", "ratio"},
  {"lowmem_reserve_ratio_normal", ParamType::u32, offsetof(Params, lowmem_reserve_ratio_normal), 32, 0, 1u << 20,
   "vm.lowmem_reserve_ratio for ZONE_NORMAL", "ratio"},
  {"kernelcore", ParamType::bytes, offsetof(Params, kernelcore), 0, 0, 1ull << 52,
   "kernelcore=: memory usable by any allocation, the rest of each node becomes ZONE_MOVABLE (0: not set)", "bytes"},
  {"movablecore", ParamType::bytes, offsetof(Params, movablecore), 0, 0, 1ull << 52,
   "movablecore=: memory for ZONE_MOVABLE, spread over the nodes (0: not set)", "bytes"},
  {"kernelcore_percent", ParamType::u32, offsetof(Params, kernelcore_percent), 0, 0, 100,
   "kernelcore=nn%: kernelcore as a percentage of all memory (0: not set)", "percent"},
  {"movablecore_percent", ParamType::u32, offsetof(Params, movablecore_percent), 0, 0, 100,
   "movablecore=nn%: movablecore as a percentage of all memory (0: not set)", "percent"},
  {"cma", ParamType::bytes, offsetof(Params, cma), 0, 0, 1ull << 52,
   "cma=: size of the contiguous memory area reserved at boot and lent to movable allocations (0: none)", "bytes"},
  {"percpu_pagelist_high_fraction", ParamType::u32, offsetof(Params, percpu_pagelist_high_fraction), 0, 0, 1u << 20,
   "vm.percpu_pagelist_high_fraction: per-CPU list high = managed pages / fraction / CPUs (0: from the low watermark; else at least 8)", "fraction"},
  {"compaction_proactiveness", ParamType::u32, offsetof(Params, compaction_proactiveness), 20, 0, 100,
   "vm.compaction_proactiveness: how hard kcompactd keeps the fragmentation score down (0: no proactive compaction)", "0..100"},
  {"extfrag_threshold", ParamType::u32, offsetof(Params, extfrag_threshold), 500, 0, 1000,
   "vm.extfrag_threshold: costly-order compaction is skipped when the fragmentation index is at or below this", "0..1000"},
  {"alloc_nofragment", ParamType::boolean, offsetof(Params, alloc_nofragment), 1, 0, 1,
   "ALLOC_NOFRAGMENT: the first zonelist pass may only take whole pageblocks from another migrate type (0 turns it off; not a Linux knob)", "bool"},
  {"deferred_struct_page_init", ParamType::boolean, offsetof(Params, deferred_struct_page_init), 1, 0, 1,
   "initialize the struct pages of max-order blocks free at boot when first used (DEFERRED_STRUCT_PAGE_INIT)", "bool"},
  {"slub_debug", ParamType::u32, offsetof(Params, slub_debug), 0, 0, 15,
   "slub_debug for every cache: 1 F (sanity checks), 2 Z (red zones), 4 P (poisoning), 8 U (owner tracking); OR them", "mask"},
  {"slub_min_objects", ParamType::u32, offsetof(Params, slub_min_objects), 0, 0, 32767,
   "slub_min_objects: objects per slab to aim for (0: 4 * (fls(CPUs) + 1))", "count"},
  {"slub_min_order", ParamType::u32, offsetof(Params, slub_min_order), 0, 0, 3,
   "slub_min_order: smallest slab order", "order"},
  {"slub_max_order", ParamType::u32, offsetof(Params, slub_max_order), 3, 0, 10,
   "slub_max_order: largest slab order the size calculation picks", "order"},
  {"transparent_hugepage", ParamType::choice, offsetof(Params, transparent_hugepage), THP_MADVISE, 0, 2,
   "transparent_hugepage=: always (every anonymous mapping), madvise (MADV_HUGEPAGE regions only) or never", "mode",
   kThpModeNames},
  {"transparent_hugepage_defrag", ParamType::choice, offsetof(Params, transparent_hugepage_defrag), THP_DEFRAG_MADVISE, 0, 4,
   "transparent_hugepage/defrag: how hard a THP fault compacts (always: direct; defer: wake kcompactd; defer+madvise; madvise: direct for MADV_HUGEPAGE only; never)",
   "mode", kThpDefragNames},
  {"transparent_hugepage_use_zero_page", ParamType::boolean, offsetof(Params, transparent_hugepage_use_zero_page), 1, 0, 1,
   "transparent_hugepage/use_zero_page: read faults on THP-eligible ranges map the huge zero page", "bool"},
  {"khugepaged_defrag", ParamType::boolean, offsetof(Params, khugepaged_defrag), 1, 0, 1,
   "khugepaged/defrag: khugepaged's huge page allocations may compact directly", "bool"},
  {"khugepaged_pages_to_scan", ParamType::u32, offsetof(Params, khugepaged_pages_to_scan), 4096, 1, 1u << 30,
   "khugepaged/pages_to_scan: pages khugepaged scans per wakeup", "pages"},
  {"khugepaged_scan_sleep_millisecs", ParamType::u32, offsetof(Params, khugepaged_scan_sleep_millisecs), 10000, 0, 1u << 30,
   "khugepaged/scan_sleep_millisecs: simulated time between khugepaged scans", "ms"},
  {"khugepaged_alloc_sleep_millisecs", ParamType::u32, offsetof(Params, khugepaged_alloc_sleep_millisecs), 60000, 0, 1u << 30,
   "khugepaged/alloc_sleep_millisecs: khugepaged's pause after a huge page allocation failed", "ms"},
  {"khugepaged_max_ptes_none", ParamType::u32, offsetof(Params, khugepaged_max_ptes_none), 511, 0, 511,
   "khugepaged/max_ptes_none: unmapped (or zero-page) PTEs a range may have and still be collapsed", "ptes"},
  {"khugepaged_max_ptes_shared", ParamType::u32, offsetof(Params, khugepaged_max_ptes_shared), 256, 0, 512,
   "khugepaged/max_ptes_shared: PTEs of pages shared with other processes a collapsed range may have", "ptes"},
  {"hugepages_2m", ParamType::u64, offsetof(Params, hugepages_2m), 0, 0, 1ull << 32,
   "hugepagesz=2M hugepages=N: 2 MiB pages reserved for hugetlb at boot, spread round-robin over the nodes", "pages"},
  {"hugepages_1g", ParamType::u64, offsetof(Params, hugepages_1g), 0, 0, 1ull << 22,
   "hugepagesz=1G hugepages=N: 1 GiB pages reserved for hugetlb at boot (contiguous allocation), spread over the nodes", "pages"},
  {"nr_overcommit_hugepages_2m", ParamType::u64, offsetof(Params, nr_overcommit_hugepages_2m), 0, 0, 1ull << 32,
   "hugepages-2048kB/nr_overcommit_hugepages: surplus 2 MiB pages that may come from the buddy allocator", "pages"},
  {"nr_overcommit_hugepages_1g", ParamType::u64, offsetof(Params, nr_overcommit_hugepages_1g), 0, 0, 1ull << 22,
   "hugepages-1048576kB/nr_overcommit_hugepages (as on Linux, gigantic pages are never allocated as surplus)", "pages"},
  {"default_hugepagesz", ParamType::choice, offsetof(Params, default_hugepagesz), 0, 0, 1,
   "default_hugepagesz=: the huge page size of MAP_HUGETLB without a size flag, and of meminfo's HugePages_ lines",
   "size", kHugepageSizeNames},
  {"tlb_shootdown_timeout_us", ParamType::u64, offsetof(Params, tlb_shootdown_timeout_us), 100000, 1, 1ull << 40,
   "simulated time a CPU waits for TLB shootdown acknowledgements before it reports the stuck CPUs and goes on", "us"},
  {"cost_tlb_flush_ipi_ns", ParamType::u64, offsetof(Params, cost_tlb_flush_ipi_ns), 200, 0, 1000000,
   "simulated time of handling one TLB shootdown IPI (entry, flush bookkeeping, acknowledgement)", "ns"},
  {"swiotlb", ParamType::size_or_choice, offsetof(Params, swiotlb), 0, 256 * 1024, 1ull << 32,
   "swiotlb bounce pool: auto (on when RAM extends above 4 GiB: x86's rule), force (every streaming mapping bounces), "
   "off, or the pool's size (e.g. 64MiB; a multiple of 256KiB; on as auto decides)", "mode or bytes", kSwiotlbModeNames},
  {"dma_debug", ParamType::boolean, offsetof(Params, dma_debug), 1, 0, 1,
   "CONFIG_DMA_API_DEBUG's checks of every DMA API call (0 is Linux's dma_debug=off)", "bool"},
  {"dma_debug_num_errors", ParamType::u32, offsetof(Params, dma_debug_num_errors), 1, 0, 1u << 30,
   "dma-api/num_errors: how many DMA-API problems are printed (all are counted)", "count"},
  {"dma_timeout_ms", ParamType::u64, offsetof(Params, dma_timeout_ms), 3000, 1, 1ull << 30,
   "simulated time a driver waits for a DMA completion before it gives up (dmatest's timeout)", "ms"},
  {"dma_driver_bug", ParamType::choice, offsetof(Params, dma_driver_bug), DMA_BUG_NONE, 0, 2,
   "a bug the DMA driver makes on purpose, for the checks to catch: none, unmapped (physical addresses, never "
   "mapped), stale (unmapped before the transfer)", "bug", kDmaDriverBugNames},
  {"read_ahead_kb", ParamType::u64, offsetof(Params, read_ahead_kb), 128, 0, 1ull << 20,
   "queue/read_ahead_kb of every disk: the largest readahead window (fadvise SEQUENTIAL doubles it; 0: no readahead)",
   "KiB"},
  {"dirty_background_ratio", ParamType::u32, offsetof(Params, dirty_background_ratio), 10, 0, 100,
   "vm.dirty_background_ratio: the flusher starts background writeback above this percentage of dirtyable memory",
   "percent"},
  {"dirty_ratio", ParamType::u32, offsetof(Params, dirty_ratio), 20, 1, 100,
   "vm.dirty_ratio: writers are throttled (wait for writeback) above this percentage of dirtyable memory", "percent"},
  {"dirty_expire_centisecs", ParamType::u32, offsetof(Params, dirty_expire_centisecs), 3000, 0, 1u << 30,
   "vm.dirty_expire_centisecs: the flusher writes inodes dirty for longer than this", "cs"},
  {"dirty_writeback_centisecs", ParamType::u32, offsetof(Params, dirty_writeback_centisecs), 500, 0, 1u << 30,
   "vm.dirty_writeback_centisecs: period of the flusher's check for expired inodes (0: never)", "cs"},
  {"page_cluster", ParamType::u32, offsetof(Params, page_cluster), 3, 0, 31,
   "vm.page-cluster: swap-in reads up to 2^page_cluster slots around the faulting one (0: no readahead)", "log2 pages"},
  {"swappiness", ParamType::u32, offsetof(Params, swappiness), 60, 0, 200,
   "vm.swappiness: reclaim's relative cost of anonymous against file pages (0: anonymous only when file pages "
   "run out, 100: equal, 200: anonymous first); anonymous pages are reclaimed only with swap",
   "ratio"},
  {"enable_soft_offline", ParamType::boolean, offsetof(Params, enable_soft_offline), 1, 0, 1,
   "vm.enable_soft_offline: soft offline (MADV_SOFT_OFFLINE, the corrected-error collector) may migrate pages "
   "away from memory going bad (0: it is refused with EOPNOTSUPP)", "bool"},
  {"cec_action_threshold", ParamType::u32, offsetof(Params, cec_action_threshold), 2, 1, 1023,
   "ras/cec/action_threshold: corrected errors on one page after which the collector soft-offlines it (Linux's "
   "default on Intel is 2)", "errors"},
  {"cec_decay_interval_ms", ParamType::u64, offsetof(Params, cec_decay_interval_ms), 24ull * 60 * 60 * 1000, 1,
   30ull * 24 * 60 * 60 * 1000,
   "ras/cec/decay_interval in ms: simulated time between the collector's ageing passes (Linux's default 24 h; its "
   "one-hour minimum is not kept, so short runs can age)", "ms"},
  {"cec_disable", ParamType::boolean, offsetof(Params, cec_disable), 0, 0, 1,
   "ras=cec_disable: no corrected-error collector (corrected errors are only logged)", "bool"},
  {"memory_failure_early_kill", ParamType::boolean, offsetof(Params, memory_failure_early_kill), 0, 0, 1,
   "vm.memory_failure_early_kill: a page found bad signals every process mapping it at once (BUS_MCEERR_AO) "
   "instead of only those that touch it later; prctl(PR_MCE_KILL) overrides it per process", "bool"},
  {"memory_failure_recovery", ParamType::boolean, offsetof(Params, memory_failure_recovery), 1, 0, 1,
   "vm.memory_failure_recovery: try to recover from a page found bad (0: panic, as Linux does)", "bool"},
};
// clang-format on
inline constexpr size_t kParamCount = sizeof(kParamTable) / sizeof(kParamTable[0]);

// The descriptor of `key`, nullptr when there is none.
const ParamDesc* param_find(const char* key);
uint64_t param_get(const Params& p, const ParamDesc& d);
// Stores v; false (nothing stored) when v is outside [min, max].
bool param_set(Params& p, const ParamDesc& d, uint64_t v);
// A choice parameter's word for index v (nullptr when out of range), and
// the index of a word (-1 when it is not one of the choices).
const char* param_choice_name(const ParamDesc& d, uint64_t v);
int param_choice_index(const ParamDesc& d, const char* word);

}  // namespace fw
