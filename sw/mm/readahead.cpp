#include "sw/mm/readahead.h"

#include "sw/hal/uapi.h"
#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/mm/filemap.h"
#include "sw/mm/page_alloc.h"

namespace fw {

namespace {

// Linux get_init_ra_size: the first window from the request.
uint64_t get_init_ra_size(uint64_t size, uint64_t max) {
  uint64_t newsize = 1;
  while (newsize < size) newsize <<= 1;  // roundup_pow_of_two
  if (newsize <= max / 32) return newsize * 4;
  if (newsize <= max / 4) return newsize * 2;
  return max;
}

// Linux get_next_ra_size: each window grows 4x while small, then 2x, up to max.
uint64_t get_next_ra_size(uint64_t cur, uint64_t max) {
  if (cur < max / 16) return 4 * cur;
  if (cur <= max / 2) return 2 * cur;
  return max;
}

constexpr unsigned kBatch = 32;  // pages gathered before their reads are submitted

}  // namespace

void Readahead::file_ra_state_init(file_ra_state* ra) const {
  *ra = file_ra_state{};
  ra->ra_pages = static_cast<uint32_t>(ctx_->params->read_ahead_kb * 1024 / PAGE_SIZE);
  ra->prev_pos = ~0ull;
}

void Readahead::advise(file_ra_state* ra, uint64_t advice) const {
  const uint32_t def = static_cast<uint32_t>(ctx_->params->read_ahead_kb * 1024 / PAGE_SIZE);
  if (advice == uapi::kFadvNormal) {
    ra->ra_pages = def;
    ra->random = false;
  } else if (advice == uapi::kFadvRandom) {
    ra->random = true;
  } else if (advice == uapi::kFadvSequential) {
    ra->ra_pages = 2 * def;
    ra->random = false;
  }
}

void Readahead::do_page_cache_ra(hal::Hal& h, address_space* mapping, uint64_t index, uint64_t nr,
                                 uint64_t lookahead) {
  const inode* ino = mapping->host;
  if (!ino->i_size) return;
  const uint64_t end_index = (ino->i_size - 1) >> PAGE_SHIFT;
  if (index > end_index) return;
  if (nr > end_index - index + 1) nr = end_index - index + 1;
  Filemap& fm = *ctx_->filemap;
  page* batch[kBatch];
  unsigned n = 0;
  auto flush = [&] {
    if (!n) return;
    fm.read_pages(h, mapping, batch, n, true);
    for (unsigned i = 0; i < n; ++i) ctx_->page_alloc->put_page(h, batch[i]);
    n = 0;
  };
  // page_cache_ra_unbounded: pages already cached split the batch.
  for (uint64_t i = 0; i < nr; ++i) {
    bool created;
    page* p = fm.filemap_get_folio(h, mapping, index + i, true, &created);
    if (!p) break;
    if (!created) {
      ctx_->page_alloc->put_page(h, p);
      flush();
      continue;
    }
    if (lookahead && i == nr - lookahead) SetPageFlag(p, PG_readahead);
    batch[n++] = p;
    ++stats_.pages;
    if (n == kBatch) flush();
  }
  flush();
}

void Readahead::ra_order(hal::Hal& h, address_space* mapping, file_ra_state* ra) {
  if (ra->size > stats_.window_max) stats_.window_max = ra->size;
  do_page_cache_ra(h, mapping, ra->start, ra->size, ra->async_size);
}

void Readahead::force_page_cache_ra(hal::Hal& h, address_space* mapping, uint64_t index, uint64_t nr) {
  constexpr uint64_t kChunk = (2ull << 20) / PAGE_SIZE;
  ++stats_.forced_ra;
  while (nr) {
    const uint64_t this_chunk = min(nr, kChunk);
    do_page_cache_ra(h, mapping, index, this_chunk, 0);
    index += this_chunk;
    nr -= this_chunk;
  }
}

void Readahead::page_cache_sync_ra(hal::Hal& h, address_space* mapping, file_ra_state* ra, uint64_t index,
                                   uint64_t req) {
  if (!ra->ra_pages || ra->random) {
    force_page_cache_ra(h, mapping, index, ra->ra_pages ? req : 1);
    return;
  }
  ++stats_.sync_ra;
  const uint64_t max_pages = ra->ra_pages;
  const uint64_t prev_index = ra->prev_pos >> PAGE_SHIFT;
  if (!index || req > max_pages || index - prev_index <= 1) {
    // The start of the file or a sequential read: a fresh window.
    ra->start = index;
    ra->size = static_cast<uint32_t>(get_init_ra_size(req, max_pages));
    ra->async_size = static_cast<uint32_t>(ra->size > req ? ra->size - req : ra->size >> 1);
  } else {
    // A random read: how much of what lies just before is cached tells
    // how sequential the access is (page_cache_prev_miss).
    uint64_t miss = index - 1;
    for (uint64_t scanned = 0; scanned < max_pages; ++scanned) {
      page* p = ctx_->shmem->find_page(h, mapping, miss);
      if (!p) break;
      if (miss == 0) {
        miss = ~0ull;
        break;
      }
      --miss;
    }
    uint64_t contig = index - miss - 1;
    if (contig <= req) {
      do_page_cache_ra(h, mapping, index, req, 0);
      return;
    }
    if (miss == ~0ull) contig *= 2;
    ra->start = index;
    ra->size = static_cast<uint32_t>(min(contig + req, max_pages));
    ra->async_size = 1;
  }
  ra->order = 0;
  ra_order(h, mapping, ra);
}

void Readahead::page_cache_async_ra(hal::Hal& h, address_space* mapping, file_ra_state* ra, page* p, uint64_t index,
                                    uint64_t req) {
  if (!ra->ra_pages || PageFlag(p, PG_writeback)) return;
  ClearPageFlag(p, PG_readahead);
  const uint64_t max_pages = ra->ra_pages;
  const uint64_t expected = ra->start + ra->size - ra->async_size;
  if (index == expected) {
    ra->start += ra->size;
    ra->size = static_cast<uint32_t>(max(static_cast<uint64_t>(ra->size), get_next_ra_size(ra->size, max_pages)));
  } else {
    // Interleaved or restarted streams: start after the cached run (page_cache_next_miss).
    uint64_t start = index + 1;
    while (start - index <= max_pages && ctx_->shmem->find_page(h, mapping, start)) ++start;
    if (start - index > max_pages) return;
    ra->start = start;
    ra->size = static_cast<uint32_t>(get_next_ra_size(ra->size + req, max_pages));
  }
  ++stats_.async_ra;
  // Linux aligns the window's end to the folio order it ramps up.
  ra->order += 2;
  const uint64_t align = 1ull << min<uint64_t>(ra->order, static_cast<uint64_t>(__builtin_ctzll(max_pages)));
  const uint64_t end = ra->start + ra->size;
  const uint64_t aligned_end = end & ~(align - 1);
  if (aligned_end > ra->start) ra->size -= static_cast<uint32_t>(end - aligned_end);
  ra->async_size = ra->size;
  ra_order(h, mapping, ra);
}

void Readahead::page_cache_read_around(hal::Hal& h, address_space* mapping, file_ra_state* ra, uint64_t index) {
  if (ra->random || !ra->ra_pages) return;
  if (ra->ra_pages > static_cast<uint32_t>(ctx_->params->read_ahead_kb * 1024 / PAGE_SIZE)) {
    page_cache_sync_ra(h, mapping, ra, index, ra->ra_pages);  // VM_SEQ_READ
    return;
  }
  ++stats_.read_around;
  ra->start = index > ra->ra_pages / 2 ? index - ra->ra_pages / 2 : 0;
  ra->size = ra->ra_pages;
  ra->async_size = ra->ra_pages / 4;
  ra->order = 0;
  ra_order(h, mapping, ra);
}

void Readahead::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e("sync_ra", stats_.sync_ra, "synchronous readahead windows started by a cache miss", "count");
  e("async_ra", stats_.async_ra, "asynchronous readahead windows started at a PG_readahead page", "count");
  e("forced_ra", stats_.forced_ra, "reads of exactly the request (RANDOM files, WILLNEED)", "count");
  e("read_around", stats_.read_around, "readahead windows around a faulting page of a mapped file", "count");
  e("pages", stats_.pages, "pages read by readahead", "pages");
  e("window_max", stats_.window_max, "largest readahead window", "pages");
}

}  // namespace fw
