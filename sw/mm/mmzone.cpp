#include "sw/mm/mmzone.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/lib/string.h"
#include "sw/mm/memblock.h"

namespace fw {

const char* zone_name(unsigned idx) {
  static const char* const names[MAX_NR_ZONES] = {"DMA", "DMA32", "Normal", "Movable", "Device"};
  return idx < MAX_NR_ZONES ? names[idx] : "?";
}

const char* migratetype_name(unsigned mt) {
  static const char* const names[MIGRATE_TYPES] = {"Unmovable", "Movable", "Reclaimable",
                                                    "HighAtomic", "CMA", "Isolate"};
  return mt < MIGRATE_TYPES ? names[mt] : "?";
}

namespace {

// Usable pages of node nid in [lo_pfn, hi_pfn) (Linux's present pages).
uint64_t present_in(const Memblock& mb, int nid, uint64_t lo_pfn, uint64_t hi_pfn) {
  uint64_t n = 0;
  const MemblockType& m = mb.memory();
  for (unsigned i = 0; i < m.cnt; ++i) {
    if (m.regions[i].nid != nid) continue;
    const uint64_t s = max(PFN_UP(m.regions[i].base), lo_pfn);
    const uint64_t e = min(PFN_DOWN(m.regions[i].end()), hi_pfn);
    if (e > s) n += e - s;
  }
  return n;
}

uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi) { return v < lo ? lo : v > hi ? hi : v; }
uint64_t roundup_u64(uint64_t v, uint64_t a) { return div_round_up(v, a) * a; }

}  // namespace

// Linux's find_zone_movable_pfns_for_nodes (mm/mm_init.c): spreads the
// kernelcore (memory usable by any allocation) evenly over the nodes, from
// the bottom of each node's memory at or above the lowest pfn of the zone
// ZONE_MOVABLE borrows from; the rest of each node becomes ZONE_MOVABLE,
// its start rounded up to MAX_ORDER_NR_PAGES.
void MmNodes::find_zone_movable_pfns(const Memblock& mb, const Params& params, uint64_t* zone_movable_pfn) {
  for (unsigned n = 0; n < hal::kMaxNodes; ++n) zone_movable_pfn[n] = 0;
  uint64_t totalpages = 0;
  unsigned usable_nodes = 0;
  for (unsigned n = 0; n < nr_nodes_; ++n) {
    const uint64_t p = present_in(mb, static_cast<int>(n), 0, ~0ull);
    totalpages += p;
    if (p) ++usable_nodes;
  }
  uint64_t required_kernelcore = params.kernelcore >> PAGE_SHIFT;
  uint64_t required_movablecore = params.movablecore >> PAGE_SHIFT;
  if (params.kernelcore_percent) required_kernelcore = totalpages * 100 * params.kernelcore_percent / 10000;
  if (params.movablecore_percent) required_movablecore = totalpages * 100 * params.movablecore_percent / 10000;
  if (required_movablecore) {
    // ZONE_MOVABLE at least as large as asked.
    required_movablecore = min(roundup_u64(required_movablecore, MAX_ORDER_NR_PAGES), totalpages);
    required_kernelcore = max(required_kernelcore, totalpages - required_movablecore);
  }
  if (!required_kernelcore || required_kernelcore >= totalpages || !usable_nodes) return;

  // The zone ZONE_MOVABLE takes its pages from: the highest populated one
  // below it (find_usable_zone_for_movable).
  const uint64_t low[3] = {PFN_DOWN(mb.start_of_dram()), min(MAX_DMA_PFN, max_pfn_), min(MAX_DMA32_PFN, max_pfn_)};
  const uint64_t high[3] = {max(min(MAX_DMA_PFN, max_pfn_), low[0]), max(min(MAX_DMA32_PFN, max_pfn_), low[1]),
                            max(max_pfn_, low[2])};
  unsigned movable_zone = ZONE_NORMAL;
  while (movable_zone > ZONE_DMA && high[movable_zone] <= low[movable_zone]) --movable_zone;
  const uint64_t usable_startpfn = low[movable_zone];

  const MemblockType& m = mb.memory();
  for (;;) {
    // Spread kernelcore as evenly as possible over the nodes.
    uint64_t kernelcore_node = required_kernelcore / usable_nodes;
    for (unsigned nid = 0; nid < nr_nodes_; ++nid) {
      if (!present_in(mb, static_cast<int>(nid), 0, ~0ull)) continue;
      if (required_kernelcore < kernelcore_node) kernelcore_node = required_kernelcore / usable_nodes;
      uint64_t kernelcore_remaining = kernelcore_node;
      for (unsigned i = 0; i < m.cnt; ++i) {
        if (m.regions[i].nid != static_cast<int>(nid)) continue;
        uint64_t start_pfn = max(PFN_UP(m.regions[i].base), zone_movable_pfn[nid]);
        const uint64_t end_pfn = PFN_DOWN(m.regions[i].end());
        if (start_pfn >= end_pfn) continue;
        // Memory below the usable start serves the kernel only.
        if (start_pfn < usable_startpfn) {
          const uint64_t kernel_pages = min(end_pfn, usable_startpfn) - start_pfn;
          kernelcore_remaining -= min(kernel_pages, kernelcore_remaining);
          required_kernelcore -= min(kernel_pages, required_kernelcore);
          if (end_pfn <= usable_startpfn) {
            zone_movable_pfn[nid] = end_pfn;
            continue;
          }
          start_pfn = usable_startpfn;
        }
        uint64_t size_pages = end_pfn - start_pfn;
        if (size_pages > kernelcore_remaining) size_pages = kernelcore_remaining;
        zone_movable_pfn[nid] = start_pfn + size_pages;
        required_kernelcore -= min(required_kernelcore, size_pages);
        kernelcore_remaining -= size_pages;
        if (!kernelcore_remaining) break;
      }
    }
    // Kernelcore still owed: another pass with one node fewer.
    --usable_nodes;
    if (!(usable_nodes && required_kernelcore > usable_nodes)) break;
  }
  for (unsigned nid = 0; nid < nr_nodes_; ++nid) {
    zone_movable_pfn[nid] = roundup_u64(zone_movable_pfn[nid], MAX_ORDER_NR_PAGES);
    if (zone_movable_pfn[nid] >= nodes_[nid].node_end_pfn()) zone_movable_pfn[nid] = 0;
  }
  movable_zone_ = movable_zone;
  movable_zone_high_ = high[movable_zone];
}

