// What Linux 6.18's formulas give for a memory map, computed here from the
// e820 map, the node ranges and the machine's parameters alone (not from the
// firmware's code or its memblock list): zones and their spans (x86-64 DMA
// < 16 MiB, DMA32 < 4 GiB, Normal, Movable from kernelcore/movablecore as
// mm_init.c places it, an empty Device zone), present pages, what the boot
// reserves (reservations()), managed pages, min_free_kbytes
// (calculate_min_free_kbytes, raised for THP by khugepaged's
// set_recommended_min_free_kbytes), the watermarks (__setup_per_zone_wmarks)
// and the lowmem reserves (setup_per_zone_lowmem_reserve). Also parsers for
// /proc/zoneinfo, /proc/meminfo and the firmware's boot log, so the same
// comparison runs on the host HAL and on build/mmcosim output.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "sw/hal/x86.h"

namespace linuxref {

constexpr uint64_t kDmaPfn = (16ull << 20) / x86::PAGE_SIZE;
constexpr uint64_t kDma32Pfn = (4ull << 30) / x86::PAGE_SIZE;
constexpr unsigned kZones = 5;  // DMA, DMA32, Normal, Movable, Device
constexpr unsigned kMovable = 3;
inline const char* zone_label(unsigned z) {
  static const char* n[] = {"DMA", "DMA32", "Normal", "Movable", "Device"};
  return n[z];
}
constexpr uint64_t kPageblockPages = 512;
constexpr uint64_t kMaxOrderPages = 1024;
constexpr uint64_t kStructPageBytes = 64;

struct Range {
  uint64_t start, end;  // [start, end) bytes or pfns
};

struct Input {
  std::vector<Range> usable;                      // e820 usable, bytes
  std::vector<Range> e820_other;                  // every other e820 range, bytes
  std::vector<std::pair<uint64_t, uint64_t>> nodes;  // [start, end) bytes
  Range image{0, 0};                              // the firmware image, bytes
  unsigned nr_cpus = 1;
  uint64_t kernelcore_pages = 0, movablecore_pages = 0;
  unsigned kernelcore_percent = 0, movablecore_percent = 0;
  uint64_t cma_bytes = 0;
  uint64_t min_free_kbytes = 0;                   // 0: the formula
  bool thp = true;                                // transparent_hugepage always or madvise
  uint64_t watermark_scale_factor = 10;
  uint64_t ratio[kZones] = {256, 256, 32, 0, 0};
  // Sizes of the firmware's own per-CPU structures (layout facts from its
  // headers): a per-CPU page list, the per-CPU slab pointers of one CPU.
  uint64_t pcp_bytes = 0, slab_percpu_bytes = 0;
  // swiotlb (x86 pci_swiotlb_detect, swiotlb_init_remap): the bounce pool's
  // 2 KiB slabs (0: no pool), its areas and the size of one area.
  uint64_t swiotlb_slabs = 0, swiotlb_areas = 0, swiotlb_area_bytes = 0;
};

struct Zone {
  uint64_t start_pfn = 0, spanned = 0, present = 0, managed = 0;
  uint64_t min = 0, low = 0, high = 0, promo = 0;
  int64_t protection[kZones] = {};
};

struct Result {
  std::vector<std::array<Zone, kZones>> nodes;
  std::vector<Range> reserved;  // bytes, merged: what memblock keeps from the allocator
  Range cma{0, 0};              // pfns
  uint64_t min_free_kbytes = 0;
  uint64_t min_free_kbytes_unraised = 0;  // calculate_min_free_kbytes alone
  uint64_t total_managed = 0;
  uint64_t memmap_bytes = 0;        // the firmware's (flat, per node)
  uint64_t memmap_bytes_linux = 0;  // Linux's sparse vmemmap: 2 MiB per present 128 MiB section
};

inline uint64_t isqrt(uint64_t x) {
  uint64_t r = 0;
  for (uint64_t b = 1ull << 62; b; b >>= 2) {
    if (x >= r + b) {
      x -= r + b;
      r = (r >> 1) + b;
    } else {
      r >>= 1;
    }
  }
  return r;
}

inline uint64_t mult_frac(uint64_t x, uint64_t n, uint64_t d) { return (x / d) * n + ((x % d) * n) / d; }
inline uint64_t page_up(uint64_t b) { return (b + x86::PAGE_SIZE - 1) & ~(x86::PAGE_SIZE - 1); }

// Memory in bytes by node, with memblock's top-down allocation: the
// highest aligned fit in the highest free gap, on a node or any.
class BootMemory {
 public:
  struct Region {
    uint64_t start, end;
    unsigned nid;
  };
  std::vector<Region> mem;       // sorted
  std::vector<Range> reserved;   // sorted, merged

