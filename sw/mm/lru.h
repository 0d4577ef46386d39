// LRU lists of anonymous pages (Linux mm/swap.c folio_add_lru, mm/vmscan.c
// folio_isolate_lru / folio_putback_lru): every anonymous page a process
// maps sits on its node's inactive anon list with PG_lru set. A page on an
// LRU list is what compaction and CMA may take off (isolate, holding a
// reference) to migrate. Reclaim, which would age the lists, comes later.
#pragma once

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/page.h"

namespace fw {

class Lru {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // A newly mapped anonymous page joins its node's list.
  void add(hal::Hal& h, page* p);
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