void MmNodes::calculate_node_totalpages(const Memblock& mb, unsigned nid, const uint64_t* arch_low,
                                        const uint64_t* arch_high) {
  pglist_data& pg = nodes_[nid];
  const uint64_t node_start = pg.node_start_pfn, node_end = pg.node_end_pfn();
  const uint64_t zmp = zone_movable_pfn_[nid];
  for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
    zone& zn = pg.node_zones[z];
    zn.zone_pgdat = &pg;
    zn.name = zone_name(z);
    zn.node = static_cast<int>(nid);
    zn.idx = z;
    zn.compact_order_failed = static_cast<int>(NR_PAGE_ORDERS);
    for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
      for (unsigned t = 0; t < MIGRATE_TYPES; ++t) INIT_LIST_HEAD(&zn.free_area[o].free_list[t]);
    for (unsigned t = 0; t < MIGRATE_TYPES; ++t) INIT_LIST_HEAD(&zn.lazy_mark[t]);
    if (!pg.node_spanned_pages) continue;
    // zone_spanned_pages_in_node with adjust_zone_range_for_zone_movable.
    uint64_t zs = clamp_u64(node_start, arch_low[z], arch_high[z]);
    uint64_t ze = clamp_u64(node_end, arch_low[z], arch_high[z]);
    if (zmp) {
      if (z == ZONE_MOVABLE) {
        zs = zmp;
        ze = min(node_end, movable_zone_high_);
      } else if (zs < zmp && ze > zmp) {
        ze = zmp;
      } else if (zs >= zmp) {
        zs = ze;
      }
    }
    if (ze < node_start || zs > node_end) zs = ze = 0;
    ze = min(ze, node_end);
    zs = max(zs, node_start);
    if (ze <= zs) continue;
    zn.zone_start_pfn = zs;
    zn.spanned_pages = ze - zs;
    zn.present_pages = present_in(mb, static_cast<int>(nid), zs, ze);
    if (zn.present_pages) pg.nr_zones = z + 1;
  }
}

