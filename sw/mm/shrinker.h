// Shrinkers (Linux mm/shrinker.c, the global part: no memory cgroups): a
// registry of caches whose objects can be freed under memory pressure.
// Each says how many objects it could free (count_objects) and frees some
// (scan_objects); reclaim's shrink_node calls shrink_slab for its node at
// its priority, and `echo 2 > drop_caches` calls drop_slab. The pressure
// on a cache is do_shrink_slab's: (freeable >> priority) * 4 / seeks
// objects (half of them for seeks 0), plus what earlier calls deferred,
// in batches (vmstat slabs_scanned).
//
// Registered: the workingset's shadow-node shrinker (sw/mm/workingset).
// No slab cache of the firmware is reclaimable in Linux's sense: there are
// no dentries or inodes to drop (mmfs's inodes live as long as its files),
// so nothing else registers.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"

namespace fw {

// What one call asks of a shrinker (Linux struct shrink_control).
struct shrink_control {
  gfp_t gfp_mask = 0;
  int nid = 0;
  uint64_t nr_to_scan = 0;  // objects to scan in this batch
  uint64_t nr_scanned = 0;  // set to nr_to_scan; the shrinker may say it scanned fewer or more
};

constexpr uint64_t SHRINK_STOP = ~0ull;       // scan_objects: cannot make progress now
constexpr uint64_t SHRINK_EMPTY = ~0ull - 1;  // count_objects: nothing cached at all
constexpr uint64_t SHRINK_BATCH = 128;
constexpr int DEFAULT_SEEKS = 2;
constexpr unsigned SHRINKER_NUMA_AWARE = 1;

struct shrinker {
  const char* name;
  // Returns the objects that could be freed for sc->nid, 0 or SHRINK_EMPTY.
  uint64_t (*count_objects)(hal::Hal& h, shrinker* s, shrink_control* sc);
  // Frees up to sc->nr_to_scan objects. Returns how many it freed, or SHRINK_STOP.
  uint64_t (*scan_objects)(hal::Hal& h, shrinker* s, shrink_control* sc);
  uint64_t batch;  // objects per scan_objects call; 0: SHRINK_BATCH
  int seeks;       // cost of recreating an object; 0: trimmed by half at once
  unsigned flags;  // SHRINKER_NUMA_AWARE: counted and deferred per node
  void* private_data;
  int64_t nr_deferred[hal::kMaxNodes];  // scan work carried over to the next call
  shrinker* next;
};

class Shrinkers {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }
  // Adds s at the end of the list (Linux shrinker_register).
  void register_shrinker(shrinker* s);
  // Asks every shrinker to free objects of node nid at reclaim priority
  // priority (Linux shrink_slab). Returns the objects freed.
  uint64_t shrink_slab(hal::Hal& h, gfp_t gfp, int nid, int priority);
  // echo 2 > drop_caches: shrink_slab at priority 0 on every node, again
  // while a round frees more than a shrinking threshold (Linux drop_slab).
  // Returns the objects freed.
  uint64_t drop_slab(hal::Hal& h);

 private:
  // One shrinker's share of a shrink_slab call (Linux do_shrink_slab).
  uint64_t do_shrink_slab(hal::Hal& h, shrink_control* sc, shrinker* s, int priority);

  MmContext* ctx_ = nullptr;
  shrinker* head_ = nullptr;
};

}  // namespace fw
