// The /proc tables: which files exist and who shows them.
#include "sw/dma/dma.h"
#include "sw/fs/proc/proc_fs.h"
#include "sw/lib/string.h"
#include "sw/mm/slub.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {

// In the order the simulator writes them to proc/.
const proc_entry proc_root_entries[] = {
    {"meminfo", meminfo_proc_show, nullptr},
    {"buddyinfo", frag_show, nullptr},
    {"zoneinfo", zoneinfo_show, nullptr},
    {"pagetypeinfo", pagetypeinfo_show, nullptr},
    {"vmstat", vmstat_show, nullptr},
    {"slabinfo", slab_show, nullptr},
    {"swiotlb", swiotlb_proc_show, nullptr},
    {"diskstats", diskstats_show, diskstats_present},
    {"swaps", swaps_proc_show, nullptr},
};

const pid_entry proc_pid_entries[] = {
    {"maps", show_map, nullptr},
    {"oom_score", nullptr, proc_oom_score},
    {"oom_score_adj", nullptr, proc_oom_score_adj},
};

}  // namespace

const proc_entry* proc_root_entry(unsigned index) {
  return index < sizeof proc_root_entries / sizeof proc_root_entries[0] ? &proc_root_entries[index] : nullptr;
}

const proc_entry* proc_root_lookup(const char* name) {
  for (const proc_entry& e : proc_root_entries)
    if (str_eq(e.name, name)) return &e;
  return nullptr;
}

const pid_entry* proc_pid_lookup(const char* name) {
  for (const pid_entry& e : proc_pid_entries)
    if (str_eq(e.name, name)) return &e;
  return nullptr;
}

}  // namespace fw