bool MmNodes::alloc_node_mem_map(hal::Hal& h, Memblock& mb, unsigned nid, Log& log) {
  pglist_data& pg = nodes_[nid];
  // Node-local when the node has room.
  const uint64_t bytes = align_up(pg.node_spanned_pages * sizeof(page), PAGE_SIZE);
  uint64_t pa = mb.alloc_range(bytes, PAGE_SIZE, 0, ~0ull, static_cast<int>(nid));
  if (!pa) pa = mb.alloc_range(bytes, PAGE_SIZE, 0, ~0ull, NUMA_NO_NODE);
  void* host = pa ? h.direct_map(pa, bytes) : nullptr;
  if (!host) {
    log.printk(h, LOGLEVEL_ERR, "mm: cannot allocate %lu bytes of directly mapped memmap for node %u",
               static_cast<unsigned long>(bytes), nid);
    return false;
  }
  pg.node_mem_map = static_cast<page*>(host);
  pg.node_mem_map_pa = pa;
  pg.node_mem_map_bytes = bytes;
  log.printk(h, LOGLEVEL_INFO, "Node %u: memmap %#lx-%#lx for pfns %#lx-%#lx", nid, static_cast<unsigned long>(pa),
             static_cast<unsigned long>(pa + bytes - 1), static_cast<unsigned long>(pg.node_start_pfn),
             static_cast<unsigned long>(pg.node_end_pfn()));
  return true;
}

bool MmNodes::setup_usemap(hal::Hal& h, Memblock& mb, unsigned nid, Log& log) {
  pglist_data& pg = nodes_[nid];
  for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
    zone& zn = pg.node_zones[z];
    if (!zn.spanned_pages) continue;
    zn.nr_pageblocks = ((zn.zone_end_pfn() - 1) >> pageblock_order) - (zn.zone_start_pfn >> pageblock_order) + 1;
    // Whole pages, so every reservation is a whole number of pages.
    const uint64_t fb = align_up(zn.nr_pageblocks, PAGE_SIZE);
    uint64_t fpa = mb.alloc_range(fb, PAGE_SIZE, 0, ~0ull, static_cast<int>(nid));
    if (!fpa) fpa = mb.alloc_range(fb, PAGE_SIZE, 0, ~0ull, NUMA_NO_NODE);
    void* fh = fpa ? h.direct_map(fpa, fb) : nullptr;
    if (!fh) {
      log.printk(h, LOGLEVEL_ERR, "mm: cannot allocate the pageblock flags of node %u zone %s", nid, zn.name);
      return false;
    }
    zn.pageblock_flags = static_cast<uint8_t*>(fh);
    mem_set(fh, MIGRATE_MOVABLE, zn.nr_pageblocks);
  }
  return true;
}

