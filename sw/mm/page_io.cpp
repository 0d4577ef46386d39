#include "sw/mm/page_io.h"

#include "sw/block/bio.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/lib/string.h"
#include "sw/mm/filemap.h"
#include "sw/mm/lru.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/slub.h"
#include "sw/mm/swap_state.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {

constexpr uint64_t kSectorsPerPage = PAGE_SIZE >> SECTOR_SHIFT;
// The disks' device numbers as /proc/diskstats shows them (virtio-blk's
// usual major, 16 minors a disk in registration order).
constexpr unsigned kDiskMajor = 253;
constexpr unsigned kMinorsPerDisk = 16;

unsigned disk_minor(const MmContext* ctx, const block_device* bdev) {
  unsigned i = 0;
  for (list_head* l = ctx->blockdevs->list.next; l != &ctx->blockdevs->list; l = l->next, ++i)
    if (list_entry(l, block_device, bd_list) == bdev) return i * kMinorsPerDisk;
  return 0;
}

// The bio of one page at its slot, or nullptr (no memory or no area).
// Writes come from reclaim, which must not wait on reclaim for their bio:
// they may dip into the reserves, as Linux's bio mempool and PF_MEMALLOC
// let them.
bio* swap_bio(hal::Hal& h, MmContext* ctx, page* p, req_op op, uint32_t opf) {
  const swp_entry_t e{p->private_};
  const swap_info_struct* si = ctx->swapfile->swap_info(e);
  if (!si) return nullptr;
  const gfp_t gfp = op == req_op::write ? GFP_ATOMIC | __GFP_NOWARN : GFP_NOIO;
  bio* b = static_cast<bio*>(ctx->slab->kmalloc(h, sizeof(bio), gfp));
  if (!b) return nullptr;
  bio_init(b, si->bdev, op, opf | REQ_SWAP, swp_offset(e) * kSectorsPerPage);
  bio_add_page(b, p, PAGE_SIZE, 0);
  b->bi_private = ctx;
  return b;
}

void log_io_error(hal::Hal& h, MmContext* ctx, const bio* b, const char* what) {
  ctx->log->printk(h, LOGLEVEL_ALERT, "%s-error on swap-device (%u:%u:%lu)", what, kDiskMajor,
                   disk_minor(ctx, b->bi_bdev), static_cast<unsigned long>(b->bi_sector));
}

// A swap-cache page nobody maps and no PTE refers to any more (its owner
// exited or unmapped it while the I/O ran) leaves the cache with its slot
// now; Linux leaves it to reclaim, which finds it on the LRU.
void free_orphan(hal::Hal& h, MmContext* ctx, page* p) {
  if (PageSwapCache(p) && !page_mapped(p) && !ctx->swapfile->swap_count(swp_entry_t{p->private_}))
    ctx->swap_cache->folio_free_swap(h, p);
}

// Linux end_swap_bio_write: a failed write leaves the page dirty, so
// reclaim keeps it and tries again later; a page reclaim wrote (PG_reclaim)
// goes to its inactive list's tail to be freed next (folio_end_writeback's
// folio_rotate_reclaimable: pgrotated).
void swap_write_end_io(hal::Hal& h, bio* b) {
  MmContext* ctx = static_cast<MmContext*>(b->bi_private);
  page* p = b->bi_io_vec[0].bv_page;
  if (b->bi_status != blk_status_t::BLK_STS_OK) {
    SetPageFlag(p, PG_dirty);
    ClearPageFlag(p, PG_reclaim);
    ++ctx->swapfile->stats().write_errors;
    log_io_error(h, ctx, b, "Write");
  }
  if (PageFlag(p, PG_reclaim)) {
    ClearPageFlag(p, PG_reclaim);
    ctx->lru->rotate_reclaimable(h, p);
  }
  ClearPageFlag(p, PG_writeback);
  const int nid = page_to_nid(p);
  ctx->vmstat->mod(nid, NR_WRITEBACK, -1);
  ctx->vmstat->mod(nid, NR_WRITTEN, 1);
  --ctx->nodes->page_zone(p)->vm_stat[NR_ZONE_WRITE_PENDING];
  ctx->filemap->bio_put(h, b);
  free_orphan(h, ctx, p);
  ctx->page_alloc->put_page(h, p);
}

// Linux end_swap_bio_read.
void swap_read_end_io(hal::Hal& h, bio* b) {
  MmContext* ctx = static_cast<MmContext*>(b->bi_private);
  page* p = b->bi_io_vec[0].bv_page;
  if (b->bi_status == blk_status_t::BLK_STS_OK) {
    SetPageFlag(p, PG_uptodate);
  } else {
    ++ctx->swapfile->stats().read_errors;
    log_io_error(h, ctx, b, "Read");
  }
  ClearPageFlag(p, PG_locked);
  ctx->filemap->bio_put(h, b);
  get_page(p);
  free_orphan(h, ctx, p);
  ctx->page_alloc->put_page(h, p);
}

}  // namespace

int swap_write_folio(hal::Hal& h, MmContext* ctx, page* p) {
  bio* b = swap_bio(h, ctx, p, req_op::write, 0);
  if (!b) {
    SetPageFlag(p, PG_dirty);  // the slot has no copy: reclaim must not free the page
    return -ENOMEM;
  }
  // folio_start_writeback; the I/O holds a reference until it completes.
  get_page(p);
  ClearPageFlag(p, PG_dirty);
  SetPageFlag(p, PG_writeback);
  const int nid = page_to_nid(p);
  ctx->vmstat->mod(nid, NR_WRITEBACK, 1);
  ++ctx->nodes->page_zone(p)->vm_stat[NR_ZONE_WRITE_PENDING];
  b->bi_end_io = swap_write_end_io;
  ctx->vmstat->count(PSWPOUT);
  ++ctx->swapfile->stats().write_ios;
  ctx->swapfile->trace(h, "swap: out pfn %#lx to %u:%lu", static_cast<unsigned long>(ctx->nodes->page_to_pfn(p)),
                       swp_type(swp_entry_t{p->private_}), static_cast<unsigned long>(swp_offset(swp_entry_t{p->private_})));
  ctx->filemap->submit(h, b);
  return 0;
}

void swap_read_folio(hal::Hal& h, MmContext* ctx, page* p) {
  bio* b = swap_bio(h, ctx, p, req_op::read, REQ_SYNC);
  if (!b) {  // no memory: the page stays not uptodate; the fault sees the error
    ++ctx->swapfile->stats().read_errors;
    ClearPageFlag(p, PG_locked);
    return;
  }
  b->bi_end_io = swap_read_end_io;
  ctx->vmstat->count(PSWPIN);
  ++ctx->swapfile->stats().read_ios;
  ctx->swapfile->trace(h, "swap: in %u:%lu to pfn %#lx", swp_type(swp_entry_t{p->private_}),
                       static_cast<unsigned long>(swp_offset(swp_entry_t{p->private_})),
                       static_cast<unsigned long>(ctx->nodes->page_to_pfn(p)));
  ctx->filemap->submit(h, b);
}

}  // namespace fw
