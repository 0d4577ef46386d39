// The page cache (Linux mm/filemap.c, mm/truncate.c, fs/drop_caches.c and
// the generic parts of include/linux/fs.h): every file's pages indexed by
// page offset in its address_space (the radix tree of sw/mm/shmem, kind
// MappingKind::file), filled by block I/O through the filesystem's bmap,
// kept on the file LRU lists, marked dirty by write() and by stores through
// shared mappings (the PTE dirty bit, harvested at writeback and unmap),
// and dropped by truncation, DONTNEED and drop_caches.
//
// Page states: PG_locked while a read is in flight (readers wait for it),
// PG_uptodate once the data is valid, PG_dirty until writeback takes it,
// PG_writeback while the write is in flight (sw/mm/page-writeback),
// PG_readahead on the async mark of a readahead window.
//
// Counters (vmstat): NR_FILE_PAGES (every cached page), NR_FILE_DIRTY,
// NR_WRITEBACK, NR_DIRTIED/NR_WRITTEN, NR_FILE_MAPPED (sw/mm/rmap),
// pgpgin/pgpgout (KiB of block I/O), pgmajfault.
//
// Users: the filesystem (sw/fs/mmfs: read, write, truncate, fsync), the
// fault path (sw/mm/memory: filemap_fault), writeback, the monitor's
// fincore and page commands (through Kernel's debug interface).
#pragma once

#include <stdint.h>

#include "sw/block/bio.h"
#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/page.h"
#include "sw/mm/readahead.h"
#include "sw/mm/shmem.h"

namespace fw {

struct inode;
struct mm_struct;

struct inode_operations {
  // Returns the 512-byte sector holding page `index` of the file, ~0 when
  // the file's allocation does not cover it (the filesystem's bmap).
  uint64_t (*bmap)(const inode* ino, uint64_t index);
  // Writes the inode's metadata (size, times) to its device; sync: waits
  // for it (write_inode). Returns 0 or -errno.
  int (*write_inode)(hal::Hal& h, inode* ino, bool sync);
};

// i_state bits (Linux's I_DIRTY_*).
constexpr uint32_t I_DIRTY_SYNC = 1u << 0;      // metadata changed (times): fsync writes it, fdatasync need not
constexpr uint32_t I_DIRTY_DATASYNC = 1u << 1;  // metadata data depends on (the size) changed
constexpr uint32_t I_DIRTY_PAGES = 1u << 2;     // the mapping has dirty pages
constexpr uint32_t I_DIRTY_INODE = I_DIRTY_SYNC | I_DIRTY_DATASYNC;

// The generic part of a file (Linux struct inode); the filesystem embeds it.
struct inode {
  uint32_t i_ino;
  uint32_t i_state;       // I_DIRTY_*
  uint64_t i_size;        // bytes
  uint64_t i_allocated;   // bytes the file may grow to (its blocks)
  uint64_t i_mtime_ns;    // simulated time of the last data change
  uint64_t dirtied_when;  // when it became dirty (writeback's age test), ns
  address_space* i_mapping;
  block_device* i_bdev;
  const inode_operations* i_op;
  list_head i_io_list;    // on Writeback's list of dirty inodes (empty when clean)
  list_head i_sb_list;    // on Filemap's list of every inode
  int i_wb_err;           // a writeback error fsync has not reported yet (-EIO)
  uint64_t nr_dirty;      // dirty pages of the mapping
  uint64_t nr_writeback;  // pages under writeback
  char i_name[32];
  file_ra_state i_mmap_ra;  // the readahead window of faults on mappings (Linux keeps it in the mapping's struct file)
  uint32_t i_dev;           // the device as /proc/PID/maps prints it, major << 8 | minor
};

// An open file (Linux struct file): shared by the fds dup'ed from it.
struct file {
  int f_count;
  uint32_t f_flags;  // open flags (uapi::kO*)
  inode* f_inode;
  uint64_t f_pos;
  file_ra_state f_ra;
};

// Returns the inode whose page cache holds p, nullptr for other pages.
inline inode* page_host(const page* p) {
  const address_space* m = page_mapping_obj(p);
  return m && m->kind == MappingKind::file ? m->host : nullptr;
}

struct FilemapStats {
  uint64_t lookups = 0;         // page-cache lookups of reads, writes and faults
  uint64_t hits = 0;            // ... that found the page uptodate
  uint64_t pages_added = 0;     // pages added to the cache
  uint64_t pages_removed = 0;   // pages taken out (truncate, invalidate, drop_caches)
  uint64_t read_ios = 0;        // read bios submitted
  uint64_t read_pages = 0;      // pages read from devices
  uint64_t read_errors = 0;     // pages whose read failed (EIO)
  uint64_t read_waits = 0;      // times a reader waited for a page under I/O
  uint64_t bytes_read = 0;      // by read()/pread64()
  uint64_t bytes_written = 0;   // by write()/pwrite64()
  uint64_t faults = 0;          // filemap_fault calls
  uint64_t major_faults = 0;    // ... that needed I/O
  uint64_t dropped = 0;         // pages dropped by drop_caches
  uint64_t truncated = 0;       // pages dropped by truncation
  uint64_t pte_dirty_harvested = 0;  // dirty PTEs found by mkclean and unmap (pages dirtied through mappings)
};

class Filemap {
 public:
  void init(MmContext* ctx);

