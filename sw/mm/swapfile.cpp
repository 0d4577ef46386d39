#include "sw/mm/swapfile.h"

#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/lib/seq_file.h"
#include "sw/lib/string.h"
#include "sw/mm/filemap.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/slub.h"
#include "sw/mm/swap_state.h"

namespace fw {

namespace {

constexpr uint64_t kSectorsPerPage = PAGE_SIZE >> SECTOR_SHIFT;

unsigned long kb(uint64_t pages) { return static_cast<unsigned long>(pages << (PAGE_SHIFT - 10)); }

}  // namespace

// ---------------------------------------------------------------- swapon

void Swapfile::swapon_boot(hal::Hal& h) {
  const Params& p = *ctx_->params;
  for (unsigned i = 0; i < p.nr_swapon && i < sizeof p.swapon_devices; ++i) {
    const unsigned idx = p.swapon_devices[i];
    if (idx >= ctx_->boot->nr_devices) {
      ctx_->log->printk(h, LOGLEVEL_ERR, "swapon: no device %u", idx);
      continue;
    }
    char name[hal::kDeviceNameLen + 1] = {};
    str_copy(name, ctx_->boot->devices[idx].name, sizeof name);
    block_device* bdev = ctx_->blockdevs->lookup(name);
    if (!bdev) {
      ctx_->log->printk(h, LOGLEVEL_ERR, "swapon: %s: no such block device", name);
      continue;
    }
    const int r = swapon(h, bdev);
    if (r) ctx_->log->printk(h, LOGLEVEL_ERR, "swapon: /dev/%s: failed (%d)", name, r);
  }
}

uint64_t Swapfile::read_swap_header(hal::Hal& h, const char* name, const uint8_t* hdr, uint64_t dev_pages) {
  if (mem_cmp(hdr + SWAP_MAGIC_OFFSET, SWAP_MAGIC, SWAP_MAGIC_LEN) != 0) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "Unable to find swap-space signature");
    return 0;
  }
  swap_header_info info;
  mem_copy(&info, hdr + SWAP_INFO_OFFSET, sizeof info);
  if (info.version != 1) {
    ctx_->log->printk(h, LOGLEVEL_WARNING, "Unable to handle swap header version %d", static_cast<int>(info.version));
    return 0;
  }
  // The largest offset a swap PTE holds (Linux swapfile_maximum_size).
  const uint64_t limit = SWP_OFFSET_MASK + 1;
  uint64_t maxpages = limit;
  if (!info.last_page) {
    ctx_->log->printk(h, LOGLEVEL_WARNING, "Empty swap-file");
    return 0;
  }
  if (info.last_page > limit)
    ctx_->log->printk(h, LOGLEVEL_WARNING, "Truncating oversized swap area, only using %luk out of %luk",
                      kb(limit), kb(info.last_page));
  if (maxpages > info.last_page) maxpages = uint64_t{info.last_page} + 1;
  if (maxpages > dev_pages) {
    ctx_->log->printk(h, LOGLEVEL_WARNING, "Swap area shorter than signature indicates");
    return 0;
  }
  if (info.nr_badpages > MAX_SWAP_BADPAGES) return 0;
  (void)name;
  return maxpages;
}

