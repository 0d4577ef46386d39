#include "sw/mm/page-writeback.h"

#include "sw/block/bio.h"
#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/mm/filemap.h"
#include "sw/mm/lru.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/watermark.h"

namespace fw {

namespace {

constexpr unsigned kRunPages = 16;  // pages per write bio: its inline vecs
constexpr uint64_t kNsPerCentisec = 10000000;

void list_del_init(list_head* e) {
  list_del(e);
  INIT_LIST_HEAD(e);
}

// Write completion (end_page_writeback): PG_writeback goes, the counters
// follow, a failure is remembered for the next fsync (mapping_set_error).
void write_end_io(hal::Hal& h, bio* b) {
  MmContext* ctx = static_cast<MmContext*>(b->bi_private);
  const bool ok = b->bi_status == blk_status_t::BLK_STS_OK;
  for (unsigned i = 0; i < b->bi_vcnt; ++i) {
    page* p = b->bi_io_vec[i].bv_page;
    if (inode* ino = page_host(p)) {
      if (!ok) {
        ino->i_wb_err = -EIO;
        ++ctx->writeback->stats().write_errors;
      }
      --ino->nr_writeback;
    }
    // Reclaim met it under writeback (PG_reclaim): to the inactive tail,
    // reclaimed first next time (folio_end_writeback).
    if (PageFlag(p, PG_reclaim)) {
      ClearPageFlag(p, PG_reclaim);
      ctx->lru->rotate_reclaimable(h, p);
    }
    ClearPageFlag(p, PG_writeback);
    const int nid = page_to_nid(p);
    ctx->vmstat->mod(nid, NR_WRITEBACK, -1);
    ctx->vmstat->mod(nid, NR_WRITTEN, 1);
    --ctx->nodes->page_zone(p)->vm_stat[NR_ZONE_WRITE_PENDING];
    ctx->page_alloc->put_page(h, p);
  }
  ctx->filemap->bio_put(h, b);
}

// folio_mkclean's rmap step: clears D in the PTE mapping the page at
// address, flushing the TLBs (a cached dirty translation would let the
// next store skip setting D again).
struct MkcleanVisitor final : RmapVisitor {
  MkcleanVisitor(MmContext* c, uint64_t pfn) : ctx(c), pfn(pfn) {}
  bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) override {
    if (!(vma->vm_flags & VM_SHARED)) return true;  // private mappings hold copies, not this page, when written
    mm_struct* mm = vma->vm_mm;
    PgTable& pt = *ctx->pgtable;
    LockGuard g(mm->page_table_lock, h);
    uint64_t epa, e;
    if (pt.walk_to(h, mm->pgd, address, x86::LEVEL_PT, false, 0, false, &epa) || !pt.read_entry(h, epa, &e))
      return true;
    if (!(e & x86::PTE_P) || ((e & pt.phys_mask()) >> PAGE_SHIFT) != pfn || !(e & x86::PTE_D)) return true;
    pt.write_entry(h, epa, e & ~x86::PTE_D);
    ctx->tlb->flush_tlb_page(h, mm, address);
    dirty = true;
    return true;
  }
  MmContext* ctx;
  uint64_t pfn;
  bool dirty = false;
};

}  // namespace

void Writeback::init(MmContext* ctx) {
  ctx_ = ctx;
  INIT_LIST_HEAD(&b_dirty_);
}

DirtyLimits Writeback::global_dirty_limits() const {
  // global_dirtyable_memory: free pages above the reserves plus the file
  // LRU pages (+1, never 0); domain_dirty_limits: the ratios in
  // 1/PAGE_SIZE units, the background limit below the hard one.
  const VmStat& vs = *ctx_->vmstat;
  uint64_t avail = ctx_->nodes->total_free_pages();
  avail -= min(avail, ctx_->watermark->totalreserve_pages());
  avail += static_cast<uint64_t>(vs.node_total(NR_INACTIVE_FILE) + vs.node_total(NR_ACTIVE_FILE)) + 1;
  const uint64_t ratio = ctx_->params->dirty_ratio * PAGE_SIZE / 100;
  const uint64_t bg_ratio = ctx_->params->dirty_background_ratio * PAGE_SIZE / 100;
  uint64_t thresh = ratio * avail / PAGE_SIZE;
  if (thresh > 0xffffffffull) thresh = 0xffffffffull;
  uint64_t bg_thresh = bg_ratio * avail / PAGE_SIZE;
  if (bg_thresh >= thresh) bg_thresh = thresh / 2;
  return {thresh, bg_thresh};
}

