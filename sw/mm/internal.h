// Definitions shared by the page allocator, compaction, migration and CMA
// but not by their users (Linux mm/internal.h).
#pragma once

#include <stdint.h>

#include "sw/mm/gfp.h"
#include "sw/mm/mmzone.h"

namespace fw {

// alloc_flags: how hard an allocation may try (Linux's ALLOC_* values).
constexpr unsigned ALLOC_WMARK_MIN = WMARK_MIN;
constexpr unsigned ALLOC_WMARK_LOW = WMARK_LOW;
constexpr unsigned ALLOC_WMARK_HIGH = WMARK_HIGH;
constexpr unsigned ALLOC_NO_WATERMARKS = 0x04;
constexpr unsigned ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1;
constexpr unsigned ALLOC_OOM = 0x08;
constexpr unsigned ALLOC_NON_BLOCK = 0x10;    // cannot block: 25% more of the min reserve
constexpr unsigned ALLOC_MIN_RESERVE = 0x20;  // __GFP_HIGH: half of the min reserve
constexpr unsigned ALLOC_CPUSET = 0x40;
constexpr unsigned ALLOC_CMA = 0x80;          // may use CMA pageblocks
constexpr unsigned ALLOC_NOFRAGMENT = 0x100;  // no fallback into another type's pageblock below pageblock order
constexpr unsigned ALLOC_HIGHATOMIC = 0x200;  // may use (and reserve) MIGRATE_HIGHATOMIC blocks
constexpr unsigned ALLOC_KSWAPD = 0x800;      // may wake kswapd
constexpr unsigned ALLOC_RESERVES = ALLOC_NON_BLOCK | ALLOC_MIN_RESERVE | ALLOC_HIGHATOMIC | ALLOC_OOM;

// Orders above this are "costly": the allocator tries less hard for them.
constexpr unsigned PAGE_ALLOC_COSTLY_ORDER = 3;

// Migration modes (Linux enum migrate_mode).
enum migrate_mode : uint8_t { MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT, MIGRATE_SYNC };
// Why pages migrate (Linux enum migrate_reason, the ones that differ here):
// memory failure keeps the source page, with the isolation's reference,
// for the caller to poison (Linux migrate_folio_done).
enum migrate_reason : uint8_t { MR_COMPACTION, MR_MEMORY_FAILURE };

// Compaction priorities, lower is harder (Linux enum compact_priority).
enum compact_priority : int {
  COMPACT_PRIO_SYNC_FULL = 0,
  MIN_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_FULL,
  COMPACT_PRIO_SYNC_LIGHT = 1,
  MIN_COMPACT_COSTLY_PRIORITY = COMPACT_PRIO_SYNC_LIGHT,
  DEF_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_LIGHT,
  COMPACT_PRIO_ASYNC = 2,
  INIT_COMPACT_PRIORITY = COMPACT_PRIO_ASYNC,
};

// Compaction results (Linux enum compact_result), in Linux's order.
enum compact_result : int {
  COMPACT_NOT_SUITABLE_ZONE,
  COMPACT_SKIPPED,
  COMPACT_DEFERRED,
  COMPACT_NO_SUITABLE_PAGE,
  COMPACT_CONTINUE,
  COMPACT_COMPLETE,
  COMPACT_PARTIAL_SKIPPED,
  COMPACT_CONTENDED,
  COMPACT_SUCCESS,
};

inline bool migratetype_is_mergeable(unsigned mt) { return mt < MIGRATE_PCPTYPES; }
inline bool is_migrate_movable(unsigned mt) { return mt == MIGRATE_MOVABLE || mt == MIGRATE_CMA; }

// Smallest order whose block holds `size` bytes (Linux get_order).
inline unsigned get_order(uint64_t size) {
  unsigned o = 0;
  while ((PAGE_SIZE << o) < size) ++o;
  return o;
}

}  // namespace fw

namespace fw {

// What one allocation walks (Linux struct alloc_context).
struct alloc_context {
  zone* const* zonelist;      // the preferred node's zonelist (or its own zones for __GFP_THISNODE)
  zone* preferred_zone;       // the first zone of the list the request may use
  int preferred_nid;
  unsigned highest_zoneidx;   // gfp_zone(): the highest zone the request may use
  unsigned migratetype;
  unsigned cpu;               // the calling CPU (looked up once)
  int cpu_nid;                // ... and its node
};

}  // namespace fw