int Swapfile::setup_swap_map(hal::Hal& h, swap_info_struct* si, const swap_header_info* info) {
  Slab& slab = *ctx_->slab;
  const uint64_t nchunks = (si->max + kMapChunk - 1) / kMapChunk;
  si->nr_clusters = (si->max + SWAPFILE_CLUSTER - 1) / SWAPFILE_CLUSTER;
  const uint64_t nclchunks = (si->nr_clusters + kClusterChunk - 1) / kClusterChunk;
  si->map = static_cast<uint8_t**>(slab.kzalloc(h, nchunks * sizeof(uint8_t*), GFP_KERNEL));
  si->clusters = static_cast<swap_cluster_info**>(slab.kzalloc(h, nclchunks * sizeof(void*), GFP_KERNEL));
  if (!si->map || !si->clusters) return -ENOMEM;
  for (uint64_t c = 0; c < nchunks; ++c)
    if (!(si->map[c] = static_cast<uint8_t*>(slab.kzalloc(h, kMapChunk, GFP_KERNEL)))) return -ENOMEM;
  for (uint64_t c = 0; c < nclchunks; ++c)
    if (!(si->clusters[c] = static_cast<swap_cluster_info*>(slab.kzalloc(h, PAGE_SIZE, GFP_KERNEL)))) return -ENOMEM;
  // The header and bad slots are never handed out; nor are the slots past
  // the end of the last cluster (Linux setup_swap_map, setup_clusters).
  auto take = [&](uint64_t off) {
    ++cluster_of(si, off)->count;
    if (off < si->max) *map_of(si, off) = SWAP_MAP_BAD;
  };
  take(0);
  for (uint32_t i = 0; i < info->nr_badpages; ++i) {
    const uint64_t nr = info->badpages[i];
    if (nr == 0 || nr > info->last_page) return -EINVAL;
    if (nr < si->max && *map_of(si, nr) != SWAP_MAP_BAD) {
      take(nr);
      --si->pages;
    }
  }
  for (uint64_t off = si->max; off < si->nr_clusters * SWAPFILE_CLUSTER; ++off) ++cluster_of(si, off)->count;
  if (!si->pages) {
    ctx_->log->printk(h, LOGLEVEL_WARNING, "Empty swap-file");
    return -EINVAL;
  }
  INIT_LIST_HEAD(&si->free_clusters);
  INIT_LIST_HEAD(&si->nonfull_clusters);
  for (uint64_t c = 0; c < si->nr_clusters; ++c) {
    swap_cluster_info* ci = cluster_of(si, c * SWAPFILE_CLUSTER);
    INIT_LIST_HEAD(&ci->list);
    ci->idx = static_cast<uint32_t>(c);
    if (!ci->count) {
      ci->flags = CLUSTER_FLAG_FREE;
      list_add_tail(&ci->list, &si->free_clusters);
      ++stats_.clusters_free;
    } else if (ci->count < SWAPFILE_CLUSTER) {
      ci->flags = CLUSTER_FLAG_NONFULL;
      list_add_tail(&ci->list, &si->nonfull_clusters);
    } else {
      ci->flags = CLUSTER_FLAG_FULL;
    }
  }
  return 0;
}

void Swapfile::free_area(hal::Hal& h, swap_info_struct* si) {
  Slab& slab = *ctx_->slab;
  if (si->map) {
    for (uint64_t c = 0; c < (si->max + kMapChunk - 1) / kMapChunk; ++c) slab.kfree(h, si->map[c]);
    slab.kfree(h, si->map);
  }
  if (si->clusters) {
    for (uint64_t c = 0; c < (si->nr_clusters + kClusterChunk - 1) / kClusterChunk; ++c) slab.kfree(h, si->clusters[c]);
    slab.kfree(h, si->clusters);
  }
  slab.kfree(h, si);
}

int Swapfile::swapon(hal::Hal& h, block_device* bdev) {
  for (unsigned t = 0; t < nr_swapfiles_; ++t)
    if (swap_info_[t]->bdev == bdev) return -EBUSY;
  if (nr_swapfiles_ == MAX_SWAPFILES) return -EPERM;
  // The header: the first page of the device, read through the block layer.
  page* hp = ctx_->page_alloc->alloc_pages(h, GFP_KERNEL, 0);
  if (!hp) return -ENOMEM;
  bio* b = ctx_->filemap->bio_alloc(h, bdev, req_op::read, REQ_SYNC, 0);
  int r = b ? 0 : -ENOMEM;
  if (b) {
    bio_add_page(b, hp, PAGE_SIZE, 0);
    r = ctx_->filemap->submit_wait(h, b);
    ctx_->filemap->bio_put(h, b);
  }
  static_assert(sizeof(swap_header_info) + SWAP_INFO_OFFSET <= SWAP_MAGIC_OFFSET, "the header's info fits");
  uint8_t hdr[PAGE_SIZE];
  if (!r && h.phys_read(ctx_->nodes->page_to_phys(hp), hdr, PAGE_SIZE) != hal::MemStatus::ok) r = -EIO;
  ctx_->page_alloc->put_page(h, hp);
  if (r) return r;
  char name[sizeof(swap_info_struct::name)];
  fw::snprintf(name, sizeof name, "/dev/%s", bdev->bd_disk_name);
  const uint64_t maxpages = read_swap_header(h, name, hdr, (bdev->bd_nr_sectors / kSectorsPerPage));
  if (!maxpages) return -EINVAL;
  swap_info_struct* si = static_cast<swap_info_struct*>(ctx_->slab->kzalloc(h, sizeof(swap_info_struct), GFP_KERNEL));
  if (!si) return -ENOMEM;
  si->type = nr_swapfiles_;
  si->bdev = bdev;
  str_copy(si->name, name, sizeof si->name);
  si->max = maxpages;
  si->pages = maxpages - 1;
  swap_header_info info;
  mem_copy(&info, hdr + SWAP_INFO_OFFSET, sizeof info);
  if ((r = setup_swap_map(h, si, &info))) {
    free_area(h, si);
    return r;
  }
  // Without a priority, each area gets one below the last (Linux
  // setup_swap_info): the first -2, the next -3, ...
  si->prio = --least_priority_;
  swap_info_[nr_swapfiles_++] = si;
  nr_swap_pages_ += si->pages;
  total_swap_pages_ += si->pages;
  ++stats_.areas;
  // A block device is one extent spanning its pages; virtio disks are
  // rotational and nothing is discarded, so no SS/D/s/c flags.
  ctx_->log->printk(h, LOGLEVEL_INFO, "Adding %luk swap on %s.  Priority:%d extents:%d across:%luk ", kb(si->pages),
                    si->name, si->prio, 1, kb(si->pages));
  return 0;
}