bool Writeback::folio_mkclean(hal::Hal& h, page* p) {
  if (!page_mapped(p)) return false;
  MkcleanVisitor v(ctx_, ctx_->nodes->page_to_pfn(p));
  ctx_->rmap->rmap_walk(h, p, v);
  if (v.dirty) ++stats_.mkclean_pages;
  return v.dirty;
}

void Writeback::mark_inode_dirty(hal::Hal& h, inode* ino, uint32_t flags) {
  const bool was_dirty = (ino->i_state & (I_DIRTY_INODE | I_DIRTY_PAGES)) != 0;
  ino->i_state |= flags;
  if (was_dirty) return;
  ino->dirtied_when = h.now_ns();
  list_add_tail(&ino->i_io_list, &b_dirty_);
}

void Writeback::requeue(inode* ino) {
  if (ino->nr_dirty == 0) ino->i_state &= ~I_DIRTY_PAGES;
  if (list_empty(&ino->i_io_list)) return;
  if (!(ino->i_state & (I_DIRTY_INODE | I_DIRTY_PAGES))) list_del_init(&ino->i_io_list);
  else list_move_tail(&ino->i_io_list, &b_dirty_);  // still dirty (redirtied meanwhile): after the others
}

// ---------------------------------------------------------------- writing pages

int Writeback::submit_run(hal::Hal& h, inode* ino, page** pages, unsigned n, WbSync mode) {
  Filemap& fm = *ctx_->filemap;
  bio* b = fm.bio_alloc(h, ino->i_bdev, req_op::write, mode == WbSync::all ? REQ_SYNC : 0,
                        ino->i_op->bmap(ino, pages[0]->index));
  if (!b) {
    // No memory for the bio: the pages are dirty again, for a later pass.
    for (unsigned i = 0; i < n; ++i) {
      page* p = pages[i];
      ClearPageFlag(p, PG_writeback);
      ctx_->vmstat->mod(page_to_nid(p), NR_WRITEBACK, -1);
      --ctx_->nodes->page_zone(p)->vm_stat[NR_ZONE_WRITE_PENDING];
      --ino->nr_writeback;
      fm.folio_mark_dirty(h, p);
      ctx_->page_alloc->put_page(h, p);
    }
    return -ENOMEM;
  }
  for (unsigned i = 0; i < n; ++i) bio_add_page(b, pages[i], PAGE_SIZE, 0);
  b->bi_end_io = write_end_io;
  b->bi_private = ctx_;
  ++stats_.write_ios;
  stats_.pages_written += n;
  fm.submit(h, b);
  return 0;
}

int64_t Writeback::writepages(hal::Hal& h, inode* ino, uint64_t start, uint64_t end, WbSync mode) {
  address_space* mapping = ino->i_mapping;
  page* run[kRunPages];
  unsigned n = 0;
  uint64_t next_sector = ~0ull, index, submitted = 0;
  int err = 0;
  while (page* p = ctx_->shmem->find_next(h, mapping, start, end, &index)) {
    start = index + 1;
    // Stores through shared mappings count as dirtying (the PTE D bits).
    if (page_mapped(p) && folio_mkclean(h, p) && ctx_->filemap->folio_mark_dirty(h, p))
      ++ctx_->filemap->stats().pte_dirty_harvested;
    if (!PageFlag(p, PG_dirty)) continue;
    const uint64_t sector = ino->i_op->bmap(ino, index);
    if (n && (n == kRunPages || sector != next_sector)) {
      if ((err = submit_run(h, ino, run, n, mode))) break;
      n = 0;
    }
    if (PageFlag(p, PG_writeback)) {
      if (mode == WbSync::none) continue;
      while (PageFlag(p, PG_writeback)) h.cpu_relax();  // data integrity: write the newer data too
    }
    // clear_page_dirty_for_io, then folio_start_writeback.
    get_page(p);
    ClearPageFlag(p, PG_dirty);
    SetPageFlag(p, PG_writeback);
    const int nid = page_to_nid(p);
    ctx_->vmstat->mod(nid, NR_FILE_DIRTY, -1);
    ctx_->vmstat->mod(nid, NR_WRITEBACK, 1);
    --ino->nr_dirty;
    ++ino->nr_writeback;
    run[n++] = p;
    next_sector = sector + (PAGE_SIZE >> SECTOR_SHIFT);
    ++submitted;
  }
  if (n && !err) err = submit_run(h, ino, run, n, mode);
  if (ino->nr_dirty == 0) ino->i_state &= ~I_DIRTY_PAGES;
  return err ? err : static_cast<int64_t>(submitted);
}

