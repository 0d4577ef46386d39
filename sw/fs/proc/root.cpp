// The /proc tables: which files exist and who shows them.
#include "sw/dma/dma.h"
#include "sw/fs/proc/proc_fs.h"
#include "sw/lib/string.h"
#include "sw/mm/slub.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {

template <unsigned Nid, unsigned Field>
void mf_show(seq_file* m, const MmContext& ctx) {
  memory_failure_stat_show(m, ctx, Nid, Field);
}
template <unsigned Nid>
bool mf_present(const MmContext& ctx) {
  return memory_failure_stat_present(ctx, Nid);
}
#define MF_NODE_FILES(n)                                                              \
  {"node" #n "/memory_failure/total", mf_show<n, 0>, mf_present<n>},                  \
      {"node" #n "/memory_failure/ignored", mf_show<n, 1>, mf_present<n>},            \
      {"node" #n "/memory_failure/failed", mf_show<n, 2>, mf_present<n>},             \
      {"node" #n "/memory_failure/delayed", mf_show<n, 3>, mf_present<n>},            \
      {"node" #n "/memory_failure/recovered", mf_show<n, 4>, mf_present<n>}

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
    MF_NODE_FILES(0), MF_NODE_FILES(1), MF_NODE_FILES(2), MF_NODE_FILES(3),
    MF_NODE_FILES(4), MF_NODE_FILES(5), MF_NODE_FILES(6), MF_NODE_FILES(7),
};
#undef MF_NODE_FILES
static_assert(hal::kMaxNodes == 8, "one MF_NODE_FILES per possible node");

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