// ---------------------------------------------------------------- slots

swap_info_struct* Swapfile::swap_info(swp_entry_t e) const {
  if (!is_swap_entry(e)) return nullptr;
  const unsigned t = swp_type(e);
  if (t >= nr_swapfiles_) return nullptr;
  swap_info_struct* si = swap_info_[t];
  return swp_offset(e) < si->max ? si : nullptr;
}

unsigned Swapfile::swap_count(swp_entry_t e) const {
  const swap_info_struct* si = swap_info(e);
  if (!si) return 0;
  const uint8_t m = *map_of(si, swp_offset(e));
  return m == SWAP_MAP_BAD ? 0 : m & ~SWAP_HAS_CACHE;
}

uint64_t* Swapfile::cache_slot(swp_entry_t e) const {
  const swap_info_struct* si = swap_info(e);
  if (!si) return nullptr;
  swap_cluster_info* ci = cluster_of(si, swp_offset(e));
  return ci->table ? &ci->table[swp_offset(e) % SWAPFILE_CLUSTER] : nullptr;
}

bool Swapfile::cluster_take(hal::Hal& h, swap_info_struct* si, uint64_t offset) {
  swap_cluster_info* ci = cluster_of(si, offset);
  if (!ci->table) {
    // The cluster's swap-cache table, as 6.18 allocates it on first use;
    // reclaim calls this, so it may dip into the reserves.
    ci->table = static_cast<uint64_t*>(
        ctx_->slab->kzalloc(h, SWAPFILE_CLUSTER * sizeof(uint64_t), GFP_ATOMIC | __GFP_NOWARN));
    if (!ci->table) return false;
  }
  if (ci->flags == CLUSTER_FLAG_FREE) --stats_.clusters_free;
  if (ci->flags != CLUSTER_FLAG_FULL) list_del(&ci->list);
  if (++ci->count == SWAPFILE_CLUSTER) {
    ci->flags = CLUSTER_FLAG_FULL;
  } else {
    ci->flags = CLUSTER_FLAG_NONFULL;
    list_add_tail(&ci->list, &si->nonfull_clusters);
  }
  return true;
}

void Swapfile::cluster_release(hal::Hal& h, swap_info_struct* si, uint64_t offset) {
  swap_cluster_info* ci = cluster_of(si, offset);
  if (ci->flags != CLUSTER_FLAG_FULL) list_del(&ci->list);
  if (--ci->count) {
    ci->flags = CLUSTER_FLAG_NONFULL;
    list_add_tail(&ci->list, &si->nonfull_clusters);
    return;
  }
  ci->flags = CLUSTER_FLAG_FREE;
  list_add_tail(&ci->list, &si->free_clusters);
  ++stats_.clusters_free;
  ctx_->slab->kfree(h, ci->table);  // every slot is free: no page, no shadow left
  ci->table = nullptr;
}

uint64_t Swapfile::scan_cluster(hal::Hal& h, swap_info_struct* si, swap_cluster_info* ci, uint64_t offset) {
  (void)ci;
  const uint64_t end = min((offset / SWAPFILE_CLUSTER + 1) * SWAPFILE_CLUSTER, si->max);
  for (uint64_t off = offset; off < end; ++off) {
    uint8_t* m = map_of(si, off);
    if (*m) continue;
    if (!cluster_take(h, si, off)) return 0;
    *m = SWAP_HAS_CACHE;
    // The next allocation continues here while the cluster has room
    // (6.18's global_cluster->next for rotational devices).
    si->next = off + 1 < end && cluster_of(si, off)->flags != CLUSTER_FLAG_FULL ? off + 1 : 0;
    return off;
  }
  return 0;
}

