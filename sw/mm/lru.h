// LRU lists (Linux mm/swap.c folio_add_lru, folio_activate, mm/vmscan.c
// folio_isolate_lru / folio_putback_lru): every anonymous page a process
// maps sits on its node's inactive anon list with PG_lru set; page-cache
// pages join the inactive file list and move to the active one when used
// again (sw/mm/filemap's folio_mark_accessed). An anonymous page on an LRU
// list is what compaction and CMA may take off (isolate, holding a
// reference) to migrate; page-cache pages are not migrated yet. Reclaim,
// which would age the lists, comes later.
#pragma once

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/page.h"

namespace fw {

// Returns true for a page of a file's page cache (it goes on the file lists).
bool page_is_file_lru(const page* p);

class Lru {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // A newly mapped anonymous page joins its node's list.
  void add(hal::Hal& h, page* p);
  // A page-cache page joins its node's inactive file list.
  void add_file(hal::Hal& h, page* p);
  // A page-cache page on the inactive file list moves to the active one
  // (Linux folio_activate); counted as pgactivate.
  void activate_file(hal::Hal& h, page* p);
  // A page being freed leaves it (the last reference is gone).
  void del(hal::Hal& h, page* p);
  // Takes a page off the list for migration, with a reference; false when
  // it is not on a list (being freed, already isolated).
  bool isolate(hal::Hal& h, page* p);
  // Gives an isolated page back to its list and drops the reference.
  void putback(hal::Hal& h, page* p);
  // An isolated page that will not come back (migrated away or freed
  // meanwhile): drops the isolation state, not the reference.
  void isolation_done(page* p);

 private:
  MmContext* ctx_ = nullptr;
};

}  // namespace fw