bool MmNodes::init(hal::Hal& h, const hal::BootInfo& bi, Memblock& mb, const Params& params, Log& log) {
  nr_nodes_ = bi.nr_nodes;
  nr_cpus_ = bi.nr_cpus;
  for (unsigned c = 0; c < hal::kMaxCpus; ++c) cpu_node_[c] = c < bi.nr_cpus && bi.cpu_node[c] < nr_nodes_ ? bi.cpu_node[c] : 0;
  max_pfn_ = PFN_DOWN(mb.end_of_dram());

  // Node spans: from the first to the last page of RAM memblock gives each
  // node (Linux's get_pfn_range_for_nid).
  const MemblockType& m = mb.memory();
  for (unsigned nid = 0; nid < nr_nodes_; ++nid) {
    pglist_data& pg = nodes_[nid];
    pg.node_id = static_cast<int>(nid);
    uint64_t start = ~0ull, end = 0;
    for (unsigned i = 0; i < m.cnt; ++i) {
      if (m.regions[i].nid != static_cast<int>(nid)) continue;
      start = min(start, PFN_UP(m.regions[i].base));
      end = max(end, PFN_DOWN(m.regions[i].end()));
    }
    if (end <= start) start = end = 0;  // a memoryless node
    pg.node_start_pfn = start;
    pg.node_spanned_pages = end - start;
    pg.node_present_pages = present_in(mb, static_cast<int>(nid), start, end);
    for (unsigned l = 0; l < NR_LRU_LISTS; ++l) INIT_LIST_HEAD(&pg.lru[l]);
  }
  for (unsigned c = 0; c < nr_cpus_; ++c) ++nodes_[cpu_node_[c]].nr_cpus;

  find_zone_movable_pfns(mb, params, zone_movable_pfn_);

  // The pfn window each zone type may cover (Linux's
  // arch_zone_{lowest,highest}_possible_pfn with x86-64's max_zone_pfns).
  uint64_t arch_low[MAX_NR_ZONES] = {}, arch_high[MAX_NR_ZONES] = {};
  const uint64_t max_zone_pfn[3] = {min(MAX_DMA_PFN, max_pfn_), min(MAX_DMA32_PFN, max_pfn_), max_pfn_};
  uint64_t s = PFN_DOWN(mb.start_of_dram());
  for (unsigned z = 0; z < ZONE_MOVABLE; ++z) {
    const uint64_t e = max(max_zone_pfn[z], s);
    arch_low[z] = s;
    arch_high[z] = e;
    s = e;
  }

  // Each node: its zones, its memmap, the pageblock flags of its zones
  // (Linux free_area_init_node).
  for (unsigned nid = 0; nid < nr_nodes_; ++nid) {
    calculate_node_totalpages(mb, nid, arch_low, arch_high);
    if (!nodes_[nid].node_spanned_pages) continue;
    if (!alloc_node_mem_map(h, mb, nid, log) || !setup_usemap(h, mb, nid, log)) return false;
  }
  for (unsigned nid = 0; nid < nr_nodes_; ++nid) {
    if (zone_movable_pfn_[nid])
      log.printk(h, LOGLEVEL_INFO, "Movable zone start for Node %u: PFN %#lx", nid,
                 static_cast<unsigned long>(zone_movable_pfn_[nid]));
  }
  // kcompactd starts looking at every zone (Linux sets it when the thread starts).
  for (unsigned nid = 0; nid < nr_nodes_; ++nid)
    nodes_[nid].kcompactd_highest_zoneidx = nodes_[nid].nr_zones ? nodes_[nid].nr_zones - 1 : 0;
  build_zonelists(bi);
  return true;
}

void MmNodes::init_one_page(page* p, unsigned zid, int nid) {
  mem_set(p, 0, sizeof *p);
  set_page_links(p, zid, nid);
  page_mapcount_reset(p);
}

void MmNodes::init_reserved_page(page* p, unsigned zid, int nid) {
  init_one_page(p, zid, nid);
  SetPageReserved(p);
  set_page_count(p, 1);
}

void MmNodes::defer_blocks(const Memblock& mb) {
  // Every whole max-order block of a zone first counts as reserved ...
  for (unsigned nid = 0; nid < nr_nodes_; ++nid)
    for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
      zone& z = nodes_[nid].node_zones[zi];
      if (!z.spanned_pages) continue;
      for (uint64_t b = align_up(z.zone_start_pfn, MAX_ORDER_NR_PAGES); b + MAX_ORDER_NR_PAGES <= z.zone_end_pfn();
           b += MAX_ORDER_NR_PAGES)
        z.set_block_flags(b, PB_reserved_deferred, true);
    }
  // ... unless memblock frees pages of it: a block it frees whole can wait,
  // head and tails (a free block of max order); one it frees in part is
  // written now, by the loop of memmap_init.
  mb.for_each_free_range([&](uint64_t s, uint64_t e, int) {
    const uint64_t spfn = PFN_UP(s), epfn = PFN_DOWN(e);
    if (spfn >= epfn) return true;
    for (uint64_t b = spfn & ~(MAX_ORDER_NR_PAGES - 1); b < epfn; b += MAX_ORDER_NR_PAGES) {
      zone* z = pfn_zone(b);
      if (!z || !z->spans(b + MAX_ORDER_NR_PAGES - 1)) continue;
      z->set_block_flags(b, PB_reserved_deferred, false);
      if (b < spfn || b + MAX_ORDER_NR_PAGES > epfn) continue;
      z->set_block_flags(b, PB_memmap_deferred | PB_head_unwritten, true);
      ++deferred_blocks_;
      // The head counts as initialized: its content is fixed now (a free
      // block of max order) and written when first used.
      ++pages_initialized_;
    }
    return true;
  });
}

