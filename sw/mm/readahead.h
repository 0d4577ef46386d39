// Readahead (Linux mm/readahead.c): the on-demand window of each open file
// (struct file_ra_state). A read that misses the page cache starts a
// synchronous window sized from the request (get_init_ra_size), sequential
// reads are detected from the previous position, and the page at the
// window's async mark carries PG_readahead: reaching it starts the next,
// larger window (get_next_ra_size) before the reader needs it, up to
// read_ahead_kb. fadvise/madvise change the window: SEQUENTIAL doubles its
// maximum, RANDOM turns it off (reads fetch what they ask for), WILLNEED
// reads a range now.
//
// Users: sw/mm/filemap (read and fault paths), sw/fs/mmfs (fadvise),
// sw/mm/madvise (file mappings).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"

namespace fw {

struct address_space;
struct page;

// Linux struct file_ra_state, plus the FMODE_RANDOM bit of the file.
struct file_ra_state {
  uint64_t start;       // first page of the current window
  uint32_t size;        // pages in it
  uint32_t async_size;  // pages from the mark to its end (the next window starts at the mark)
  uint32_t ra_pages;    // the most a window may hold (read_ahead_kb, doubled by SEQUENTIAL, 0: off)
  uint32_t order;       // Linux's folio order ramp; only the end alignment uses it (pages are 4 KiB)
  uint64_t prev_pos;    // byte after the last read (sequential detection); ~0: none yet
  bool random;          // FMODE_RANDOM (fadvise RANDOM / MADV_RANDOM)
};

struct ReadaheadStats {
  uint64_t sync_ra = 0;        // synchronous windows started by a miss
  uint64_t async_ra = 0;       // asynchronous windows started at a PG_readahead page
  uint64_t forced_ra = 0;      // reads of exactly the request (RANDOM, WILLNEED)
  uint64_t pages = 0;          // pages read by readahead (beyond none: the pages a window added)
  uint64_t read_around = 0;    // windows around a faulting page (mapped files)
  uint64_t window_max = 0;     // the largest window so far, pages
};

class Readahead {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }
  // A new open file's window (file_ra_state_init): ra_pages from read_ahead_kb.
  void file_ra_state_init(file_ra_state* ra) const;

  // A read of req pages at index missed the cache (page_cache_sync_ra).
  void page_cache_sync_ra(hal::Hal& h, address_space* mapping, file_ra_state* ra, uint64_t index, uint64_t req);
  // A read reached p, which carries PG_readahead (page_cache_async_ra).
  void page_cache_async_ra(hal::Hal& h, address_space* mapping, file_ra_state* ra, page* p, uint64_t index,
                           uint64_t req);
  // A fault on a mapped file missed the cache at index: read around it
  // (do_sync_mmap_readahead): a window of ra_pages centred on it, the
  // whole window ahead for SEQUENTIAL, nothing for RANDOM.
  void page_cache_read_around(hal::Hal& h, address_space* mapping, file_ra_state* ra, uint64_t index);
  // Reads nr pages from index now, in windows of at most 2 MiB, without
  // marks (force_page_cache_ra: WILLNEED, RANDOM files).
  void force_page_cache_ra(hal::Hal& h, address_space* mapping, uint64_t index, uint64_t nr);
  // fadvise/madvise advice on a file's window: NORMAL, RANDOM, SEQUENTIAL.
  void advise(file_ra_state* ra, uint64_t advice) const;

  ReadaheadStats& stats() { return stats_; }
  const ReadaheadStats& stats() const { return stats_; }
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Reads nr pages from index (not beyond the file's end), marking the
  // page lookahead pages before the end (do_page_cache_ra).
  void do_page_cache_ra(hal::Hal& h, address_space* mapping, uint64_t index, uint64_t nr, uint64_t lookahead);
  void ra_order(hal::Hal& h, address_space* mapping, file_ra_state* ra);

  MmContext* ctx_ = nullptr;
  ReadaheadStats stats_;
};

}  // namespace fw
