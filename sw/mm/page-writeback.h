// Writeback of dirty page-cache pages (Linux mm/page-writeback.c,
// fs/fs-writeback.c, fs/sync.c): the dirty limits (global_dirty_limits /
// domain_dirty_limits: vm.dirty_background_ratio and vm.dirty_ratio of the
// dirtyable memory), throttling of writers above the limit
// (balance_dirty_pages), the flusher (wb_workfn: a periodic kernel worker
// on CPU 0, run from the timer tick like khugepaged) that starts background
// writeback above the background limit and writes inodes dirty for longer
// than dirty_expire_centisecs every dirty_writeback_centisecs, and the
// write-out itself (write_cache_pages: dirty pages in index order, runs of
// adjacent sectors in one bio, PG_writeback while in flight, cleared by the
// bio's completion), fsync/fdatasync, sync and msync.
//
// Throttling model: Linux 6.18 makes an over-limit writer sleep in
// balance_dirty_pages while the flusher cleans pages. Here the writer, when
// dirty + writeback pages pass the limit, starts background writeback
// itself (the flusher's work, done on its behalf so no CPU can wait for a
// tick it would itself have to run) and then waits for writeback
// completions until dirty + writeback drop to the limit; the simulated time
// waited is counted (writeback.throttle_ns).
//
// Users: sw/mm/filemap (dirtying), sw/fs/mmfs (fsync, sync), the kernel's
// timer tick (the flusher), msync (sw/mm/mmap).
#pragma once

#include <stdint.h>

#include "sw/block/bio.h"
#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"

namespace fw {

struct inode;
struct page;
struct address_space;
struct vm_area_struct;

// How hard a writeback pass tries (Linux enum writeback_sync_modes).
enum class WbSync : uint8_t { none, all };

struct DirtyLimits {
  uint64_t thresh;     // dirty_ratio of the dirtyable memory, pages
  uint64_t bg_thresh;  // dirty_background_ratio of it, pages
};

struct WritebackStats {
  uint64_t pages_written = 0;    // pages whose write bio was submitted
  uint64_t write_ios = 0;        // write bios submitted
  uint64_t write_errors = 0;     // pages whose write failed
  uint64_t inodes_written = 0;   // inode metadata write-backs
  uint64_t flusher_runs = 0;     // periodic flusher passes that found work
  uint64_t background_runs = 0;  // background writeback passes (above the background limit)
  uint64_t expired_inodes = 0;   // inodes written because they were dirty too long
  uint64_t throttled = 0;        // writer calls of balance_dirty_pages that waited
  uint64_t throttle_ns = 0;      // simulated time writers waited there
  uint64_t fsyncs = 0;           // fsync and fdatasync calls
  uint64_t syncs = 0;            // sync calls
  uint64_t flushes = 0;          // cache FLUSH requests sent to devices
  uint64_t mkclean_pages = 0;    // mapped pages write-protected/cleaned before writeback (folio_mkclean)
};

class Writeback {
 public:
  void init(MmContext* ctx);

  // The global limits now (global_dirty_limits).
  DirtyLimits global_dirty_limits() const;

  // The inode's metadata or pages became dirty (__mark_inode_dirty):
  // `flags` I_DIRTY_*; the first dirtying stamps dirtied_when and queues it.
  void mark_inode_dirty(hal::Hal& h, inode* ino, uint32_t flags);
  // A writer dirtied pages: throttles it above the limit, kicks background
  // writeback above the freerun point (balance_dirty_pages_ratelimited).
  void balance_dirty_pages(hal::Hal& h);

  // Writes the dirty pages of [start, end) of the inode (write_cache_pages;
  // all: also pages already under writeback, after it completes). Returns
  // pages submitted, or -errno when a bio could not be had.
  int64_t writepages(hal::Hal& h, inode* ino, uint64_t start, uint64_t end, WbSync mode);
  // Waits for writeback of the inode's pages; returns and clears a
  // recorded write error (filemap_fdatawait + file_check_and_advance_wb_err).
  int fdatawait(hal::Hal& h, inode* ino);
  // fsync (datasync: fdatasync): pages, then metadata when needed, then a
  // cache flush of the device. 0 or -EIO.
  int vfs_fsync(hal::Hal& h, inode* ino, bool datasync);
  // sync(2): every inode's pages and metadata, then flush every device.
  void ksys_sync(hal::Hal& h);
  // msync(MS_SYNC) of a range of one inode: harvest, write, wait. 0 or -EIO.
  int sync_range(hal::Hal& h, inode* ino, uint64_t start, uint64_t end);

  // Reclaim found only dirty pages at the inactive tail: the flusher
  // writes every dirty inode now (wakeup_flusher_threads, WB_REASON_VMSCAN).
  void wakeup_flusher_threads(hal::Hal& h);
  // The flusher's periodic work; the timer tick of CPU 0 calls it.
  void flusher_tick(hal::Hal& h);

  // Harvests the dirty bits of every PTE mapping p (folio_mkclean): the
  // entries lose D (and the TLBs them); returns true when any had it.
  bool folio_mkclean(hal::Hal& h, page* p);

  WritebackStats& stats() { return stats_; }
  const WritebackStats& stats() const { return stats_; }
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Background writeback: oldest inodes first until dirty pages drop under
  // the background limit (or nothing is left). Returns pages submitted.
  uint64_t background_writeback(hal::Hal& h);
  // Writes the inode's pages and (async) its metadata; dequeues it when clean.
  uint64_t writeback_inode(hal::Hal& h, inode* ino, WbSync mode);
  void requeue(inode* ino);
  // Submits pages[0..n) (dirty cleared, writeback set) as bios of adjacent sectors.
  int submit_run(hal::Hal& h, inode* ino, page** pages, unsigned n, WbSync mode);
  // Sends an empty PREFLUSH to bdev and waits for it.
  void blkdev_issue_flush(hal::Hal& h, block_device* bdev);

  MmContext* ctx_ = nullptr;
  list_head b_dirty_;  // dirty inodes, oldest first
  uint64_t last_flush_ns_ = 0;
  WritebackStats stats_;
};

}  // namespace fw