void MmNodes::memmap_init(hal::Hal& h, const Memblock& mb, bool defer) {
  (void)h;
  if (defer) defer_blocks(mb);
  // Everything else starts reserved, with its zone and node links; the
  // page allocator clears the reservation of the pages memblock frees
  // (Linux memmap_init + memblock_free_all).
  for (unsigned nid = 0; nid < nr_nodes_; ++nid) {
    pglist_data& pg = nodes_[nid];
    for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
      zone& z = pg.node_zones[zi];
      if (!z.spanned_pages) continue;
      uint64_t pfn = z.zone_start_pfn;
      const uint64_t end = z.zone_end_pfn();
      while (pfn < end) {
        if (z.pfnblock_deferred(pfn)) {
          pfn = min(end, align_up(pfn + 1, MAX_ORDER_NR_PAGES));
          continue;
        }
        if (z.pfnblock_reserved_deferred(pfn)) {
          // A whole block (so pfn is its first page) of reserved pages:
          // counted as initialized, their content being fixed now; written
          // when first looked at.
          pages_initialized_ += MAX_ORDER_NR_PAGES;
          pfn += MAX_ORDER_NR_PAGES;
          continue;
        }
        init_reserved_page(pg.node_mem_map + (pfn - pg.node_start_pfn), zi, static_cast<int>(nid));
        ++pages_initialized_;
        ++pfn;
      }
    }
  }
}

void MmNodes::init_reserved_block(zone* z, uint64_t block_pfn) {
  block_pfn &= ~(MAX_ORDER_NR_PAGES - 1);
  if (!z->pfnblock_reserved_deferred(block_pfn)) return;
  pglist_data& pg = *z->zone_pgdat;
  page* p = pg.node_mem_map + (block_pfn - pg.node_start_pfn);
  for (uint64_t i = 0; i < MAX_ORDER_NR_PAGES; ++i) init_reserved_page(p + i, z->idx, z->node);
  z->set_block_flags(block_pfn, PB_reserved_deferred, false);
}

page* MmNodes::memmap_write_head(zone* z, uint64_t block_pfn) {
  block_pfn &= ~(MAX_ORDER_NR_PAGES - 1);
  pglist_data& pg = *z->zone_pgdat;
  page* p = pg.node_mem_map + (block_pfn - pg.node_start_pfn);
  if (!(*z->pageblock_byte(block_pfn) & PB_head_unwritten)) return p;
  // What memmap_init and the boot-time free would have left: no
  // reservation, no references, a free block of max order.
  init_one_page(p, z->idx, z->node);
  set_buddy_order(p, MAX_PAGE_ORDER);
  z->set_block_flags(block_pfn, PB_head_unwritten, false);
  return p;
}

void MmNodes::init_deferred_block(zone* z, uint64_t block_pfn) {
  block_pfn &= ~(MAX_ORDER_NR_PAGES - 1);
  if (!z->pfnblock_deferred(block_pfn)) return;
  memmap_write_head(z, block_pfn);
  pglist_data& pg = *z->zone_pgdat;
  // The tails of a free block: no reservation, no references.
  for (uint64_t pfn = block_pfn + 1; pfn < block_pfn + MAX_ORDER_NR_PAGES; ++pfn) {
    page* p = pg.node_mem_map + (pfn - pg.node_start_pfn);
    init_one_page(p, z->idx, z->node);
  }
  z->set_block_flags(block_pfn, PB_memmap_deferred, false);
  --deferred_blocks_;
  pages_initialized_ += MAX_ORDER_NR_PAGES - 1;
}

zone* MmNodes::pfn_zone(uint64_t pfn) {
  for (unsigned n = 0; n < nr_nodes_; ++n) {
    pglist_data& pg = nodes_[n];
    if (pfn - pg.node_start_pfn >= pg.node_spanned_pages) continue;
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z)
      if (pg.node_zones[z].spans(pfn)) return &pg.node_zones[z];
    return nullptr;
  }
  return nullptr;
}

page* MmNodes::pfn_to_page_init(uint64_t pfn) {
  zone* z = pfn_zone(pfn);
  if (!z) return pfn_to_page(pfn);
  if (z->pfnblock_deferred(pfn)) init_deferred_block(z, pfn);
  else if (z->pfnblock_reserved_deferred(pfn)) init_reserved_block(z, pfn);
  return pfn_to_page(pfn);
}

