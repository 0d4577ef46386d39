// Swap I/O (Linux mm/page_io.c): a swap-cache page written to or read from
// its slot as one bio through the block layer (sw/block), so the disk's
// driver maps it for DMA like any other I/O (a 32-bit disk on a machine with
// memory above 4 GiB bounces through swiotlb). Counts pswpin/pswpout (and,
// as every bio does, pgpgin/pgpgout). Used by sw/mm/swap_state.
#pragma once

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/page.h"

namespace fw {

// Writes the swap-cache page p to its slot: PG_dirty cleared, PG_writeback
// (with a reference) until the completion, which on an error marks the
// page dirty again and logs Linux's "Write-error on swap-device" line.
// Returns 0 or -ENOMEM (no bio: the page is left dirty, whatever the
// caller cleared).
int swap_write_folio(hal::Hal& h, MmContext* ctx, page* p);
// Starts reading the locked swap-cache page p from its slot; the
// completion sets PG_uptodate (or logs "Read-error on swap-device") and
// unlocks it.
void swap_read_folio(hal::Hal& h, MmContext* ctx, page* p);

}  // namespace fw
