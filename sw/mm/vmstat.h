// Memory statistics with Linux's /proc/vmstat names: gauges (nr_*) and
// event counters. Held per Kernel; subsystems update them.
#pragma once

#include <stdint.h>

namespace fw {

enum VmGauge : unsigned {
  NR_ANON_PAGES,         // anonymous pages mapped by processes
  NR_PAGETABLE,          // page-table pages of processes (user halves and roots)
  NR_KERNEL_PAGETABLE,   // page-table pages of the kernel's own tables
  NR_SLAB_UNRECLAIMABLE, // object-cache pages
  NR_HWPOISON,           // pages kept out of use because they hold poison
  NR_VM_GAUGES,
};

// The zone-indexed events are in zone order (ZONE_DMA first) so that
// PGALLOC_DMA + zone index names the zone's counter.
enum VmEvent : unsigned {
  PGALLOC_DMA,
  PGALLOC_DMA32,
  PGALLOC_NORMAL,
  PGALLOC_MOVABLE,
  PGFREE,
  PGFAULT,
  PGMAJFAULT,
  PGFAULT_ANON,       // faults that allocated and mapped an anonymous page
  PGFAULT_SPURIOUS,   // faults whose PTE already allowed the access
  PGFAULT_SIGSEGV,
  PGFAULT_OOM,
  HWPOISON_ALLOC_SKIPPED,  // fresh pages found poisoned when zeroed, taken out of use
  NR_VM_EVENTS,
};

struct VmStat {
  int64_t gauge[NR_VM_GAUGES] = {};
  uint64_t event[NR_VM_EVENTS] = {};
};

inline const char* vm_gauge_name(unsigned i) {
  static const char* const names[NR_VM_GAUGES] = {
      "nr_anon_pages", "nr_page_table_pages", "nr_kernel_page_table_pages", "nr_slab_unreclaimable",
      "nr_hwpoison",
  };
  return names[i];
}

inline const char* vm_gauge_desc(unsigned i) {
  static const char* const d[NR_VM_GAUGES] = {
      "anonymous pages mapped by processes",
      "page-table pages of processes",
      "page-table pages of the kernel's own tables",
      "object-cache (slab) pages",
      "pages kept out of use because they hold poison",
  };
  return d[i];
}

inline const char* vm_event_desc(unsigned i) {
  static const char* const d[NR_VM_EVENTS] = {
      "pages allocated from ZONE_DMA",
      "pages allocated from ZONE_DMA32",
      "pages allocated from ZONE_NORMAL",
      "pages allocated from ZONE_MOVABLE",
      "pages freed",
      "page faults",
      "major page faults (with I/O; none without swap or files)",
      "faults that mapped a new anonymous page",
      "faults whose page-table entry already allowed the access",
      "faults that ended in SIGSEGV",
      "faults that found no memory",
      "fresh pages found poisoned when zeroed and taken out of use",
  };
  return d[i];
}

inline const char* vm_event_name(unsigned i) {
  static const char* const names[NR_VM_EVENTS] = {
      "pgalloc_dma", "pgalloc_dma32", "pgalloc_normal", "pgalloc_movable", "pgfree", "pgfault",
      "pgmajfault", "pgfault_anon", "pgfault_spurious", "pgfault_sigsegv", "pgfault_oom",
      "hwpoison_alloc_skipped",
  };
  return names[i];
}

}  // namespace fw
