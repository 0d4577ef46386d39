#include "sw/drivers/block/brd.h"

#include "sw/lib/string.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/slub.h"

namespace fw {

namespace {

constexpr uint64_t kPerTable = 512;

brd_device* to_brd(block_device* b) { return static_cast<brd_device*>(b->private_data); }

// The page backing page number idx of the disk; allocated (zeroed) when
// `alloc`, else nullptr when never written (brd_lookup_page / brd_insert_page).
page* brd_page(hal::Hal& h, brd_device* d, uint64_t idx, bool alloc) {
  page**& table = d->dir[idx / kPerTable];
  if (!table) {
    if (!alloc) return nullptr;
    table = static_cast<page**>(d->ctx->slab->kzalloc(h, kPerTable * sizeof(page*), GFP_NOIO));
    if (!table) return nullptr;
  }
  page*& p = table[idx % kPerTable];
  if (!p && alloc) {
    p = d->ctx->page_alloc->alloc_pages(h, GFP_NOIO | __GFP_ZERO, 0);
    if (p) ++d->pages;
  }
  return p;
}

// Copies len bytes between the disk at byte `off` and physical memory at pa.
bool brd_copy(hal::Hal& h, brd_device* d, uint64_t off, uint64_t pa, uint64_t len, bool write) {
  while (len) {
    const uint64_t idx = off / PAGE_SIZE, in = off % PAGE_SIZE, n = min(len, PAGE_SIZE - in);
    page* p = brd_page(h, d, idx, write);
    if (write && !p) return false;
    const uint64_t dpa = p ? d->ctx->nodes->page_to_phys(p) + in : 0;
    hal::MemStatus st = hal::MemStatus::ok;
    if (write) st = h.phys_copy(dpa, pa, n);
    else if (p) st = h.phys_copy(pa, dpa, n);
    else st = h.phys_fill(pa, 0, n);
    if (st != hal::MemStatus::ok) return false;
    off += n;
    pa += n;
    len -= n;
  }
  return true;
}

void brd_submit_bio(hal::Hal& h, bio* b) {
  brd_device* d = to_brd(b->bi_bdev);
  blk_status_t st = blk_status_t::BLK_STS_OK;
  if (b->op == req_op::flush) {
    ++d->flushes;  // RAM has no volatile cache
  } else {
    uint64_t off = b->bi_sector << SECTOR_SHIFT;
    const uint64_t end_sector = b->bi_sector + (b->bi_size >> SECTOR_SHIFT);
    if (end_sector > d->bdev.bd_nr_sectors) st = blk_status_t::BLK_STS_IOERR;
    else if (d->fail_sector >= b->bi_sector && d->fail_sector < end_sector) st = blk_status_t::BLK_STS_IOERR;
    const bool write = b->op == req_op::write;
    for (unsigned i = 0; i < b->bi_vcnt && st == blk_status_t::BLK_STS_OK; ++i) {
      const bio_vec& v = b->bi_io_vec[i];
      const uint64_t pa = d->ctx->nodes->page_to_phys(v.bv_page) + v.bv_offset;
      if (!brd_copy(h, d, off, pa, v.bv_len, write)) st = blk_status_t::BLK_STS_IOERR;
      off += v.bv_len;
    }
    ++(write ? d->writes : d->reads);
  }
  b->bi_status = st;
  bio_endio(h, b);
}

constexpr block_device_operations brd_fops = {brd_submit_bio};

}  // namespace

brd_device* brd_create(hal::Hal& h, MmContext* ctx, const char* name, uint64_t bytes, uint32_t block_size) {
  brd_device* d = static_cast<brd_device*>(ctx->slab->kzalloc(h, sizeof(brd_device), GFP_KERNEL));
  if (!d) return nullptr;
  d->ctx = ctx;
  d->nr_pages = bytes / PAGE_SIZE;
  d->fail_sector = ~0ull;
  d->dir = static_cast<page***>(ctx->slab->kzalloc(h, ((d->nr_pages + kPerTable - 1) / kPerTable + 1) * sizeof(void*),
                                                   GFP_KERNEL));
  str_copy(d->bdev.bd_disk_name, name, kDiskNameLen);
  d->bdev.bd_nr_sectors = d->nr_pages * (PAGE_SIZE >> SECTOR_SHIFT);
  d->bdev.logical_block_size = block_size;
  d->bdev.fops = &brd_fops;
  d->bdev.private_data = d;
  if (!d->dir || ctx->blockdevs->add(&d->bdev)) {
    if (d->dir) ctx->slab->kfree(h, d->dir);
    ctx->slab->kfree(h, d);
    return nullptr;
  }
  return d;
}

void brd_destroy(hal::Hal& h, brd_device* d) {
  d->ctx->blockdevs->remove(&d->bdev);
  for (uint64_t t = 0; t * kPerTable < d->nr_pages; ++t) {
    page** table = d->dir[t];
    if (!table) continue;
    for (uint64_t i = 0; i < kPerTable; ++i)
      if (table[i]) d->ctx->page_alloc->put_page(h, table[i]);
    d->ctx->slab->kfree(h, table);
  }
  d->ctx->slab->kfree(h, d->dir);
  d->ctx->slab->kfree(h, d);
}

bool brd_write(hal::Hal& h, brd_device* d, uint64_t off, const void* src, uint64_t len) {
  if (off + len > d->nr_pages * PAGE_SIZE) return false;
  const uint8_t* s = static_cast<const uint8_t*>(src);
  while (len) {
    const uint64_t in = off % PAGE_SIZE, n = min(len, PAGE_SIZE - in);
    page* p = brd_page(h, d, off / PAGE_SIZE, true);
    if (!p || h.phys_write(d->ctx->nodes->page_to_phys(p) + in, s, n) != hal::MemStatus::ok) return false;
    off += n;
    s += n;
    len -= n;
  }
  return true;
}

bool brd_read(hal::Hal& h, brd_device* d, uint64_t off, void* dst, uint64_t len) {
  if (off + len > d->nr_pages * PAGE_SIZE) return false;
  uint8_t* o = static_cast<uint8_t*>(dst);
  while (len) {
    const uint64_t in = off % PAGE_SIZE, n = min(len, PAGE_SIZE - in);
    page* p = brd_page(h, d, off / PAGE_SIZE, false);
    if (p) {
      if (h.phys_read(d->ctx->nodes->page_to_phys(p) + in, o, n) != hal::MemStatus::ok) return false;
    } else {
      mem_set(o, 0, n);
    }
    off += n;
    o += n;
    len -= n;
  }
  return true;
}

}  // namespace fw