int Writeback::fdatawait(hal::Hal& h, inode* ino) {
  while (ino->nr_writeback) h.cpu_relax();
  const int err = ino->i_wb_err;
  ino->i_wb_err = 0;
  return err;
}

void Writeback::blkdev_issue_flush(hal::Hal& h, block_device* bdev) {
  bio b;
  bio_init(&b, bdev, req_op::flush, REQ_PREFLUSH | REQ_SYNC, 0);
  ctx_->filemap->submit_wait(h, &b);
  ++stats_.flushes;
}

uint64_t Writeback::writeback_inode(hal::Hal& h, inode* ino, WbSync mode) {
  const int64_t n = writepages(h, ino, 0, ~0ull, mode);
  if (ino->i_state & I_DIRTY_INODE) {
    ino->i_state &= ~I_DIRTY_INODE;
    if (ino->i_op->write_inode(h, ino, mode == WbSync::all)) ino->i_wb_err = -EIO;
    ++stats_.inodes_written;
  }
  requeue(ino);
  return n > 0 ? static_cast<uint64_t>(n) : 0;
}

int Writeback::vfs_fsync(hal::Hal& h, inode* ino, bool datasync) {
  ++stats_.fsyncs;
  const int64_t n = writepages(h, ino, 0, ~0ull, WbSync::all);
  int err = fdatawait(h, ino);
  if (n < 0 && !err) err = static_cast<int>(n);
  const uint32_t meta = datasync ? I_DIRTY_DATASYNC : I_DIRTY_INODE;
  if (ino->i_state & meta) {
    ino->i_state &= ~I_DIRTY_INODE;
    const int rc = ino->i_op->write_inode(h, ino, true);
    ++stats_.inodes_written;
    if (rc && !err) err = rc;
  }
  requeue(ino);
  blkdev_issue_flush(h, ino->i_bdev);
  return err;
}

int Writeback::sync_range(hal::Hal& h, inode* ino, uint64_t start, uint64_t end) {
  const int64_t n = writepages(h, ino, start, end, WbSync::all);
  int err = fdatawait(h, ino);
  if (n < 0 && !err) err = static_cast<int>(n);
  requeue(ino);
  return err;
}

void Writeback::ksys_sync(hal::Hal& h) {
  ++stats_.syncs;
  Filemap& fm = *ctx_->filemap;
  fm.for_each_inode([&](inode* ino) { writeback_inode(h, ino, WbSync::all); });
  fm.for_each_inode([&](inode* ino) {
    while (ino->nr_writeback) h.cpu_relax();
  });
  BlockDevices& devs = *ctx_->blockdevs;
  for (list_head* l = devs.list.next; l != &devs.list; l = l->next)
    blkdev_issue_flush(h, list_entry(l, block_device, bd_list));
}

// ---------------------------------------------------------------- the flusher and throttling

uint64_t Writeback::background_writeback(hal::Hal& h) {
  const DirtyLimits lim = global_dirty_limits();
  uint64_t written = 0;
  bool ran = false;
  while (!list_empty(&b_dirty_) && static_cast<uint64_t>(ctx_->vmstat->node_total(NR_FILE_DIRTY)) > lim.bg_thresh) {
    inode* ino = list_entry(b_dirty_.next, inode, i_io_list);
    ran = true;
    written += writeback_inode(h, ino, WbSync::none);
    if (b_dirty_.next == &ino->i_io_list) break;  // nothing more to take from it
  }
  if (ran) ++stats_.background_runs;
  return written;
}

