#include "sw/mm/filemap.h"

#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/lib/string.h"
#include "sw/mm/gup.h"
#include "sw/mm/lru.h"
#include "sw/mm/memory.h"
#include "sw/mm/memory_failure.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page-writeback.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/slub.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/workingset.h"

namespace fw {

namespace {

// Read completion (Linux mpage_read_end_io): each page becomes uptodate
// (zeroed beyond the end of the file, as block_read_full_folio does) or
// stays not uptodate after an error; either way it is unlocked.
void read_end_io(hal::Hal& h, bio* b) {
  Filemap* fm = static_cast<Filemap*>(b->bi_private);
  const bool ok = b->bi_status == blk_status_t::BLK_STS_OK;
  for (unsigned i = 0; i < b->bi_vcnt; ++i) {
    page* p = b->bi_io_vec[i].bv_page;
    if (ok) {
      const inode* ino = page_host(p);
      const uint64_t start = p->index << PAGE_SHIFT;
      if (ino && ino->i_size < start + PAGE_SIZE) {
        const uint64_t from = ino->i_size > start ? ino->i_size - start : 0;
        h.phys_fill(PFN_PHYS(fm->pfn_of(p)) + from, 0, PAGE_SIZE - from);
      }
      SetPageFlag(p, PG_uptodate);
    } else {
      ++fm->stats().read_errors;
    }
    ClearPageFlag(p, PG_locked);
  }
  fm->bio_put(h, b);
}

}  // namespace

void Filemap::init(MmContext* ctx) {
  ctx_ = ctx;
  INIT_LIST_HEAD(&inodes_);
}

uint64_t Filemap::pfn_of(const page* p) const { return ctx_->nodes->page_to_pfn(p); }

bool Filemap::inode_init(hal::Hal& h, inode* ino, uint64_t nr_pages) {
  address_space* m = ctx_->shmem->create(h, MappingKind::file, PAGE_SHIFT, nr_pages ? nr_pages : 1);
  if (!m) return false;
  m->host = ino;
  ino->i_mapping = m;
  ctx_->readahead->file_ra_state_init(&ino->i_mmap_ra);
  INIT_LIST_HEAD(&ino->i_io_list);
  list_add_tail(&ino->i_sb_list, &inodes_);
  ++nr_inodes_;
  return true;
}

inode* Filemap::find_inode(uint32_t nr) const {
  for (list_head* l = inodes_.next; l != &inodes_; l = l->next) {
    inode* ino = list_entry(l, inode, i_sb_list);
    if (ino->i_ino == nr) return ino;
  }
  return nullptr;
}

// ---------------------------------------------------------------- lookup and insertion

page* Filemap::find_get_page(hal::Hal& h, address_space* mapping, uint64_t index) {
  page* p = ctx_->shmem->find_page(h, mapping, index);
  if (p) get_page(p);
  return p;
}

page* Filemap::filemap_get_folio(hal::Hal& h, address_space* mapping, uint64_t index, bool create, bool* created,
                                 bool for_write) {
  *created = false;
  if (page* p = find_get_page(h, mapping, index)) return p;
  if (!create || index >= mapping->nr_pages) return nullptr;
  page* p = ctx_->page_alloc->alloc_pages(h, GFP_HIGHUSER_MOVABLE, 0);
  if (!p) return nullptr;
  SetPageFlag(p, PG_locked);
  uint64_t shadow = 0;
  if (!ctx_->shmem->add_page(h, mapping, index, p, &shadow)) {
    ClearPageFlag(p, PG_locked);
    ctx_->page_alloc->put_page(h, p);
    return find_get_page(h, mapping, index);
  }
  // The allocation's reference is the cache's; this one is the caller's.
  get_page(p);
  ctx_->vmstat->mod(page_to_nid(p), NR_FILE_PAGES, 1);
  // Before it joins the LRU: a refault may make it active.
  if (shadow && !for_write) ctx_->workingset->refault(h, p, shadow);
  ctx_->lru->add_file(h, p);
  ++stats_.pages_added;
  *created = true;
  return p;
}

void Filemap::delete_from_page_cache(hal::Hal& h, page* p, uint64_t shadow) {
  address_space* mapping = page_mapping_obj(p);
  if (!mapping || !ctx_->shmem->remove_page(h, mapping, p->index, p, shadow)) return;
  ctx_->lru->del(h, p);  // while p still names its mapping (the file lists)
  inode* ino = mapping->host;
  const int nid = page_to_nid(p);
  if (PageFlag(p, PG_dirty)) {  // truncation of a dirty page (cancel_dirty_page)
    ClearPageFlag(p, PG_dirty);
    ctx_->vmstat->mod(nid, NR_FILE_DIRTY, -1);
    --ctx_->nodes->page_zone(p)->vm_stat[NR_ZONE_WRITE_PENDING];
    --ino->nr_dirty;
  }
  ctx_->vmstat->mod(nid, NR_FILE_PAGES, -1);
  p->mapping = 0;
  p->flags &= ~((1ull << PG_uptodate) | (1ull << PG_referenced) | (1ull << PG_readahead) | (1ull << PG_active));
  ++stats_.pages_removed;
  ctx_->page_alloc->put_page(h, p);  // the cache's reference
}

// ---------------------------------------------------------------- block I/O

bio* Filemap::bio_alloc(hal::Hal& h, block_device* bdev, req_op op, uint32_t opf, uint64_t sector) {
  bio* b = static_cast<bio*>(ctx_->slab->kmalloc(h, sizeof(bio), GFP_NOIO));
  if (b) bio_init(b, bdev, op, opf, sector);
  return b;
}

void Filemap::bio_put(hal::Hal& h, bio* b) { ctx_->slab->kfree(h, b); }

void Filemap::count_pgpg(const bio* b) {
  // Linux counts pgpgin/pgpgout in submit_bio; they show KiB.
  if (b->op == req_op::read) ctx_->vmstat->count(PGPGIN, b->bi_size >> 10);
  else if (b->op == req_op::write) ctx_->vmstat->count(PGPGOUT, b->bi_size >> 10);
}

void Filemap::submit(hal::Hal& h, bio* b) {
  count_pgpg(b);
  submit_bio(h, b);
}

int Filemap::submit_wait(hal::Hal& h, bio* b) {
  count_pgpg(b);
  return submit_bio_wait(h, b);
}

void Filemap::read_pages(hal::Hal& h, address_space* mapping, page** pages, unsigned n, bool ra) {
  inode* ino = mapping->host;
  bio* b = nullptr;
  uint64_t next_sector = ~0ull;
  for (unsigned i = 0; i < n; ++i) {
    page* p = pages[i];
    const uint64_t sector = ino->i_op->bmap(ino, p->index);
    if (b && (sector != next_sector || !bio_add_page(b, p, PAGE_SIZE, 0))) {
      submit(h, b);
      b = nullptr;
    }
    if (sector == ~0ull) {  // outside the allocation: nothing on disk
      h.phys_fill(PFN_PHYS(pfn_of(p)), 0, PAGE_SIZE);
      SetPageFlag(p, PG_uptodate);
      ClearPageFlag(p, PG_locked);
      continue;
    }
    if (!b) {
      b = bio_alloc(h, ino->i_bdev, req_op::read, ra ? REQ_RAHEAD : REQ_SYNC, sector);
      if (!b) {  // no memory: the page stays not uptodate (the reader sees EIO)
        ClearPageFlag(p, PG_locked);
        continue;
      }
      b->bi_end_io = read_end_io;
      b->bi_private = this;
      ++stats_.read_ios;
      bio_add_page(b, p, PAGE_SIZE, 0);
    }
    ++stats_.read_pages;
    next_sector = sector + (PAGE_SIZE >> SECTOR_SHIFT);
  }
  if (b) submit(h, b);
}

int Filemap::wait_on_page_read(hal::Hal& h, page* p) {
  if (PageFlag(p, PG_locked)) {
    ++stats_.read_waits;
    while (PageFlag(p, PG_locked)) h.cpu_relax();
  }
  return PageFlag(p, PG_uptodate) ? 0 : -EIO;
}

// ---------------------------------------------------------------- user copies

int Filemap::copy_page_user(hal::Hal& h, mm_struct* mm, page* p, uint32_t off, uint32_t len, uint64_t buf,
                            bool to_user) {
  // copy_to_user / copy_from_user with the fault-in of Linux's
  // fault_in_writeable/readable: each user page is faulted in as the
  // access would, then copied through the physical address.
  LockGuard g(mm->mmap_lock, h);
  const uint64_t kpa = PFN_PHYS(pfn_of(p));
  while (len) {
    const uint32_t ulen = static_cast<uint32_t>(min<uint64_t>(len, PAGE_SIZE - (buf & ~PAGE_MASK)));
    int err = 0;
    page* up = ctx_->gup->follow_page(h, mm, buf, to_user, &err);
    if (!up) return -EFAULT;
    const uint64_t upa = PFN_PHYS(pfn_of(up)) + (buf & ~PAGE_MASK);
    const hal::MemStatus st = to_user ? h.phys_copy(upa, kpa + off, ulen) : h.phys_copy(kpa + off, upa, ulen);
    if (st == hal::MemStatus::poison && !to_user) {
      // copy_from_user met poison in the user's buffer: a recoverable
      // kernel access (copy_mc); the call fails and the page goes to
      // memory_failure() before the return to user (kill_me_never).
      ctx_->log->printk(h, LOGLEVEL_ERR, "mce: Kernel accessed poison in user space at %llx",
                        static_cast<unsigned long long>(upa));
      ctx_->memory_failure->memory_failure_queue(h, pfn_of(up), 0);
    }
    if (st != hal::MemStatus::ok) return -EFAULT;
    // A store into a shared file mapping dirties its page as the walker's D bit would.
    if (to_user && page_is_file_lru(up)) folio_mark_dirty(h, up);
    buf += ulen;
    off += ulen;
    len -= ulen;
  }
  return 0;
}

// ---------------------------------------------------------------- read

page* Filemap::get_read_page(hal::Hal& h, file* f, uint64_t index, uint64_t req, int* err) {
  address_space* mapping = f->f_inode->i_mapping;
  ++stats_.lookups;
  page* p = find_get_page(h, mapping, index);
  if (!p) {
    ctx_->readahead->page_cache_sync_ra(h, mapping, &f->f_ra, index, req);
    p = find_get_page(h, mapping, index);
  }
  if (!p) {  // readahead could not add it (no memory): read just this page
    bool created;
    p = filemap_get_folio(h, mapping, index, true, &created);
    if (!p) {
      *err = -ENOMEM;
      return nullptr;
    }
    if (created) read_pages(h, mapping, &p, 1, false);
  }
  if (PageFlag(p, PG_readahead)) ctx_->readahead->page_cache_async_ra(h, mapping, &f->f_ra, p, index, req);
  if (PageFlag(p, PG_uptodate) && !PageFlag(p, PG_locked)) ++stats_.hits;
  if ((*err = wait_on_page_read(h, p))) {
    ctx_->page_alloc->put_page(h, p);
    return nullptr;
  }
  folio_mark_accessed(h, p);
  return p;
}

int64_t Filemap::filemap_read(hal::Hal& h, mm_struct* mm, file* f, uint64_t pos, uint64_t count, uint64_t buf) {
  inode* ino = f->f_inode;
  if (pos >= ino->i_size || !count) return 0;
  count = min(count, ino->i_size - pos);
  const uint64_t last = (pos + count - 1) >> PAGE_SHIFT;
  uint64_t done = 0;
  int err = 0;
  while (done < count) {
    const uint64_t index = (pos + done) >> PAGE_SHIFT;
    const uint32_t off = static_cast<uint32_t>((pos + done) & ~PAGE_MASK);
    const uint32_t len = static_cast<uint32_t>(min<uint64_t>(PAGE_SIZE - off, count - done));
    page* p = get_read_page(h, f, index, last - index + 1, &err);
    if (!p) break;
    err = copy_page_user(h, mm, p, off, len, buf + done, true);
    ctx_->page_alloc->put_page(h, p);
    if (err) break;
    done += len;
  }
  f->f_ra.prev_pos = pos + done;
  stats_.bytes_read += done;
  return done ? static_cast<int64_t>(done) : err;
}

// ---------------------------------------------------------------- write

page* Filemap::write_begin(hal::Hal& h, inode* ino, uint64_t index, uint32_t off, uint32_t len, int* err) {
  bool created;
  ++stats_.lookups;
  page* p = filemap_get_folio(h, ino->i_mapping, index, true, &created, true);
  if (!p) {
    *err = -ENOMEM;
    return nullptr;
  }
  if (!created) {
    wait_on_page_read(h, p);  // a read in flight
    if (PageFlag(p, PG_uptodate)) {
      ++stats_.hits;
      return p;
    }
    SetPageFlag(p, PG_locked);
  }
  const uint64_t start = index << PAGE_SHIFT;
  if ((off == 0 && len == PAGE_SIZE) || start >= ino->i_size) {
    // Nothing of the old content survives (or there is none): no read.
    h.phys_fill(PFN_PHYS(pfn_of(p)), 0, PAGE_SIZE);
    SetPageFlag(p, PG_uptodate);
    ClearPageFlag(p, PG_locked);
    return p;
  }
  read_pages(h, ino->i_mapping, &p, 1, false);
  if ((*err = wait_on_page_read(h, p))) {
    ctx_->page_alloc->put_page(h, p);
    return nullptr;
  }
  return p;
}

int Filemap::zero_range(hal::Hal& h, inode* ino, uint64_t from, uint64_t to) {
  while (from < to) {
    const uint64_t index = from >> PAGE_SHIFT;
    const uint32_t off = static_cast<uint32_t>(from & ~PAGE_MASK);
    const uint32_t len = static_cast<uint32_t>(min<uint64_t>(PAGE_SIZE - off, to - from));
    int err = 0;
    page* p = write_begin(h, ino, index, off, len, &err);
    if (!p) return err;
    h.phys_fill(PFN_PHYS(pfn_of(p)) + off, 0, len);
    folio_mark_dirty(h, p);
    ctx_->page_alloc->put_page(h, p);
    from += len;
  }
  return 0;
}

int64_t Filemap::filemap_write(hal::Hal& h, mm_struct* mm, file* f, uint64_t pos, uint64_t count, uint64_t buf) {
  inode* ino = f->f_inode;
  if (!count) return 0;
  if (pos >= ino->i_allocated) return -EFBIG;
  count = min(count, ino->i_allocated - pos);
  int err = 0;
  // A write past the end leaves a hole that must read as zeros: the blocks
  // keep old data (mmfs never frees them), so the gap is written as zeros.
  if (pos > ino->i_size && (err = zero_range(h, ino, ino->i_size, pos))) return err;
  uint64_t done = 0;
  while (done < count) {
    const uint64_t index = (pos + done) >> PAGE_SHIFT;
    const uint32_t off = static_cast<uint32_t>((pos + done) & ~PAGE_MASK);
    const uint32_t len = static_cast<uint32_t>(min<uint64_t>(PAGE_SIZE - off, count - done));
    page* p = write_begin(h, ino, index, off, len, &err);
    if (!p) break;
    err = copy_page_user(h, mm, p, off, len, buf + done, false);
    if (!err) {
      folio_mark_dirty(h, p);
      folio_mark_accessed(h, p);
    }
    ctx_->page_alloc->put_page(h, p);
    if (err) break;
    done += len;
    if (pos + done > ino->i_size) {
      ino->i_size = pos + done;
      ctx_->writeback->mark_inode_dirty(h, ino, I_DIRTY_DATASYNC);
    }
  }
  if (!done) return err;
  ino->i_mtime_ns = h.now_ns();
  ctx_->writeback->mark_inode_dirty(h, ino, I_DIRTY_SYNC);
  stats_.bytes_written += done;
  ctx_->writeback->balance_dirty_pages(h);
  return static_cast<int64_t>(done);
}

// ---------------------------------------------------------------- faults

page* Filemap::filemap_fault(hal::Hal& h, address_space* mapping, file_ra_state* ra, uint64_t index, bool* major,
                             int* err) {
  inode* ino = mapping->host;
  ++stats_.faults;
  ++stats_.lookups;
  *major = false;
  if (index >= PFN_UP(ino->i_size)) {
    *err = -EFAULT;  // beyond the end of the file: SIGBUS
    return nullptr;
  }
  page* p = find_get_page(h, mapping, index);
  if (!p) {
    // do_sync_mmap_readahead, then the page itself if readahead is off.
    *major = true;
    ctx_->vmstat->count(PGMAJFAULT);
    ++stats_.major_faults;
    if (ra) ctx_->readahead->page_cache_read_around(h, mapping, ra, index);
    bool created;
    p = filemap_get_folio(h, mapping, index, true, &created);
    if (!p) {
      *err = -ENOMEM;
      return nullptr;
    }
    if (created) read_pages(h, mapping, &p, 1, false);
  } else {
    if (ra && PageFlag(p, PG_readahead)) ctx_->readahead->page_cache_async_ra(h, mapping, ra, p, index, 1);
    if (PageFlag(p, PG_uptodate)) ++stats_.hits;
  }
  if ((*err = wait_on_page_read(h, p))) {
    ctx_->page_alloc->put_page(h, p);
    return nullptr;
  }
  folio_mark_accessed(h, p);
  return p;
}

// ---------------------------------------------------------------- page state

bool Filemap::folio_mark_dirty(hal::Hal& h, page* p) {
  if (PageFlag(p, PG_dirty)) return false;
  inode* ino = page_host(p);
  if (!ino) return false;  // truncated meanwhile
  SetPageFlag(p, PG_dirty);
  const int nid = page_to_nid(p);
  ctx_->vmstat->mod(nid, NR_FILE_DIRTY, 1);
  ctx_->vmstat->mod(nid, NR_DIRTIED, 1);
  ++ctx_->nodes->page_zone(p)->vm_stat[NR_ZONE_WRITE_PENDING];
  ++ino->nr_dirty;
  ctx_->writeback->mark_inode_dirty(h, ino, I_DIRTY_PAGES);
  return true;
}

void Filemap::folio_mark_accessed(hal::Hal& h, page* p) { ctx_->lru->mark_accessed(h, p); }

// ---------------------------------------------------------------- dropping pages

uint64_t Filemap::invalidate_mapping_pages(hal::Hal& h, address_space* mapping, uint64_t start, uint64_t end) {
  constexpr uint64_t kBusy = (1ull << PG_dirty) | (1ull << PG_writeback) | (1ull << PG_locked);
  uint64_t dropped = 0, index;
  while (page* p = ctx_->shmem->find_next(h, mapping, start, end, &index)) {
    start = index + 1;
    // Only the cache holds it: not mapped, not in use elsewhere.
    if ((p->flags & kBusy) || page_mapped(p) || page_ref_count(p) != 1) continue;
    get_page(p);
    delete_from_page_cache(h, p);
    ctx_->page_alloc->put_page(h, p);
    ++dropped;
  }
  return dropped;
}

void Filemap::unmap_mapping_pages(hal::Hal& h, address_space* mapping, uint64_t start, uint64_t end) {
  // The VMAs are taken one at a time off i_mmap's order; zapping takes the
  // mm's page-table lock, not the mapping's.
  for (list_head* l = mapping->i_mmap.next; l != &mapping->i_mmap; l = l->next) {
    vm_area_struct* vma = list_entry(l, vm_area_struct, shared_link);
    const uint64_t first = vma->vm_pgoff, last = first + ((vma->vm_end - vma->vm_start) >> PAGE_SHIFT);
    const uint64_t s = max(start, first), e = min(end, last);
    if (s >= e) continue;
    ctx_->memory->zap_page_range(h, vma->vm_mm, vma, vma->vm_start + ((s - first) << PAGE_SHIFT),
                                 vma->vm_start + ((e - first) << PAGE_SHIFT));
  }
}

void Filemap::truncate_pagecache(hal::Hal& h, inode* ino, uint64_t newsize) {
  address_space* mapping = ino->i_mapping;
  const uint64_t start = PFN_UP(newsize);
  if (!list_empty(&mapping->i_mmap)) unmap_mapping_pages(h, mapping, start, ~0ull);
  ctx_->shmem->clear_shadows(h, mapping, start, ~0ull);  // evicted pages beyond the end are gone for good
  uint64_t index, from = start;
  while (page* p = ctx_->shmem->find_next(h, mapping, from, ~0ull, &index)) {
    from = index + 1;
    get_page(p);
    while (PageFlag(p, PG_writeback) || PageFlag(p, PG_locked)) h.cpu_relax();
    delete_from_page_cache(h, p);
    ctx_->page_alloc->put_page(h, p);
    ++stats_.truncated;
  }
  // The page holding the new end keeps its head; its tail reads as zeros
  // from now on, on disk too.
  const uint32_t off = static_cast<uint32_t>(newsize & ~PAGE_MASK);
  if (!off) return;
  if (page* p = find_get_page(h, mapping, newsize >> PAGE_SHIFT)) {
    if (!wait_on_page_read(h, p)) {
      h.phys_fill(PFN_PHYS(pfn_of(p)) + off, 0, PAGE_SIZE - off);
      folio_mark_dirty(h, p);
    }
    ctx_->page_alloc->put_page(h, p);
  }
}

uint64_t Filemap::drop_pagecache(hal::Hal& h) {
  uint64_t n = 0;
  for_each_inode([&](inode* ino) { n += invalidate_mapping_pages(h, ino->i_mapping, 0, ~0ull); });
  stats_.dropped += n;
  ctx_->vmstat->count(DROP_PAGECACHE);
  return n;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<FilemapStats> filemap_stat_table[] = {
    {"lookups", &FilemapStats::lookups, "page-cache lookups of reads, writes and faults", "count"},
    {"hits", &FilemapStats::hits, "lookups that found the page uptodate", "count"},
    {"pages_added", &FilemapStats::pages_added, "pages added to the page cache", "pages"},
    {"pages_removed", &FilemapStats::pages_removed, "pages taken out of the page cache", "pages"},
    {"read_ios", &FilemapStats::read_ios, "read bios submitted by the page cache", "count"},
    {"read_pages", &FilemapStats::read_pages, "pages read from block devices", "pages"},
    {"read_errors", &FilemapStats::read_errors, "pages whose read failed (EIO)", "pages"},
    {"read_waits", &FilemapStats::read_waits, "waits for a page under read I/O", "count"},
    {"bytes_read", &FilemapStats::bytes_read, "bytes copied out by read and pread64", "bytes"},
    {"bytes_written", &FilemapStats::bytes_written, "bytes copied in by write and pwrite64", "bytes"},
    {"faults", &FilemapStats::faults, "page faults on file mappings served by the page cache", "count"},
    {"major_faults", &FilemapStats::major_faults, "file faults that needed I/O", "count"},
    {"dropped", &FilemapStats::dropped, "pages dropped by drop_caches", "pages"},
    {"truncated", &FilemapStats::truncated, "pages dropped by truncation", "pages"},
    {"pte_dirty_harvested", &FilemapStats::pte_dirty_harvested,
     "dirty PTE bits found at writeback and unmap (pages dirtied through mappings)", "count"},
};
static_assert(stat_table_size(filemap_stat_table) == sizeof(FilemapStats) / sizeof(uint64_t),
              "one entry per counter");

}  // namespace

void Filemap::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, filemap_stat_table);
}

}  // namespace fw
