// Block I/O units (Linux include/linux/blk_types.h, include/linux/bio.h,
// block/bio.c): a bio is one I/O on a block device, a list of page pieces
// (bio_vec) starting at a 512-byte sector; a block_device is what the
// filesystem, the page cache and swap submit bios to. This is the contract
// between the users of block I/O (sw/fs, sw/mm) and the block layer with its
// drivers (sw/block, sw/drivers/block): users build bios and submit them;
// whoever registered the device completes each with bio_endio().
//
// Completion is asynchronous, as in Linux: submit_bio() returns at once and
// bi_end_io runs when the device completes (from the driver's interrupt on
// the simulated platform; inside submit_bio for a RAM disk).
// submit_bio_wait() waits for it (interrupts are taken while it waits).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"

namespace fw {

struct page;
struct bio;
struct block_device;
struct request_queue;

constexpr unsigned SECTOR_SHIFT = 9;  // bi_sector counts 512-byte sectors whatever the device's block size
constexpr uint64_t SECTOR_SIZE = 1ull << SECTOR_SHIFT;

// What a bio asks (enum req_op). flush: empty, writes the device's volatile cache.
enum class req_op : uint8_t { read = 0, write = 1, flush = 2 };

// Modifiers (part of Linux's blk_opf_t).
constexpr uint32_t REQ_SYNC = 1u << 0;      // someone waits for it (fsync, a read fault)
constexpr uint32_t REQ_META = 1u << 1;      // filesystem metadata
constexpr uint32_t REQ_PREFLUSH = 1u << 2;  // flush the volatile cache before this write
constexpr uint32_t REQ_FUA = 1u << 3;       // this write is on stable media when it completes
constexpr uint32_t REQ_RAHEAD = 1u << 4;    // read-ahead: may be failed without harm
constexpr uint32_t REQ_SWAP = 1u << 5;      // swap I/O

// Completion status (blk_status_t), by name.
enum class blk_status_t : uint8_t {
  BLK_STS_OK = 0,
  BLK_STS_IOERR,     // media error (a bad sector), or the device failed the request
  BLK_STS_MEDIUM,    // unrecovered read error on the medium
  BLK_STS_TIMEOUT,   // the device did not complete in time
  BLK_STS_RESOURCE,  // no memory for the request or its mapping
  BLK_STS_NOTSUPP,
};
const char* blk_status_name(blk_status_t s);
// -errno of a status (blk_status_to_errno): 0, -EIO, -ENOMEM, -ETIMEDOUT, -EOPNOTSUPP.
int blk_status_to_errno(blk_status_t s);

struct bio_vec {
  page* bv_page;
  uint32_t bv_len;
  uint32_t bv_offset;
};

constexpr unsigned BIO_MAX_VECS = 256;  // as Linux: 1 MiB of 4 KiB pages in one bio

using bio_end_io_t = void (*)(hal::Hal& h, bio* b);

struct bio {
  bio* bi_next;  // the block layer's chains (plugging, merging)
  block_device* bi_bdev;
  req_op op;
  uint32_t opf;  // REQ_* modifiers
  blk_status_t bi_status;
  uint64_t bi_sector;  // first 512-byte sector
  uint32_t bi_size;    // bytes still to transfer (the sum of the vecs' lengths)
  uint16_t bi_vcnt;
  uint16_t bi_max_vecs;
  bio_vec* bi_io_vec;  // bi_max_vecs entries (bi_inline_vecs unless the user supplies its own)
  bio_end_io_t bi_end_io;
  void* bi_private;
  volatile bool bi_done;  // set by bio_endio (what submit_bio_wait waits on)
  bio_vec bi_inline_vecs[16];
};

// Starts an empty bio of `op` on bdev at `sector`, with its inline vecs.
void bio_init(bio* b, block_device* bdev, req_op op, uint32_t opf, uint64_t sector);
// Appends a page piece; false when the bio is full (then submit it and start another).
bool bio_add_page(bio* b, page* p, uint32_t len, uint32_t offset);

// The part of Linux's struct block_device and gendisk a user needs.
struct block_device_operations {
  // The device's entry for bios: a bio-based driver (a RAM disk) handles b
  // itself; a request-based one points it at the block layer's queue
  // (sw/block). Either ends b with bio_endio, now or later.
  void (*submit_bio)(hal::Hal& h, bio* b);
};

struct disk_stats;  // sw/block: the /proc/diskstats counters

constexpr unsigned kDiskNameLen = 16;

struct block_device {
  char bd_disk_name[kDiskNameLen];  // "disk0": the platform device's name
  uint64_t bd_nr_sectors;           // capacity in 512-byte sectors
  uint32_t logical_block_size;      // 512 or 4096: I/O is in whole blocks of this size
  int numa_node;
  const block_device_operations* fops;
  request_queue* queue;  // request-based devices: their queue (sw/block), nullptr for bio-based ones
  disk_stats* stats;
  void* private_data;  // the driver's
  list_head bd_list;   // all registered devices
};

// The kernel's registered block devices (Linux's bdev inode list), owned by
// the kernel and reached through MmContext::blockdevs.
struct BlockDevices {
  list_head list;
  unsigned count;
  void init();
  // Registers a device under its name (drivers, at probe); 0 or -EEXIST.
  int add(block_device* bdev);
  void remove(block_device* bdev);
  // The registered device with that name, or nullptr.
  block_device* lookup(const char* name) const;
};

// Submits b to its device (bi_bdev->fops->submit_bio).
void submit_bio(hal::Hal& h, bio* b);
// Submits b and waits until it completes; returns 0 or -errno.
int submit_bio_wait(hal::Hal& h, bio* b);
// The device is done with b: records status and runs bi_end_io, if set.
void bio_endio(hal::Hal& h, bio* b);

}  // namespace fw