void Writeback::wakeup_flusher_threads(hal::Hal& h) {
  // WB_REASON_VMSCAN: every dirty inode, oldest first, one pass.
  list_head* stop = b_dirty_.prev;
  bool ran = false;
  while (!list_empty(&b_dirty_)) {
    inode* ino = list_entry(b_dirty_.next, inode, i_io_list);
    const bool last = &ino->i_io_list == stop;
    ran = true;
    writeback_inode(h, ino, WbSync::none);
    if (last || b_dirty_.next == &ino->i_io_list) break;
  }
  if (ran) ++stats_.background_runs;
}

void Writeback::flusher_tick(hal::Hal& h) {
  if (!ctx_->filemap->has_inodes() || list_empty(&b_dirty_)) return;
  background_writeback(h);
  const uint64_t now = h.now_ns();
  const uint64_t interval = ctx_->params->dirty_writeback_centisecs * kNsPerCentisec;
  if (!interval || now - last_flush_ns_ < interval) return;
  last_flush_ns_ = now;
  // wb_check_old_data_flush: inodes dirty for longer than dirty_expire.
  const uint64_t expire = ctx_->params->dirty_expire_centisecs * kNsPerCentisec;
  bool ran = false;
  while (!list_empty(&b_dirty_)) {
    inode* ino = list_entry(b_dirty_.next, inode, i_io_list);
    if (now - ino->dirtied_when < expire) break;
    ran = true;
    ++stats_.expired_inodes;
    writeback_inode(h, ino, WbSync::none);
    if (b_dirty_.next == &ino->i_io_list) break;
  }
  if (ran) ++stats_.flusher_runs;
}

void Writeback::balance_dirty_pages(hal::Hal& h) {
  const DirtyLimits lim = global_dirty_limits();
  VmStat& vs = *ctx_->vmstat;
  auto dirty = [&] { return static_cast<uint64_t>(vs.node_total(NR_FILE_DIRTY)); };
  auto writeback = [&] { return static_cast<uint64_t>(vs.node_total(NR_WRITEBACK)); };
  // Below the freerun point writers go on untouched.
  if (dirty() + writeback() <= (lim.thresh + lim.bg_thresh) / 2) return;
  if (dirty() > lim.bg_thresh) background_writeback(h);
  if (dirty() + writeback() <= lim.thresh) return;
  ++stats_.throttled;
  const uint64_t t0 = h.now_ns();
  while (dirty() + writeback() > lim.thresh && writeback()) h.cpu_relax();
  stats_.throttle_ns += h.now_ns() - t0;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<WritebackStats> writeback_stat_table[] = {
    {"pages_written", &WritebackStats::pages_written, "pages submitted for writeback", "pages"},
    {"write_ios", &WritebackStats::write_ios, "write bios submitted by writeback", "count"},
    {"write_errors", &WritebackStats::write_errors, "pages whose write failed", "pages"},
    {"inodes_written", &WritebackStats::inodes_written, "inode metadata write-backs", "count"},
    {"flusher_runs", &WritebackStats::flusher_runs, "periodic flusher passes that wrote expired inodes", "count"},
    {"background_runs", &WritebackStats::background_runs, "background writeback passes above the background limit",
     "count"},
    {"expired_inodes", &WritebackStats::expired_inodes, "inodes written because dirty longer than dirty_expire",
     "count"},
    {"throttled", &WritebackStats::throttled, "writes throttled above dirty_ratio (balance_dirty_pages)", "count"},
    {"throttle_ns", &WritebackStats::throttle_ns, "simulated time throttled writers waited", "ns"},
    {"fsyncs", &WritebackStats::fsyncs, "fsync and fdatasync calls", "count"},
    {"syncs", &WritebackStats::syncs, "sync calls", "count"},
    {"flushes", &WritebackStats::flushes, "cache flushes sent to devices", "count"},
    {"mkclean_pages", &WritebackStats::mkclean_pages, "mapped pages whose dirty PTE bits writeback harvested",
     "pages"},
};
static_assert(stat_table_size(writeback_stat_table) == sizeof(WritebackStats) / sizeof(uint64_t),
              "one entry per counter");

}  // namespace

void Writeback::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, writeback_stat_table);
}

}  // namespace fw
