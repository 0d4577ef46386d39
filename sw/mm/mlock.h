// mlock (Linux mm/mlock.c): mlock(2)/munlock(2) set or clear VM_LOCKED on
// the VMAs of a range (splitting them at its ends), fault the range in,
// and move its pages to the unevictable list (PG_mlocked, PG_unevictable;
// nr_mlock, unevictable_pgs_mlocked/culled), whence munlock rescues them
// (unevictable_pgs_munlocked/rescued) unless another locked VMA still maps
// them. Reclaim culls an mlocked page it meets (folio_referenced finds a
// VM_LOCKED mapping). Users: the system calls (sw/kernel/syscall), the
// reverse map, reclaim and the page allocator (a page freed while mlocked:
// unevictable_pgs_cleared).
//
// Departures: no RLIMIT_MEMLOCK (processes run with CAP_IPC_LOCK), no
// mlock2/mlockall/MLOCK_ONFAULT; a locked page unmapped by munmap or exit
// stays mlocked until freed (counted as cleared, not munlocked).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/page.h"

namespace fw {

// mlock(2) (lock) or munlock(2) of [start, start + len) of mm. Returns 0,
// -ENOMEM (a hole in the range, or no memory to fault it in) or -EINVAL.
int do_mlock(hal::Hal& h, MmContext* ctx, mm_struct* mm, uint64_t start, uint64_t len, bool lock);
// Marks p mlocked (nr_mlock, unevictable_pgs_mlocked) and moves it to the
// unevictable list if it is on an LRU list (an isolated page is culled
// when it is put back) (Linux mlock_folio).
void mlock_folio(hal::Hal& h, MmContext* ctx, page* p);
// Clears p's mlock and gives it back to the evictable lists (Linux
// munlock_folio), unless a VM_LOCKED VMA still maps it.
void munlock_folio(hal::Hal& h, MmContext* ctx, page* p);
// A page freed while mlocked (Linux __page_cache_release): the mlock goes,
// counted as unevictable_pgs_cleared.
void mlock_clear_at_free(MmContext* ctx, page* p);

}  // namespace fw