uint64_t Swapfile::alloc_slot(hal::Hal& h, swap_info_struct* si) {
  if (si->next) {
    swap_cluster_info* ci = cluster_of(si, si->next);
    if (ci->flags != CLUSTER_FLAG_FULL)
      if (const uint64_t off = scan_cluster(h, si, ci, si->next)) return off;
  }
  // A partly used cluster, then a free one (Linux cluster_alloc_swap_entry).
  list_head* lists[] = {&si->nonfull_clusters, &si->free_clusters};
  for (list_head* l : lists) {
    if (list_empty(l)) continue;
    swap_cluster_info* ci = list_first_entry(l, swap_cluster_info, list);
    if (const uint64_t off = scan_cluster(h, si, ci, uint64_t{ci->idx} * SWAPFILE_CLUSTER)) return off;
  }
  return 0;
}

swp_entry_t Swapfile::get_swap_page(hal::Hal& h) {
  // Areas are in priority order (automatic priorities fall with each swapon).
  for (unsigned t = 0; t < nr_swapfiles_; ++t) {
    swap_info_struct* si = swap_info_[t];
    if (si->inuse_pages >= si->pages) continue;
    const uint64_t off = alloc_slot(h, si);
    if (!off) continue;
    ++si->inuse_pages;
    --nr_swap_pages_;
    ++stats_.slots_allocated;
    return swp_entry(t, off);
  }
  ++stats_.alloc_failed;
  return swp_entry_t{0};
}

void Swapfile::swap_entry_free(hal::Hal& h, swap_info_struct* si, uint64_t offset) {
  *map_of(si, offset) = 0;
  swap_cluster_info* ci = cluster_of(si, offset);
  if (ci->table) ci->table[offset % SWAPFILE_CLUSTER] = 0;  // a shadow dies with its slot
  cluster_release(h, si, offset);
  --si->inuse_pages;
  ++nr_swap_pages_;
  ++stats_.slots_freed;
}

uint8_t Swapfile::swap_entry_put(hal::Hal& h, swp_entry_t e, uint8_t usage) {
  swap_info_struct* si = swap_info(e);
  if (!si) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "swap_free: Bad swap file entry %#lx", static_cast<unsigned long>(e.val));
    return 0;
  }
  const uint64_t off = swp_offset(e);
  uint8_t* m = map_of(si, off);
  uint8_t has_cache = *m & SWAP_HAS_CACHE, count = *m & ~SWAP_HAS_CACHE;
  if (usage == SWAP_HAS_CACHE) {
    has_cache = 0;
  } else if (count == 0 || count == SWAP_MAP_BAD) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "swap_free: Unused swap offset entry %#lx", static_cast<unsigned long>(e.val));
    return *m;
  } else {
    --count;
  }
  *m = static_cast<uint8_t>(count | has_cache);
  if (!*m) swap_entry_free(h, si, off);
  return *m;
}

void Swapfile::swap_free(hal::Hal& h, swp_entry_t e) { swap_entry_put(h, e, 1); }

void Swapfile::put_swap_cache(hal::Hal& h, swp_entry_t e) { swap_entry_put(h, e, SWAP_HAS_CACHE); }

void Swapfile::free_swap_and_cache(hal::Hal& h, swp_entry_t e) {
  if (swap_entry_put(h, e, 1) != SWAP_HAS_CACHE) return;
  // Only the swap cache holds the slot now: drop its page unless someone
  // maps it and swap has room (Linux __try_to_reclaim_swap with
  // TTRS_UNMAPPED | TTRS_FULL).
  const uint64_t* slot = cache_slot(e);
  if (!slot || !*slot || (*slot & 1)) return;
  page* p = reinterpret_cast<page*>(*slot);
  if (page_mapped(p) && !vm_swap_full()) return;
  ctx_->swap_cache->folio_free_swap(h, p);
}

int Swapfile::swap_duplicate(hal::Hal&, swp_entry_t e) {
  swap_info_struct* si = swap_info(e);
  if (!si) return -ENOENT;
  uint8_t* m = map_of(si, swp_offset(e));
  const uint8_t count = *m & ~SWAP_HAS_CACHE;
  if (count == SWAP_MAP_BAD || (!count && !(*m & SWAP_HAS_CACHE))) return -ENOENT;
  if (count == SWAP_MAP_MAX) {
    ++stats_.dup_failed;
    return -ENOMEM;
  }
  ++*m;
  return 0;
}

