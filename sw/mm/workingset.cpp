#include "sw/mm/workingset.h"

#include "sw/lib/printk.h"
#include "sw/mm/filemap.h"
#include "sw/mm/lru.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {

// The shadow's layout (Linux pack_shadow): from the top, the eviction
// timestamp, the workingset bit, the node, the memory cgroup id (always 0
// here), and the value-entry bit 0.
constexpr unsigned kBitsPerXaValue = 63;
constexpr unsigned kWorkingsetShift = 1;
constexpr unsigned kNodesShift = NODES_WIDTH;
constexpr unsigned kMemCgroupIdShift = 16;
constexpr unsigned kEvictionShift = (64 - kBitsPerXaValue) + kWorkingsetShift + kNodesShift + kMemCgroupIdShift;
constexpr uint64_t kEvictionMask = ~0ull >> kEvictionShift;

uint64_t pack_shadow(int nid, uint64_t eviction, bool workingset) {
  eviction &= kEvictionMask;
  eviction = (eviction << kNodesShift) | static_cast<uint64_t>(nid);
  eviction = (eviction << kWorkingsetShift) | (workingset ? 1 : 0);
  eviction <<= kMemCgroupIdShift;  // memcg id 0
  return (eviction << 1) | 1;      // xa_mk_value
}

void unpack_shadow(uint64_t shadow, int* nid, uint64_t* eviction, bool* workingset) {
  uint64_t e = shadow >> 1;
  e >>= kMemCgroupIdShift;
  *workingset = e & ((1ull << kWorkingsetShift) - 1);
  e >>= kWorkingsetShift;
  *nid = static_cast<int>(e & ((1ull << kNodesShift) - 1));
  *eviction = e >> kNodesShift;
}

unsigned fls64(uint64_t x) { return x ? 64 - static_cast<unsigned>(__builtin_clzll(x)) : 0; }

uint64_t shadow_count(hal::Hal&, shrinker* s, shrink_control* sc) {
  return static_cast<const Workingset*>(s->private_data)->count_shadow_nodes(sc->nid);
}

uint64_t shadow_scan(hal::Hal& h, shrinker* s, shrink_control* sc) {
  return static_cast<Workingset*>(s->private_data)->scan_shadow_nodes(h, sc->nid, sc->nr_to_scan);
}

}  // namespace

void Workingset::boot_init(hal::Hal& h) {
  const unsigned timestamp_bits = 64 - kEvictionShift;
  const uint64_t total = ctx_->nodes->total_managed_pages();
  const unsigned max_order = fls64(total ? total - 1 : 0);
  if (max_order > timestamp_bits) bucket_order_ = max_order - timestamp_bits;
  ctx_->log->printk(h, LOGLEVEL_INFO, "workingset: timestamp_bits=%d max_order=%d bucket_order=%u", timestamp_bits,
                    max_order, bucket_order_);
  shadow_shrinker_.name = "mm-shadow";
  shadow_shrinker_.count_objects = shadow_count;
  shadow_shrinker_.scan_objects = shadow_scan;
  shadow_shrinker_.batch = kShadowBatch;
  shadow_shrinker_.seeks = 0;  // count reports only fully expendable nodes
  shadow_shrinker_.flags = SHRINKER_NUMA_AWARE;
  shadow_shrinker_.private_data = this;
  ctx_->shrinkers->register_shrinker(&shadow_shrinker_);
}

uint64_t Workingset::count_shadow_nodes(int nid) const {
  const int64_t nodes = ctx_->vmstat->node[nid][WORKINGSET_NODES];
  if (nodes <= 0) return SHRINK_EMPTY;
  const uint64_t max_nodes = ctx_->nodes->node(nid).node_present_pages >> kShadowNodeShift;
  return static_cast<uint64_t>(nodes) <= max_nodes ? 0 : static_cast<uint64_t>(nodes) - max_nodes;
}

uint64_t Workingset::scan_shadow_nodes(hal::Hal& h, int nid, uint64_t nr_to_scan) {
  uint64_t budget = nr_to_scan, freed = 0;
  ctx_->filemap->for_each_inode([&](inode* ino) {
    if (budget && ino->i_mapping) freed += ctx_->shmem->reclaim_shadow_nodes(h, ino->i_mapping, nid, &budget);
  });
  return freed;
}

uint64_t Workingset::eviction(hal::Hal&, page* p) {
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  const uint64_t eviction = pg.nonresident_age >> bucket_order_;
  pg.nonresident_age += compound_nr(p);  // workingset_age_nonresident
  return pack_shadow(pg.node_id, eviction, PageFlag(p, PG_workingset));
}

bool Workingset::test_recent(uint64_t shadow, bool file, bool* workingset) const {
  int nid;
  uint64_t eviction;
  unpack_shadow(shadow, &nid, &eviction, workingset);
  if (nid >= static_cast<int>(ctx_->nodes->nr_nodes())) return false;
  eviction <<= bucket_order_;
  const pglist_data& pg = ctx_->nodes->node(nid);
  const VmStat& vs = *ctx_->vmstat;
  const uint64_t refault_distance = (pg.nonresident_age - eviction) & kEvictionMask;
  // What the refaulting page competes with: a file page with the active
  // file pages (and anonymous ones while swap can take them), an
  // anonymous page with all file pages (and the active anonymous ones).
  auto node = [&](unsigned item) { return static_cast<uint64_t>(vs.node[nid][item] > 0 ? vs.node[nid][item] : 0); };
  uint64_t workingset_size = node(NR_ACTIVE_FILE);
  if (!file) workingset_size += node(NR_INACTIVE_FILE);
  if (ctx_->swapfile->nr_swap_pages() > 0) {
    workingset_size += node(NR_ACTIVE_ANON);
    if (file) workingset_size += node(NR_INACTIVE_ANON);
  }
  return refault_distance <= workingset_size;
}

void Workingset::refault(hal::Hal&, page* p, uint64_t shadow) {
  if (!shadow) return;
  const bool file = page_is_file_lru(p);
  const uint64_t nr = compound_nr(p);
  pglist_data& pg = ctx_->nodes->node(page_to_nid(p));
  VmStat& vs = *ctx_->vmstat;
  vs.mod(pg.node_id, WORKINGSET_REFAULT_ANON + file, static_cast<int64_t>(nr));
  bool workingset = false;
  if (!test_recent(shadow, file, &workingset)) return;
  SetPageFlag(p, PG_active);
  pg.nonresident_age += nr;
  vs.mod(pg.node_id, WORKINGSET_ACTIVATE_ANON + file, static_cast<int64_t>(nr));
  if (!workingset) return;
  SetPageFlag(p, PG_workingset);
  // lru_note_cost_refault: a refault of the workingset costs its type.
  ctx_->lru->note_cost(pg, file, static_cast<unsigned>(nr), 0);
  vs.mod(pg.node_id, WORKINGSET_RESTORE_ANON + file, static_cast<int64_t>(nr));
}

}  // namespace fw