  void reserve(uint64_t s, uint64_t e) {
    if (e <= s) return;
    reserved.push_back({s, e});
    std::sort(reserved.begin(), reserved.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
    std::vector<Range> m;
    for (const Range& r : reserved) {
      if (!m.empty() && r.start <= m.back().end) m.back().end = std::max(m.back().end, r.end);
      else m.push_back(r);
    }
    reserved = m;
  }
  void unreserve(uint64_t s, uint64_t e) {
    std::vector<Range> m;
    for (const Range& r : reserved) {
      if (r.end <= s || r.start >= e) {
        m.push_back(r);
        continue;
      }
      if (r.start < s) m.push_back({r.start, s});
      if (r.end > e) m.push_back({e, r.end});
    }
    reserved = m;
  }
  // 0 when nothing fits (nid < 0: any node).
  uint64_t alloc(uint64_t size, uint64_t align, uint64_t max_addr, int nid) {
    for (size_t i = mem.size(); i-- > 0;) {
      if (nid >= 0 && mem[i].nid != static_cast<unsigned>(nid)) continue;
      uint64_t hi = mem[i].end;
      for (size_t r = reserved.size(); r-- > 0 && hi > mem[i].start;) {
        if (reserved[r].start >= hi) continue;
        if (uint64_t a = fit(std::max(reserved[r].end, mem[i].start), hi, size, align, max_addr)) return take(a, size);
        hi = reserved[r].start;
      }
      if (hi > mem[i].start)
        if (uint64_t a = fit(mem[i].start, hi, size, align, max_addr)) return take(a, size);
    }
    return 0;
  }

 private:
  static uint64_t fit(uint64_t lo, uint64_t hi, uint64_t size, uint64_t align, uint64_t max_addr) {
    lo = std::max(lo, align);
    hi = std::min(hi, max_addr);
    if (hi <= lo || hi - lo < size) return 0;
    const uint64_t a = (hi - size) & ~(align - 1);
    return a >= lo ? a : 0;
  }
  uint64_t take(uint64_t a, uint64_t size) {
    reserve(a, a + size);
    return a;
  }
};

namespace detail {

struct PfnRange {
  uint64_t s, e;
  unsigned nid;
};

// Usable RAM as memblock holds it: whole pages, never page 0 or the PC BIOS
// area 640 KiB - 1 MiB (trim_bios_range), split by node.
inline std::vector<PfnRange> memory_pfns(const Input& in) {
  std::vector<PfnRange> mem;
  for (const Range& u : in.usable) {
    const uint64_t s0 = std::max<uint64_t>((u.start + x86::PAGE_SIZE - 1) / x86::PAGE_SIZE, 1), e0 = u.end / x86::PAGE_SIZE;
    const Range pieces[2] = {{s0, std::min<uint64_t>(e0, 0xa0)}, {std::max<uint64_t>(s0, 0x100), e0}};
    for (const Range& pc : pieces)
      for (unsigned n = 0; n < in.nodes.size(); ++n) {
        const uint64_t ns = in.nodes[n].first / x86::PAGE_SIZE, ne = in.nodes[n].second / x86::PAGE_SIZE;
        const uint64_t a = std::max(pc.start, ns), b = std::min(pc.end, ne);
        if (b > a) mem.push_back({a, b, n});
      }
  }
  std::sort(mem.begin(), mem.end(), [](const PfnRange& a, const PfnRange& b) { return a.s < b.s; });
  return mem;
}

}  // namespace detail

// Zones, spans and present pages; managed is left 0.
inline Result zone_layout(const Input& in) {
  using detail::PfnRange;
  const std::vector<PfnRange> mem = detail::memory_pfns(in);
  uint64_t max_pfn = 0, min_pfn = ~0ull;
  for (const PfnRange& r : mem) {
    max_pfn = std::max(max_pfn, r.e);
    min_pfn = std::min(min_pfn, r.s);
  }
  const unsigned nn = static_cast<unsigned>(in.nodes.size());
  std::vector<uint64_t> node_start(nn, ~0ull), node_end(nn, 0);
  for (const PfnRange& r : mem) {
    node_start[r.nid] = std::min(node_start[r.nid], r.s);
    node_end[r.nid] = std::max(node_end[r.nid], r.e);
  }
  auto present = [&](unsigned nid, uint64_t s, uint64_t e) {
    uint64_t c = 0;
    for (const PfnRange& r : mem)
      if (r.nid == nid) c += std::max<int64_t>(0, static_cast<int64_t>(std::min(e, r.e)) - static_cast<int64_t>(std::max(s, r.s)));
    return c;
  };
  // Zone windows.
  uint64_t low[3], high[3];
  const uint64_t maxz[3] = {std::min(kDmaPfn, max_pfn), std::min(kDma32Pfn, max_pfn), max_pfn};
  uint64_t s = min_pfn;
  for (unsigned z = 0; z < 3; ++z) {
    low[z] = s;
    high[z] = std::max(maxz[z], s);
    s = high[z];
  }
  // ZONE_MOVABLE (find_zone_movable_pfns_for_nodes).
  std::vector<uint64_t> zmp(nn, 0);
  uint64_t total = 0;
  unsigned usable_nodes = 0;
  for (unsigned n = 0; n < nn; ++n) {
    const uint64_t p = present(n, 0, ~0ull);
    total += p;
    usable_nodes += p ? 1 : 0;
  }
  uint64_t kcore = in.kernelcore_pages, mcore = in.movablecore_pages;
  if (in.kernelcore_percent) kcore = total * 100 * in.kernelcore_percent / 10000;
  if (in.movablecore_percent) mcore = total * 100 * in.movablecore_percent / 10000;
  if (mcore) {
    mcore = std::min((mcore + 1023) / 1024 * 1024, total);
    kcore = std::max(kcore, total - mcore);
  }
  int movable_zone = 2;
  while (movable_zone > 0 && high[movable_zone] <= low[movable_zone]) --movable_zone;
  if (kcore && kcore < total && usable_nodes) {
    const uint64_t usable_start = low[movable_zone];
    for (;;) {
      uint64_t per_node = kcore / usable_nodes;
      for (unsigned n = 0; n < nn; ++n) {
        if (!present(n, 0, ~0ull)) continue;
        if (kcore < per_node) per_node = kcore / usable_nodes;
        uint64_t remaining = per_node;
        for (const PfnRange& r : mem) {
          if (r.nid != n) continue;
          uint64_t a = std::max(r.s, zmp[n]);
          if (a >= r.e) continue;
          if (a < usable_start) {
            const uint64_t kp = std::min(r.e, usable_start) - a;
            remaining -= std::min(kp, remaining);
            kcore -= std::min(kp, kcore);
            if (r.e <= usable_start) {
              zmp[n] = r.e;
              continue;
            }
            a = usable_start;
          }
          const uint64_t size = std::min(r.e - a, remaining);
          zmp[n] = a + size;
          kcore -= std::min(kcore, size);
          remaining -= size;
          if (!remaining) break;
        }
      }
      --usable_nodes;
      if (!(usable_nodes && kcore > usable_nodes)) break;
    }
    for (unsigned n = 0; n < nn; ++n) {
      zmp[n] = (zmp[n] + 1023) / 1024 * 1024;
      if (zmp[n] >= node_end[n]) zmp[n] = 0;
    }
  }
  Result res;
  res.nodes.resize(nn);
  for (unsigned n = 0; n < nn; ++n) {
    if (node_end[n] <= node_start[n] || node_start[n] == ~0ull) continue;
    for (unsigned z = 0; z < kMovable + 1; ++z) {
      uint64_t zs, ze;
      if (z < 3) {
        zs = std::clamp(node_start[n], low[z], high[z]);
        ze = std::clamp(node_end[n], low[z], high[z]);
      } else {
        zs = ze = 0;
      }
      if (zmp[n]) {
        if (z == kMovable) {
          zs = zmp[n];
          ze = std::min(node_end[n], high[movable_zone]);
        } else if (zs < zmp[n] && ze > zmp[n]) {
          ze = zmp[n];
        } else if (zs >= zmp[n]) {
          zs = ze;
        }
      }
      if (ze < node_start[n] || zs > node_end[n]) zs = ze = 0;
      ze = std::min(ze, node_end[n]);
      zs = std::max(zs, node_start[n]);
      Zone& zn = res.nodes[n][z];
      if (ze <= zs) continue;
      zn.start_pfn = zs;
      zn.spanned = ze - zs;
      zn.present = present(n, zs, ze);
    }
  }
  return res;
}

// What the boot keeps from the page allocator, placed as memblock's top-down
// allocations place it: Linux's reservations (the first MiB,
// reserve_real_mode; the image; every non-RAM e820 range) and the
// firmware's own early allocations in its boot order (per node its memmap,
// a struct page per spanned pfn, and one pageblock-flag byte per pageblock
// of each zone; the per-CPU page lists of every populated zone; the per-CPU
// slab pointers; the CMA area, 4 MiB-aligned within one zone, and its
// bitmap; swiotlb's pool and bookkeeping). Fills res.reserved, res.cma, res.memmap_bytes(_linux).
inline void reservations(const Input& in, Result& res) {
  BootMemory bm;
  for (const detail::PfnRange& r : detail::memory_pfns(in))
    bm.mem.push_back({r.s * x86::PAGE_SIZE, r.e * x86::PAGE_SIZE, r.nid});
  for (const Range& r : in.e820_other) bm.reserve(r.start & ~(x86::PAGE_SIZE - 1), page_up(r.end));
  bm.reserve(0, 1ull << 20);
  bm.reserve(in.image.start & ~(x86::PAGE_SIZE - 1), page_up(in.image.end));
  std::vector<uint64_t> sections;
  for (unsigned n = 0; n < res.nodes.size(); ++n) {
    uint64_t lo = ~0ull, hi = 0;
    for (const Zone& z : res.nodes[n])
      if (z.spanned) {
        lo = std::min(lo, z.start_pfn);
        hi = std::max(hi, z.start_pfn + z.spanned);
      }
    if (hi <= lo) continue;
    const uint64_t bytes = page_up((hi - lo) * kStructPageBytes);
    res.memmap_bytes += bytes;
    if (!bm.alloc(bytes, x86::PAGE_SIZE, ~0ull, static_cast<int>(n))) bm.alloc(bytes, x86::PAGE_SIZE, ~0ull, -1);
    for (const Zone& z : res.nodes[n]) {
      if (!z.spanned) continue;
      const uint64_t blocks = (z.start_pfn + z.spanned - 1) / kPageblockPages - z.start_pfn / kPageblockPages + 1;
      if (!bm.alloc(page_up(blocks), x86::PAGE_SIZE, ~0ull, static_cast<int>(n))) bm.alloc(page_up(blocks), x86::PAGE_SIZE, ~0ull, -1);
    }
  }
  for (const BootMemory::Region& r : bm.mem)
    for (uint64_t sec = r.start >> 27; sec < (r.end + (1ull << 27) - 1) >> 27; ++sec)
      if (std::find(sections.begin(), sections.end(), sec) == sections.end()) sections.push_back(sec);
  res.memmap_bytes_linux = sections.size() * (2ull << 20);
  for (unsigned n = 0; n < res.nodes.size(); ++n)
    for (const Zone& z : res.nodes[n]) {
      if (!z.present) continue;
      const uint64_t bytes = page_up(in.nr_cpus * in.pcp_bytes);
      if (!bm.alloc(bytes, x86::PAGE_SIZE, ~0ull, static_cast<int>(n))) bm.alloc(bytes, x86::PAGE_SIZE, ~0ull, -1);
    }
  bm.alloc(page_up(in.nr_cpus * in.slab_percpu_bytes), x86::PAGE_SIZE, ~0ull, -1);
  if (in.cma_bytes) {
    const uint64_t align = kMaxOrderPages * x86::PAGE_SIZE;
    const uint64_t size = (in.cma_bytes + align - 1) / align * align;
    const uint64_t limits[] = {~0ull, kDma32Pfn * x86::PAGE_SIZE, kDmaPfn * x86::PAGE_SIZE};
    for (uint64_t lim : limits) {
      const uint64_t base = bm.alloc(size, align, lim, -1);
      if (!base) continue;
      bool one_zone = false;
      for (const auto& node : res.nodes)
        for (const Zone& z : node)
          if (z.spanned && base / x86::PAGE_SIZE >= z.start_pfn && (base + size) / x86::PAGE_SIZE <= z.start_pfn + z.spanned)
            one_zone = true;
      if (one_zone) {
        res.cma = {base / x86::PAGE_SIZE, (base + size) / x86::PAGE_SIZE};
        break;
      }
      bm.unreserve(base, base + size);
    }
    const uint64_t pages = res.cma.end - res.cma.start;
    bm.alloc(page_up((pages + 63) / 64 * 8), x86::PAGE_SIZE, ~0ull, -1);
  }
  if (in.swiotlb_slabs) {
    // The pool below 4 GiB (memblock_alloc_low), then a 24-byte
    // io_tlb_slot per slab and the areas, anywhere.
    bm.alloc(in.swiotlb_slabs << 11, x86::PAGE_SIZE, kDma32Pfn * x86::PAGE_SIZE, -1);
    bm.alloc(page_up(in.swiotlb_slabs * 24), x86::PAGE_SIZE, ~0ull, -1);
    bm.alloc(in.swiotlb_areas * in.swiotlb_area_bytes, 64, ~0ull, -1);
  }
  res.reserved = bm.reserved;
}

// Every value of Result for the machine.
// swiotlb as x86 sets it up (pci_swiotlb_detect, swiotlb_init): a pool of
// `bytes` (0: the 64 MiB default) when RAM reaches above 4 GiB or when
// forced, none when off; one area per CPU, rounded up to a power of two.
inline void set_swiotlb(Input& in, bool off, bool force, uint64_t bytes, uint64_t area_bytes) {
  uint64_t dram_end = 0;
  for (const Range& r : in.usable) dram_end = std::max(dram_end, r.end);
  if (off || (!force && dram_end <= kDma32Pfn * x86::PAGE_SIZE)) return;
  in.swiotlb_slabs = (bytes ? bytes : 64ull << 20) >> 11;
  for (in.swiotlb_areas = 1; in.swiotlb_areas < in.nr_cpus;) in.swiotlb_areas *= 2;
  in.swiotlb_area_bytes = area_bytes;
}

inline Result compute(const Input& in) {
  Result res = zone_layout(in);
  reservations(in, res);
  const std::vector<detail::PfnRange> mem = detail::memory_pfns(in);
  // Managed: present minus the pages any reservation touches; the CMA area
  // is handed to the allocator after all.
  for (unsigned n = 0; n < res.nodes.size(); ++n)
    for (Zone& zn : res.nodes[n]) {
      if (!zn.spanned) continue;
      const uint64_t zs = zn.start_pfn, ze = zn.start_pfn + zn.spanned;
      uint64_t reserved = 0;
      for (const Range& r : res.reserved) {
        const uint64_t a = std::max(r.start / x86::PAGE_SIZE, zs), b = std::min(page_up(r.end) / x86::PAGE_SIZE, ze);
        for (const detail::PfnRange& m : mem)
          if (m.nid == n && std::min(b, m.e) > std::max(a, m.s)) reserved += std::min(b, m.e) - std::max(a, m.s);
      }
      zn.managed = zn.present - reserved;
      const uint64_t a = std::max(res.cma.start, zs), b = std::min(res.cma.end, ze);
      if (b > a) zn.managed += b - a;
    }
  for (auto& node : res.nodes)
    for (auto& z : node) res.total_managed += z.managed;
  // Watermarks for a min_free_kbytes (mm/page_alloc.c __setup_per_zone_wmarks).
  uint64_t lowmem = 0;
  for (auto& node : res.nodes)
    for (unsigned z = 0; z < kMovable; ++z) lowmem += node[z].managed;
  auto set_wmarks = [&](uint64_t min_free_kbytes) {
    const uint64_t pages_min = min_free_kbytes / 4;
    for (auto& node : res.nodes)
      for (unsigned z = 0; z < kZones; ++z) {
        Zone& zn = node[z];
        const uint64_t share = lowmem ? pages_min * zn.managed / lowmem : 0;
        zn.min = z == kMovable ? std::clamp<uint64_t>(zn.managed / 1024, 32, 128) : share;
        const uint64_t gap = std::max(share / 4, mult_frac(zn.managed, in.watermark_scale_factor, 10000));
        zn.low = zn.min + gap;
        zn.high = zn.low + gap;
        zn.promo = zn.high + gap;
      }
  };
  // calculate_min_free_kbytes: lowmem is nr_free_buffer_pages while the
  // watermarks are still 0.
  res.min_free_kbytes_unraised = std::clamp<uint64_t>(isqrt(lowmem * 4 * 16), 128, 262144);
  res.min_free_kbytes = in.min_free_kbytes ? in.min_free_kbytes : res.min_free_kbytes_unraised;
  set_wmarks(res.min_free_kbytes);
  if (in.thp && !in.min_free_kbytes) {
    // khugepaged (set_recommended_min_free_kbytes): 2 + 3 * 3 pageblocks per
    // populated zone up to Normal, at most 5% of nr_free_buffer_pages
    // (managed above the high watermark, zones up to Normal).
    uint64_t nr_zones = 0, buffer_pages = 0;
    for (auto& node : res.nodes)
      for (unsigned z = 0; z < kMovable; ++z) {
        if (node[z].present) ++nr_zones;
        if (node[z].managed > node[z].high) buffer_pages += node[z].managed - node[z].high;
      }
    const uint64_t kb = std::min(kPageblockPages * nr_zones * (2 + 3 * 3), buffer_pages / 20) * 4;
    if (kb > res.min_free_kbytes) {
      res.min_free_kbytes = kb;
      set_wmarks(kb);
    }
  }
  for (auto& node : res.nodes)
    for (unsigned i = 0; i < kZones; ++i) {
      uint64_t m = 0;
      for (unsigned j = i + 1; j < kZones; ++j) {
        m += node[j].managed;
        node[i].protection[j] = (!in.ratio[i] || !node[i].managed) ? 0 : static_cast<int64_t>(m / in.ratio[i]);
      }
    }
  return res;
}

// ---------------------------------------------------------------- parsers

struct ProcZone {
  uint64_t min = 0, low = 0, high = 0, promo = 0, spanned = 0, present = 0, managed = 0, start_pfn = 0;
  std::vector<int64_t> protection;
  bool seen = false;
};
using ProcZoneinfo = std::map<std::pair<unsigned, std::string>, ProcZone>;

inline ProcZoneinfo parse_zoneinfo(const std::string& text) {
  ProcZoneinfo out;
  std::istringstream is(text);
  std::string line;
  ProcZone* cur = nullptr;
  const std::regex head(R"(^Node (\d+), zone +(\w+)$)");
  const std::regex kv(R"(^\s+(min|low|high|promo|spanned|present|managed)\s+(\d+)$)");
  const std::regex prot(R"(^\s+protection: \(([-\d, ]+)\)$)");
  const std::regex start(R"(^\s+start_pfn:\s+(\d+)$)");
  std::smatch m;
  while (std::getline(is, line)) {
    if (std::regex_match(line, m, head)) {
      cur = &out[{static_cast<unsigned>(std::stoul(m[1])), m[2]}];
      cur->seen = true;
    } else if (cur && std::regex_match(line, m, kv)) {
      const uint64_t v = std::stoull(m[2]);
      const std::string k = m[1];
      if (k == "min") cur->min = v;
      else if (k == "low") cur->low = v;
      else if (k == "high") cur->high = v;
      else if (k == "promo") cur->promo = v;
      else if (k == "spanned") cur->spanned = v;
      else if (k == "present") cur->present = v;
      else if (k == "managed") cur->managed = v;
    } else if (cur && std::regex_match(line, m, prot)) {
      std::string s = m[1];
      std::stringstream ss(s);
      for (std::string tok; std::getline(ss, tok, ',');) cur->protection.push_back(std::stoll(tok));
    } else if (cur && std::regex_match(line, m, start)) {
      cur->start_pfn = std::stoull(m[1]);
    }
  }
  return out;
}

inline std::map<std::string, uint64_t> parse_meminfo(const std::string& text) {
  std::map<std::string, uint64_t> out;
  std::istringstream is(text);
  const std::regex kv(R"(^([A-Za-z0-9_()]+):\s+(\d+)( kB)?$)");
  std::smatch m;
  for (std::string line; std::getline(is, line);)
    if (std::regex_match(line, m, kv)) out[m[1]] = std::stoull(m[2]);
  return out;
}

// The firmware's boot log: e820, memblock memory (with nodes) and
// reservations, the CMA area, min_free_kbytes.
struct BootLog {
  std::vector<Range> usable, e820_other, reserved;
  std::vector<std::pair<uint64_t, uint64_t>> nodes;  // from memblock memory regions
  Range cma{0, 0};
  uint64_t min_free_kbytes = 0;

