// GFP flags: how an allocation may be satisfied (Linux's vocabulary; the
// bit values are ours). Zone modifiers pick the highest zone a request may
// use; mobility flags pick its migrate type.
#pragma once

#include <stdint.h>

namespace fw {

using gfp_t = uint32_t;

constexpr gfp_t __GFP_DMA = 1u << 0;
constexpr gfp_t __GFP_HIGHMEM = 1u << 1;
constexpr gfp_t __GFP_DMA32 = 1u << 2;
constexpr gfp_t __GFP_MOVABLE = 1u << 3;
constexpr gfp_t __GFP_RECLAIMABLE = 1u << 4;
constexpr gfp_t __GFP_HIGH = 1u << 5;
constexpr gfp_t __GFP_IO = 1u << 6;
constexpr gfp_t __GFP_FS = 1u << 7;
constexpr gfp_t __GFP_ZERO = 1u << 8;
constexpr gfp_t __GFP_NOWARN = 1u << 9;
constexpr gfp_t __GFP_COMP = 1u << 10;         // compound pages: issue 3
constexpr gfp_t __GFP_THISNODE = 1u << 11;
constexpr gfp_t __GFP_NOFAIL = 1u << 12;       // honoured with watermarks: issue 3
constexpr gfp_t __GFP_NORETRY = 1u << 13;
constexpr gfp_t __GFP_RETRY_MAYFAIL = 1u << 14;
constexpr gfp_t __GFP_DIRECT_RECLAIM = 1u << 15;
constexpr gfp_t __GFP_KSWAPD_RECLAIM = 1u << 16;
constexpr gfp_t __GFP_ACCOUNT = 1u << 17;

constexpr gfp_t GFP_ZONEMASK = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE;
constexpr gfp_t __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;

constexpr gfp_t GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
constexpr gfp_t GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
constexpr gfp_t GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;
constexpr gfp_t GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
constexpr gfp_t GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
constexpr gfp_t GFP_DMA = __GFP_DMA;
constexpr gfp_t GFP_DMA32 = __GFP_DMA32;
constexpr gfp_t GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
constexpr gfp_t GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;
// Page-table pages: Linux's GFP_PGTABLE_USER (accounted, zeroed).
constexpr gfp_t GFP_PGTABLE_KERNEL = GFP_KERNEL | __GFP_ZERO;
constexpr gfp_t GFP_PGTABLE_USER = GFP_PGTABLE_KERNEL | __GFP_ACCOUNT;

}  // namespace fw
