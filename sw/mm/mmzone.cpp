#include "sw/mm/mmzone.h"

#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/lib/string.h"
#include "sw/mm/memblock.h"

namespace fw {

const char* zone_name(unsigned idx) {
  static const char* const names[MAX_NR_ZONES] = {"DMA", "DMA32", "Normal", "Movable"};
  return idx < MAX_NR_ZONES ? names[idx] : "?";
}

namespace {

// The pfn range a zone type may cover on x86-64.
void zone_limits(unsigned z, uint64_t max_pfn, uint64_t* lo, uint64_t* hi) {
  switch (z) {
    case ZONE_DMA:
      *lo = 0;
      *hi = MAX_DMA_PFN;
      break;
    case ZONE_DMA32:
      *lo = MAX_DMA_PFN;
      *hi = MAX_DMA32_PFN;
      break;
    case ZONE_NORMAL:
      *lo = MAX_DMA32_PFN;
      *hi = max_pfn > MAX_DMA32_PFN ? max_pfn : MAX_DMA32_PFN;
      break;
    default:  // ZONE_MOVABLE: empty until kernelcore/movablecore (issue 3)
      *lo = *hi = 0;
      break;
  }
}

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

}  // namespace

bool MmNodes::init(hal::Hal& h, const hal::BootInfo& bi, Memblock& mb, Log& log) {
  nr_nodes_ = bi.nr_nodes;
  for (unsigned c = 0; c < hal::kMaxCpus; ++c) cpu_node_[c] = c < bi.nr_cpus && bi.cpu_node[c] < nr_nodes_ ? bi.cpu_node[c] : 0;
  max_pfn_ = PFN_DOWN(mb.end_of_dram());

  for (unsigned nid = 0; nid < nr_nodes_; ++nid) {
    pglist_data& pg = nodes_[nid];
    pg.node_id = static_cast<int>(nid);
    // The node spans its memory, from the first to the last page of RAM
    // memblock gives it (Linux's get_pfn_range_for_nid).
    uint64_t start = ~0ull, end = 0;
    const MemblockType& m = mb.memory();
    for (unsigned i = 0; i < m.cnt; ++i) {
      if (m.regions[i].nid != static_cast<int>(nid)) continue;
      start = min(start, PFN_UP(m.regions[i].base));
      end = max(end, PFN_DOWN(m.regions[i].end()));
    }
    if (end <= start) start = end = 0;  // a memoryless node
    pg.node_start_pfn = start;
    pg.node_spanned_pages = end - start;
    pg.node_present_pages = present_in(mb, static_cast<int>(nid), start, end);

    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
      zone& zn = pg.node_zones[z];
      zn.zone_pgdat = &pg;
      zn.name = zone_name(z);
      zn.node = static_cast<int>(nid);
      zn.idx = z;
      for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
        for (unsigned t = 0; t < MIGRATE_TYPES; ++t) INIT_LIST_HEAD(&zn.free_area[o].free_list[t]);
      uint64_t lo, hi;
      zone_limits(z, max_pfn_, &lo, &hi);
      lo = max(lo, start);
      hi = min(hi, end);
      if (hi > lo) {
        zn.zone_start_pfn = lo;
        zn.spanned_pages = hi - lo;
        zn.present_pages = present_in(mb, static_cast<int>(nid), lo, hi);
        if (zn.present_pages) pg.nr_zones = z + 1;
      }
    }

    if (!pg.node_spanned_pages) continue;
    // The memmap, node-local when the node has room (Linux alloc_node_mem_map).
    const uint64_t bytes = align_up(pg.node_spanned_pages * sizeof(page), PAGE_SIZE);
    uint64_t pa = mb.alloc_range(bytes, PAGE_SIZE, 0, ~0ull, static_cast<int>(nid));
    if (!pa) pa = mb.alloc_range(bytes, PAGE_SIZE, 0, ~0ull, NUMA_NO_NODE);
    if (!pa) {
      log.printk(h, LOGLEVEL_ERR, "mm: cannot allocate %lu bytes of memmap for node %u",
                 static_cast<unsigned long>(bytes), nid);
      return false;
    }
    void* host = h.direct_map(pa, bytes);
    if (!host) {
      log.printk(h, LOGLEVEL_ERR, "mm: memmap of node %u at %#lx is not directly mappable", nid,
                 static_cast<unsigned long>(pa));
      return false;
    }
    pg.node_mem_map = static_cast<page*>(host);
    pg.node_mem_map_pa = pa;
    pg.node_mem_map_bytes = bytes;

    // Every struct page starts reserved, with its zone and node links; the
    // buddy allocator clears the reservation of the pages memblock frees
    // (Linux memmap_init + memblock_free_all).
    for (uint64_t pfn = start; pfn < end; ++pfn) {
      const unsigned z = pfn < MAX_DMA_PFN ? ZONE_DMA : pfn < MAX_DMA32_PFN ? ZONE_DMA32 : ZONE_NORMAL;
      page* p = pg.node_mem_map + (pfn - start);
      mem_set(p, 0, sizeof *p);
      set_page_links(p, z, static_cast<int>(nid));
      SetPageReserved(p);
      page_mapcount_reset(p);
      set_page_count(p, 1);
    }
    log.printk(h, LOGLEVEL_INFO, "Node %u: memmap %#lx-%#lx for pfns %#lx-%#lx", nid,
               static_cast<unsigned long>(pa), static_cast<unsigned long>(pa + bytes - 1),
               static_cast<unsigned long>(start), static_cast<unsigned long>(end));
  }
  build_zonelists(bi);
  return true;
}

void MmNodes::build_zonelists(const hal::BootInfo& bi) {
  for (unsigned nid = 0; nid < nr_nodes_; ++nid) {
    // Nodes by distance from nid, ties by id (a missing SLIT means 10 local,
    // 20 remote).
    unsigned order[hal::kMaxNodes];
    unsigned dist[hal::kMaxNodes];
    for (unsigned n = 0; n < nr_nodes_; ++n) {
      order[n] = n;
      dist[n] = bi.node_distance[nid][n] ? bi.node_distance[nid][n] : (n == nid ? 10 : 20);
      if (n == nid) dist[n] = 0;  // the local node always first
    }
    for (unsigned i = 1; i < nr_nodes_; ++i)  // insertion sort: stable, tiny
      for (unsigned j = i; j > 0 && dist[order[j]] < dist[order[j - 1]]; --j) {
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

}  // namespace fw