void MmNodes::build_kaddr_map(hal::Hal& h, const Memblock& mb) {
  nr_kaddr_ = 0;
  const MemblockType& m = mb.memory();
  for (unsigned i = 0; i < m.cnt && nr_kaddr_ < kMaxKaddrRanges; ++i) {
    // Whole regions when the memory grants them; else in 2 MiB pieces,
    // merged where the host pointers happen to be contiguous.
    uint64_t base = m.regions[i].base;
    const uint64_t end = m.regions[i].end();
    if (uint8_t* p = static_cast<uint8_t*>(h.direct_map(base, end - base))) {
      kaddr_[nr_kaddr_++] = KaddrRange{p, base, end - base};
      continue;
    }
    while (base < end && nr_kaddr_ < kMaxKaddrRanges) {
      const uint64_t n = min(end - base, align_up(base + 1, 2ull << 20) - base);
      uint8_t* p = static_cast<uint8_t*>(h.direct_map(base, n));
      if (p) {
        KaddrRange* last = nr_kaddr_ ? &kaddr_[nr_kaddr_ - 1] : nullptr;
        if (last && last->pa + last->len == base && last->host + last->len == p) last->len += n;
        else kaddr_[nr_kaddr_++] = KaddrRange{p, base, n};
      }
      base += n;
    }
  }
}

void MmNodes::build_zonelists(const hal::BootInfo& bi) {
  for (unsigned nid = 0; nid < nr_nodes_; ++nid) {
    // Nodes by distance from nid (a missing SLIT means 10 local, 20
    // remote); at equal distance nodes after nid come before nodes below it
    // (Linux's find_next_best_node penalty), then by id.
    unsigned order[hal::kMaxNodes];
    unsigned key[hal::kMaxNodes];
    for (unsigned n = 0; n < nr_nodes_; ++n) {
      order[n] = n;
      const unsigned d = bi.node_distance[nid][n] ? bi.node_distance[nid][n] : (n == nid ? 10 : 20);
      key[n] = n == nid ? 0 : (d * 2 + (n < nid ? 1 : 0)) * 16 + n;
    }
    for (unsigned i = 1; i < nr_nodes_; ++i)  // insertion sort: stable, tiny
      for (unsigned j = i; j > 0 && key[order[j]] < key[order[j - 1]]; --j) {
        const unsigned t = order[j];
        order[j] = order[j - 1];
        order[j - 1] = t;
      }
    unsigned k = 0;
    for (unsigned i = 0; i < nr_nodes_; ++i) {
      pglist_data& pg = nodes_[order[i]];
      for (unsigned z = MAX_NR_ZONES; z-- > 0;)
        if (pg.node_zones[z].present_pages) nodes_[nid].zonelist[k++] = &pg.node_zones[z];
    }
    nodes_[nid].zonelist[k] = nullptr;
    k = 0;
    for (unsigned z = MAX_NR_ZONES; z-- > 0;)
      if (nodes_[nid].node_zones[z].present_pages) nodes_[nid].zonelist_nofallback[k++] = &nodes_[nid].node_zones[z];
    nodes_[nid].zonelist_nofallback[k] = nullptr;
  }
}

uint64_t MmNodes::memmap_bytes() const {
  uint64_t b = 0;
  for (unsigned n = 0; n < nr_nodes_; ++n) b += nodes_[n].node_mem_map_bytes;
  return b;
}

uint64_t MmNodes::total_managed_pages() const {
  uint64_t s = 0;
  for (unsigned n = 0; n < nr_nodes_; ++n)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) s += nodes_[n].node_zones[z].managed_pages;
  return s;
}

uint64_t MmNodes::total_present_pages() const {
  uint64_t s = 0;
  for (unsigned n = 0; n < nr_nodes_; ++n) s += nodes_[n].node_present_pages;
  return s;
}

uint64_t MmNodes::total_free_pages() const {
  uint64_t s = 0;
  for (unsigned n = 0; n < nr_nodes_; ++n)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) s += nodes_[n].node_zones[z].free_pages();
  return s;
}


// ---------------------------------------------------------------- statistics

void MmNodes::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e("memmap_bytes", memmap_bytes(), "struct page array (memmap) in simulated DRAM", "bytes");
  e("memmap_pages_initialized", memmap_pages_initialized(), "struct pages written so far (deferred init)", "count");
  e("memmap_deferred_blocks", memmap_deferred_blocks(), "max-order blocks whose tail struct pages are not initialized yet", "count");
  e("present_pages", total_present_pages(), "usable RAM pages in all zones", "pages");
  e("managed_pages", total_managed_pages(), "pages given to the buddy allocator", "pages");
}

}  // namespace fw
