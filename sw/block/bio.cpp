// Block I/O units and the registry of block devices (see bio.h).
#include "sw/block/bio.h"

#include "sw/lib/errno.h"
#include "sw/lib/string.h"

namespace fw {

const char* blk_status_name(blk_status_t s) {
  switch (s) {
    case blk_status_t::BLK_STS_OK: return "ok";
    case blk_status_t::BLK_STS_IOERR: return "I/O error";
    case blk_status_t::BLK_STS_MEDIUM: return "critical medium error";
    case blk_status_t::BLK_STS_TIMEOUT: return "timeout";
    case blk_status_t::BLK_STS_RESOURCE: return "kernel resource";
    case blk_status_t::BLK_STS_NOTSUPP: return "operation not supported";
  }
  return "unknown";
}

int blk_status_to_errno(blk_status_t s) {
  switch (s) {
    case blk_status_t::BLK_STS_OK: return 0;
    case blk_status_t::BLK_STS_RESOURCE: return -ENOMEM;
    case blk_status_t::BLK_STS_TIMEOUT: return -ETIMEDOUT;
    case blk_status_t::BLK_STS_NOTSUPP: return -EOPNOTSUPP;
    default: return -EIO;
  }
}

void bio_init(bio* b, block_device* bdev, req_op op, uint32_t opf, uint64_t sector) {
  mem_set(b, 0, sizeof *b);
  b->bi_bdev = bdev;
  b->op = op;
  b->opf = opf;
  b->bi_sector = sector;
  b->bi_io_vec = b->bi_inline_vecs;
  b->bi_max_vecs = sizeof b->bi_inline_vecs / sizeof b->bi_inline_vecs[0];
}

bool bio_add_page(bio* b, page* p, uint32_t len, uint32_t offset) {
  if (b->bi_vcnt >= b->bi_max_vecs) return false;
  b->bi_io_vec[b->bi_vcnt++] = bio_vec{p, len, offset};
  b->bi_size += len;
  return true;
}

void BlockDevices::init() {
  INIT_LIST_HEAD(&list);
  count = 0;
}

int BlockDevices::add(block_device* bdev) {
  if (lookup(bdev->bd_disk_name)) return -EEXIST;
  list_add_tail(&bdev->bd_list, &list);
  ++count;
  return 0;
}

void BlockDevices::remove(block_device* bdev) {
  list_del(&bdev->bd_list);
  --count;
}

block_device* BlockDevices::lookup(const char* name) const {
  for (list_head* p = list.next; p != &list; p = p->next) {
    block_device* b = list_entry(p, block_device, bd_list);
    if (str_eq(b->bd_disk_name, name)) return b;
  }
  return nullptr;
}

void submit_bio(hal::Hal& h, bio* b) {
  b->bi_done = false;
  b->bi_status = blk_status_t::BLK_STS_OK;
  b->bi_bdev->fops->submit_bio(h, b);
}

int submit_bio_wait(hal::Hal& h, bio* b) {
  // The waiter polls bi_done (set by bio_endio, which runs bi_end_io only
  // when there is one) and takes interrupts while it waits; a driver ends
  // every bio, with a timeout status if need be.
  submit_bio(h, b);
  while (!b->bi_done) h.cpu_relax();
  return blk_status_to_errno(b->bi_status);
}

void bio_endio(hal::Hal& h, bio* b) {
  b->bi_done = true;
  if (b->bi_end_io) b->bi_end_io(h, b);
}

}  // namespace fw
