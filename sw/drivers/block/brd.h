// A RAM disk (Linux drivers/block/brd.c): a bio-based block device whose
// sectors live in pages of the firmware's own memory, allocated when first
// written (a never-written sector reads as zeros) and indexed by page in a
// two-level table. Bios complete inside submit_bio. Used by the host unit
// tests to mount mmfs without a disk model (tb/sw/fs, tb/sw/mm), and usable
// as platform-less storage in tests.
#pragma once

#include <stdint.h>

#include "sw/block/bio.h"
#include "sw/hal/hal.h"
#include "sw/mm/context.h"

namespace fw {

struct brd_device {
  block_device bdev;
  MmContext* ctx;
  uint64_t nr_pages;
  page*** dir;           // nr_pages / 512 rounded up tables of 512 page pointers
  uint64_t pages;        // pages allocated
  uint64_t fail_sector;  // a read or write touching it fails with BLK_STS_IOERR (~0: none); tests' media error
  uint64_t reads, writes, flushes;
};

// Creates a RAM disk of `bytes` (a multiple of 4 KiB) named `name` with
// logical blocks of block_size (512 or 4096) and registers it in
// ctx->blockdevs. Returns it, nullptr when out of memory or the name is taken.
brd_device* brd_create(hal::Hal& h, MmContext* ctx, const char* name, uint64_t bytes, uint32_t block_size);
// Unregisters it and frees its pages.
void brd_destroy(hal::Hal& h, brd_device* d);
// Host-side access to the medium (mkfs before mounting, checks after):
// bytes at byte offset `off`. False when out of memory or beyond the disk.
bool brd_write(hal::Hal& h, brd_device* d, uint64_t off, const void* src, uint64_t len);
bool brd_read(hal::Hal& h, brd_device* d, uint64_t off, void* dst, uint64_t len);

}  // namespace fw