  // A new inode's page cache of nr_pages pages, and the inode on the list
  // of all inodes. False when out of memory.
  bool inode_init(hal::Hal& h, inode* ino, uint64_t nr_pages);
  // Any inodes at all (files exist): their statistics are shown.
  bool has_inodes() const { return nr_inodes_ != 0; }
  // Returns the inode with that number, nullptr when none.
  inode* find_inode(uint32_t ino) const;

  // Returns the page at index with a reference, nullptr when absent (find_get_page).
  page* find_get_page(hal::Hal& h, address_space* mapping, uint64_t index);
  // Returns the page at index with a reference, a new one (locked, not
  // uptodate) added when absent and `create` is set; nullptr when absent
  // and not created, beyond the mapping, or out of memory
  // (filemap_get_folio with FGP_CREAT). *created tells which. A created
  // page whose slot held a workingset shadow is a refault
  // (Workingset::refault), unless it is created for a write (__GFP_WRITE).
  page* filemap_get_folio(hal::Hal& h, address_space* mapping, uint64_t index, bool create, bool* created,
                          bool for_write = false);
  // Reads the locked, not-uptodate pages[0..n) (consecutive indices) with
  // as few bios as their sectors allow; ra: readahead I/O. Completion
  // unlocks each page (uptodate unless the read failed).
  void read_pages(hal::Hal& h, address_space* mapping, page** pages, unsigned n, bool ra);
  // Waits until p is unlocked (its read completed). Returns 0, or -EIO
  // when it is not uptodate after.
  int wait_on_page_read(hal::Hal& h, page* p);

  // read()/pread64(): copies up to count bytes from pos of f into the user
  // buffer at buf of mm (faulting it in). Returns bytes copied, 0 at the
  // end of the file, -EFAULT, -EIO or -ENOMEM (filemap_read).
  int64_t filemap_read(hal::Hal& h, mm_struct* mm, file* f, uint64_t pos, uint64_t count, uint64_t buf);
  // write()/pwrite64(): copies count bytes from the user buffer into the
  // cache at pos, dirtying the pages; grows i_size up to the allocation.
  // Returns bytes written, -EFAULT, -EFBIG (pos beyond the allocation),
  // -EIO or -ENOMEM (generic_perform_write).
  int64_t filemap_write(hal::Hal& h, mm_struct* mm, file* f, uint64_t pos, uint64_t count, uint64_t buf);
  // The page at index for a fault, with a reference, read when needed
  // (*major: I/O was needed), readahead around it. nullptr with *err
  // (-EIO, -ENOMEM, -EFAULT beyond the end) when it cannot be had.
  page* filemap_fault(hal::Hal& h, address_space* mapping, file_ra_state* ra, uint64_t index, bool* major, int* err);