int Swapfile::swapcache_prepare(swp_entry_t e) {
  swap_info_struct* si = swap_info(e);
  if (!si) return -ENOENT;
  uint8_t* m = map_of(si, swp_offset(e));
  const uint8_t count = *m & ~SWAP_HAS_CACHE;
  if (*m & SWAP_HAS_CACHE) return -EEXIST;
  if (!count || count == SWAP_MAP_BAD) return -ENOENT;
  *m |= SWAP_HAS_CACHE;
  return 0;
}

void Swapfile::trace(hal::Hal& h, const char* fmt, ...) const {
  if (!ctx_->params->trace_swap) return;
  va_list ap;
  va_start(ap, fmt);
  ctx_->log->vprintk(h, LOGLEVEL_INFO, fmt, ap);
  va_end(ap);
}

// ---------------------------------------------------------------- /proc/swaps

void Swapfile::swaps_show(seq_file* m) const {
  seq_puts(m, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
  for (unsigned t = 0; t < nr_swapfiles_; ++t) {
    const swap_info_struct* si = swap_info_[t];
    const unsigned long bytes = kb(si->pages), inuse = kb(si->inuse_pages);
    const int len = static_cast<int>(str_len(si->name));
    // Linux swap_show: the path padded to 40 columns, "partition" for a
    // block device, tabs doubled below 10000000 KiB.
    seq_printf(m, "%s%*s%s\t%lu\t%s%lu\t%s%d\n", si->name, len < 40 ? 40 - len : 1, " ", "partition", bytes,
               bytes < 10000000 ? "\t" : "", inuse, inuse < 10000000 ? "\t" : "", si->prio);
  }
}

void swaps_proc_show(seq_file* m, const MmContext& ctx) { ctx.swapfile->swaps_show(m); }

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<SwapStats> swap_stat_table[] = {
    {"areas", &SwapStats::areas, "swap areas in use (firmware.swapon)", "count"},
    {"slots_allocated", &SwapStats::slots_allocated, "swap slots handed to the swap cache", "count"},
    {"slots_freed", &SwapStats::slots_freed, "swap slots freed (last reference gone)", "count"},
    {"alloc_failed", &SwapStats::alloc_failed, "slot requests that found every area full", "count"},
    {"dup_failed", &SwapStats::dup_failed, "slot references refused at SWAP_MAP_MAX", "count"},
    {"clusters_free", &SwapStats::clusters_free, "swap clusters with no slot in use", "count"},
    {"swapin_faults", &SwapStats::swapin_faults, "page faults on swap entries", "count"},
    {"swapin_cache_hits", &SwapStats::swapin_cache_hits, "of those, pages found in the swap cache", "count"},
    {"swapin_reuse", &SwapStats::swapin_reuse, "swap-ins mapped writable at once (exclusive page, write fault)",
     "count"},
    {"swapin_errors", &SwapStats::swapin_errors, "swap-ins whose read failed (SIGBUS)", "count"},
    {"cache_adds", &SwapStats::cache_adds, "pages added to the swap cache", "count"},
    {"cache_deletes", &SwapStats::cache_deletes, "pages taken out of the swap cache", "count"},
    {"cache_freed", &SwapStats::cache_freed, "swap-cache pages dropped with their slot (folio_free_swap)", "count"},
    {"shadows_stored", &SwapStats::shadows_stored, "workingset shadows left in swap slots", "count"},
    {"shadows_refaulted", &SwapStats::shadows_refaulted, "swap-ins of a slot that held a shadow", "count"},
    {"write_ios", &SwapStats::write_ios, "pages written to swap", "count"},
    {"write_errors", &SwapStats::write_errors, "swap writes that failed (the page stays dirty)", "count"},
    {"read_ios", &SwapStats::read_ios, "pages read from swap (faults and readahead)", "count"},
    {"read_errors", &SwapStats::read_errors, "swap reads that failed", "count"},
    {"ra_windows", &SwapStats::ra_windows, "swap readahead windows of more than one page", "count"},
    {"ra_pages", &SwapStats::ra_pages, "pages read ahead of a swap fault (SWAP_RA)", "count"},
};
static_assert(stat_table_size(swap_stat_table) == sizeof(SwapStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Swapfile::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, swap_stat_table);
  e("total_pages", total_swap_pages_, "swap slots of every area (SwapTotal)", "count");
  e("free_pages", nr_swap_pages_, "swap slots free (SwapFree)", "count");
}

}  // namespace fw
