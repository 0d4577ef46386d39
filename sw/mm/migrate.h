// Page migration (Linux mm/migrate.c): moves isolated anonymous,
// shared-memory and (for soft offline) page-cache pages to new pages with
// their contents, their slot in the object or file (a dirty page stays
// dirty) and every mapping. For each page: every PTE mapping it (found
// through the reverse map) becomes a migration entry and
// its TLB entry is invalidated through the HAL; the contents are copied with
// Hal::phys_copy (which sees poison); the migration entries become PTEs of
// the new page. A fault on a migration entry waits for it to go away.
//
// Every PTE made a migration entry is shot down on every CPU that uses the
// address space (sw/mm/tlb.h) before the copy starts, so pages of running
// processes move too. Huge pages (THP, hugetlb) are not migrated
// (compaction leaves them alone), and compaction takes no page-cache pages
// (Lru::isolate).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/hal/x86.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/internal.h"
#include "sw/mm/page.h"
#include "sw/mm/pgtable.h"

namespace fw {

// A migration entry (sw/mm/pgtable.h): a non-present PTE keeping the old
// entry's bits, with a software bit (9) marking it. The hardware ignores
// every bit of a non-present entry.

// Allocates a target for src (nullptr: none) and takes an unused one back.
using new_page_t = page* (*)(hal::Hal& h, page* src, void* priv);
using free_page_t = void (*)(hal::Hal& h, page* dst, void* priv);

struct MigrateStats {
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t freed_under_us = 0;
  uint64_t copy_errors = 0;   // the source could not be read (poison)
};

class Migrate {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Migrates the isolated pages on `from` (linked through page->lru). Pages
  // that moved leave the list; the rest stay for putback_movable_pages.
  // Returns the number not migrated, or -ENOMEM when no target was found.
  // MR_MEMORY_FAILURE: a source that moved (or was freed meanwhile) is not
  // freed: it leaves the list with the isolation's reference, the caller's.
  int migrate_pages(hal::Hal& h, list_head* from, new_page_t get_new, free_page_t put_new, void* priv,
                    migrate_mode mode, unsigned* nr_succeeded, migrate_reason reason = MR_COMPACTION);
  void putback_movable_pages(hal::Hal& h, list_head* l);

  // A target anywhere but in the source's pageblock range (CMA, isolation;
  // Linux alloc_migration_target). Returns a page of src's order with
  // refcount 1, or nullptr.
  static page* alloc_migration_target(hal::Hal& h, page* src, void* priv);
  static void free_migration_target(hal::Hal& h, page* dst, void* priv);

  const MigrateStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Moves one isolated page to a target from get_new (Linux
  // migrate_folio_unmap + migrate_folio_move). Returns 0 when it moved or was
  // freed meanwhile, -ENOMEM (no target), -EAGAIN (not mapped any more, try
  // later) or -EIO (poison).
  int unmap_and_move(hal::Hal& h, page* src, new_page_t get_new, free_page_t put_new, void* priv, migrate_mode mode,
                     migrate_reason reason);
  // Unmaps src with migration entries, copies it to dst and maps dst in its
  // place (Linux move_to_new_folio). Returns 0, -EAGAIN or -EIO; on failure
  // src is mapped again.
  int move_to_new_page(hal::Hal& h, page* src, page* dst);
  // A dirty page-cache page moved from src to dst: its dirty counters follow.
  void move_dirty_accounting(page* src, page* dst);
  // Replaces every mapping of src with a migration entry (Linux
  // try_to_migrate).
  void try_to_migrate(hal::Hal& h, page* src);
  // Turns src's migration entries into mappings of dst (Linux
  // remove_migration_ptes).
  void remove_migration_ptes(hal::Hal& h, page* src, page* dst);

  MmContext* ctx_ = nullptr;
  MigrateStats stats_;
};

}  // namespace fw