  // The reservations merged where they touch (memblock keeps neighbours
  // apart when they were added apart).
  std::vector<Range> reserved_merged() const {
    std::vector<Range> m;
    for (const Range& r : reserved) {
      if (!m.empty() && r.start <= m.back().end) m.back().end = std::max(m.back().end, r.end);
      else m.push_back(r);
    }
    return m;
  }
};

inline BootLog parse_boot_log(const std::string& text) {
  BootLog b;
  std::istringstream is(text);
  const std::regex e820(R"(BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] (.*)$)");
  const std::regex mem(R"( memory\[0x[0-9a-f]+\]\s+\[0x([0-9a-f]+)-0x([0-9a-f]+)\], 0x[0-9a-f]+ bytes on node (\d+))");
  const std::regex res(R"( reserved\[0x[0-9a-f]+\]\s+\[0x([0-9a-f]+)-0x([0-9a-f]+)\])");
  const std::regex cma(R"(cma: Reserved (\d+) MiB at 0x([0-9a-f]+))");
  const std::regex mfk(R"(min_free_kbytes (\d+),)");
  std::smatch m;
  for (std::string line; std::getline(is, line);) {
    if (std::regex_search(line, m, e820)) {
      const Range r{std::stoull(m[1], nullptr, 16), std::stoull(m[2], nullptr, 16) + 1};
      (m[3] == "usable" ? b.usable : b.e820_other).push_back(r);
    } else if (std::regex_search(line, m, mem)) {
      const unsigned nid = static_cast<unsigned>(std::stoul(m[3]));
      const uint64_t s = std::stoull(m[1], nullptr, 16), e = std::stoull(m[2], nullptr, 16) + 1;
      if (b.nodes.size() <= nid) b.nodes.resize(nid + 1, {~0ull, 0});
      b.nodes[nid].first = std::min(b.nodes[nid].first, s);
      b.nodes[nid].second = std::max(b.nodes[nid].second, e);
    } else if (std::regex_search(line, m, res)) {
      b.reserved.push_back({std::stoull(m[1], nullptr, 16), std::stoull(m[2], nullptr, 16) + 1});
    } else if (std::regex_search(line, m, cma)) {
      const uint64_t base = std::stoull(m[2], nullptr, 16);
      b.cma = {base / x86::PAGE_SIZE, (base + (std::stoull(m[1]) << 20)) / x86::PAGE_SIZE};
    } else if (std::regex_search(line, m, mfk)) {
      b.min_free_kbytes = std::stoull(m[1]);
    }
  }
  return b;
}

}  // namespace linuxref
