#include "sw/mm/shrinker.h"

#include "sw/mm/mmzone.h"
#include "sw/mm/vmstat.h"

namespace fw {

void Shrinkers::register_shrinker(shrinker* s) {
  for (int64_t& d : s->nr_deferred) d = 0;
  s->next = nullptr;
  shrinker** tail = &head_;
  while (*tail) tail = &(*tail)->next;
  *tail = s;
}

uint64_t Shrinkers::do_shrink_slab(hal::Hal& h, shrink_control* sc, shrinker* s, int priority) {
  const int64_t batch_size = static_cast<int64_t>(s->batch ? s->batch : SHRINK_BATCH);
  const uint64_t counted = s->count_objects(h, s, sc);
  if (counted == 0 || counted == SHRINK_EMPTY) return counted;
  const int64_t freeable = static_cast<int64_t>(counted);
  int64_t& deferred = s->nr_deferred[(s->flags & SHRINKER_NUMA_AWARE) ? sc->nid : 0];
  const int64_t nr = deferred;  // taken: no one else does this work meanwhile
  deferred = 0;
  // Objects that need I/O to recreate (seeks) are scanned less eagerly.
  const int64_t delta = s->seeks ? ((freeable >> priority) * 4) / s->seeks : freeable / 2;
  int64_t total_scan = (nr >> priority) + delta;
  if (total_scan > 2 * freeable) total_scan = 2 * freeable;
  uint64_t freed = 0;
  int64_t scanned = 0;
  // Batches, and the last objects too when the pressure covers them all.
  while (total_scan >= batch_size || total_scan >= freeable) {
    sc->nr_to_scan = static_cast<uint64_t>(total_scan < batch_size ? total_scan : batch_size);
    sc->nr_scanned = sc->nr_to_scan;
    const uint64_t ret = s->scan_objects(h, s, sc);
    if (ret == SHRINK_STOP) break;
    freed += ret;
    ctx_->vmstat->count(SLABS_SCANNED, sc->nr_scanned);
    total_scan -= static_cast<int64_t>(sc->nr_scanned);
    scanned += static_cast<int64_t>(sc->nr_scanned);
  }
  // Work asked for and not done carries over, at most twice the cache.
  int64_t next_deferred = nr + delta - scanned;
  if (next_deferred < 0) next_deferred = 0;
  if (next_deferred > 2 * freeable) next_deferred = 2 * freeable;
  deferred += next_deferred;
  return freed;
}

uint64_t Shrinkers::shrink_slab(hal::Hal& h, gfp_t gfp, int nid, int priority) {
  uint64_t freed = 0;
  for (shrinker* s = head_; s; s = s->next) {
    shrink_control sc;
    sc.gfp_mask = gfp;
    sc.nid = nid;
    const uint64_t ret = do_shrink_slab(h, &sc, s, priority);
    if (ret != SHRINK_EMPTY) freed += ret;
  }
  return freed;
}

uint64_t Shrinkers::drop_slab(hal::Hal& h) {
  uint64_t total = 0, freed;
  unsigned shift = 0;
  do {
    freed = 0;
    for (unsigned nid = 0; nid < ctx_->nodes->nr_nodes(); ++nid)
      freed += shrink_slab(h, GFP_KERNEL, static_cast<int>(nid), 0);
    total += freed;
  } while ((freed >> shift++) > 1);
  return total;
}

}  // namespace fw
