// GFP flags: how an allocation may be satisfied (Linux include/linux/gfp.h,
// gfp_types.h). The zone modifiers and mobility bits have Linux's values so
// that Linux's zone table and gfp_migratetype() shift apply unchanged; the
// other bit values are ours.
#pragma once

#include <stdint.h>

namespace fw {

using gfp_t = uint32_t;

// Zone modifiers (Linux's ___GFP_DMA .. ___GFP_MOVABLE values).
constexpr gfp_t __GFP_DMA = 1u << 0;
constexpr gfp_t __GFP_HIGHMEM = 1u << 1;
constexpr gfp_t __GFP_DMA32 = 1u << 2;
constexpr gfp_t __GFP_MOVABLE = 1u << 3;      // also the MOVABLE mobility bit
constexpr gfp_t __GFP_RECLAIMABLE = 1u << 4;  // mobility: RECLAIMABLE
constexpr gfp_t __GFP_HIGH = 1u << 5;         // may use part of the min reserve
constexpr gfp_t __GFP_IO = 1u << 6;
constexpr gfp_t __GFP_FS = 1u << 7;
constexpr gfp_t __GFP_ZERO = 1u << 8;
constexpr gfp_t __GFP_NOWARN = 1u << 9;
constexpr gfp_t __GFP_COMP = 1u << 10;        // a compound page (head + tails)
constexpr gfp_t __GFP_THISNODE = 1u << 11;    // the preferred node only, no fallback
constexpr gfp_t __GFP_NOFAIL = 1u << 12;      // never fails: retries with reserves, panics when nothing is left
constexpr gfp_t __GFP_NORETRY = 1u << 13;
constexpr gfp_t __GFP_RETRY_MAYFAIL = 1u << 14;
constexpr gfp_t __GFP_DIRECT_RECLAIM = 1u << 15;  // may enter the direct path (compaction)
constexpr gfp_t __GFP_KSWAPD_RECLAIM = 1u << 16;  // may wake kswapd
constexpr gfp_t __GFP_ACCOUNT = 1u << 17;
constexpr gfp_t __GFP_NOMEMALLOC = 1u << 18;
constexpr gfp_t __GFP_MEMALLOC = 1u << 19;
constexpr gfp_t __GFP_HARDWALL = 1u << 20;

constexpr gfp_t GFP_ZONEMASK = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE;
constexpr gfp_t GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE;
constexpr unsigned GFP_MOVABLE_SHIFT = 3;
constexpr gfp_t __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;

constexpr gfp_t GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
constexpr gfp_t GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
constexpr gfp_t GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;
constexpr gfp_t GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
constexpr gfp_t GFP_NOIO = __GFP_RECLAIM;
constexpr gfp_t GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
constexpr gfp_t GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
constexpr gfp_t GFP_DMA = __GFP_DMA;
constexpr gfp_t GFP_DMA32 = __GFP_DMA32;
constexpr gfp_t GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
constexpr gfp_t GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;
// Transparent huge pages: no reclaim for the light variant.
constexpr gfp_t GFP_TRANSHUGE_LIGHT =
    (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) & ~__GFP_RECLAIM;
constexpr gfp_t GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM;
// Page-table pages: Linux's GFP_PGTABLE_KERNEL / GFP_PGTABLE_USER (zeroed).
constexpr gfp_t GFP_PGTABLE_KERNEL = GFP_KERNEL | __GFP_ZERO;
constexpr gfp_t GFP_PGTABLE_USER = GFP_PGTABLE_KERNEL | __GFP_ACCOUNT;

// The zone table (Linux GFP_ZONE_TABLE for a 64-bit kernel without
// highmem): the highest zone each combination of zone modifiers may use.
// 0xff marks a combination Linux rejects (GFP_ZONE_BAD).
constexpr uint8_t kGfpZoneBad = 0xff;
// Returns the highest zone a request may use (ZONE_NORMAL for a bad
// combination); gfp_zone_valid returns false for a combination Linux rejects.
unsigned gfp_zone(gfp_t gfp);
bool gfp_zone_valid(gfp_t gfp);

// The migrate type of a request (Linux gfp_migratetype): MOVABLE,
// RECLAIMABLE or UNMOVABLE.
constexpr unsigned gfp_migratetype(gfp_t gfp) { return (gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT; }

}  // namespace fw