  // Marks a cache page dirty (folio_mark_dirty): the counters, the inode on
  // the writeback list. Returns true when it was clean.
  bool folio_mark_dirty(hal::Hal& h, page* p);
  // A second use activates the page (folio_mark_accessed).
  void folio_mark_accessed(hal::Hal& h, page* p);

  // Drops the clean, unmapped, idle pages of [start, end) (Linux
  // invalidate_mapping_pages). Returns how many.
  uint64_t invalidate_mapping_pages(hal::Hal& h, address_space* mapping, uint64_t start, uint64_t end);
  // Truncation: every page from index `start` on leaves the cache, after
  // its mappings are zapped, waiting for writeback (truncate_inode_pages
  // with unmap_mapping_range); the page holding a new end keeps its data
  // and is zeroed beyond it.
  void truncate_pagecache(hal::Hal& h, inode* ino, uint64_t newsize);
  // echo 1 > drop_caches over every inode. Returns the pages dropped.
  uint64_t drop_pagecache(hal::Hal& h);

  // Zeroes [from, to) of the file through the cache (dirty pages), reading
  // a partial first page. 0 or -errno.
  int zero_range(hal::Hal& h, inode* ino, uint64_t from, uint64_t to);
  // Zaps every user mapping of pages [start, end) of the mapping (private
  // copies included, as truncation does: unmap_mapping_pages).
  void unmap_mapping_pages(hal::Hal& h, address_space* mapping, uint64_t start, uint64_t end);
  uint64_t pfn_of(const page* p) const;

  // A cache page the caller holds a reference to leaves its mapping;
  // a nonzero shadow (reclaim's, from Workingset::eviction) stays in its slot.
  void delete_from_page_cache(hal::Hal& h, page* p, uint64_t shadow = 0);

  // Submits a bio for page-cache I/O and counts pgpgin/pgpgout.
  void submit(hal::Hal& h, bio* b);
  // The same, waiting for its completion. 0 or -errno.
  int submit_wait(hal::Hal& h, bio* b);
  // A bio with its inline vecs from the slab, nullptr when out of memory.
  bio* bio_alloc(hal::Hal& h, block_device* bdev, req_op op, uint32_t opf, uint64_t sector);
  void bio_put(hal::Hal& h, bio* b);

  // Walks every inode (writeback, sync, drop_caches).
  template <typename F>
  void for_each_inode(F&& f) {
    for (list_head* l = inodes_.next; l != &inodes_; l = l->next) f(list_entry(l, inode, i_sb_list));
  }

  FilemapStats& stats() { return stats_; }
  const FilemapStats& stats() const { return stats_; }
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Copies between a cache page and user memory: len bytes at offset off
  // of p, to (to_user) or from the user buffer at buf. 0 or -EFAULT.
  int copy_page_user(hal::Hal& h, mm_struct* mm, page* p, uint32_t off, uint32_t len, uint64_t buf, bool to_user);
  // The uptodate page at index for a read of req pages, readahead done;
  // nullptr with *err.
  page* get_read_page(hal::Hal& h, file* f, uint64_t index, uint64_t req, int* err);
  // Makes the page at index ready for a write of [off, off + len) in it.
  page* write_begin(hal::Hal& h, inode* ino, uint64_t index, uint32_t off, uint32_t len, int* err);

  void count_pgpg(const bio* b);

  MmContext* ctx_ = nullptr;
  list_head inodes_;
  uint64_t nr_inodes_ = 0;
  FilemapStats stats_;
};

}  // namespace fw
