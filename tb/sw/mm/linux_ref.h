// What Linux's formulas give for a memory map, computed here from the e820
// map and the boot reservations alone (not from the firmware's code):
// zones and their spans (x86-64 DMA < 16 MiB, DMA32 < 4 GiB, Normal, and
// Movable from kernelcore/movablecore as mm_init.c places it), present and
// managed pages, min_free_kbytes (page_alloc.c calculate_min_free_kbytes),
// the watermarks (__setup_per_zone_wmarks) and the lowmem reserves
// (setup_per_zone_lowmem_reserve). Also parsers for /proc/zoneinfo,
// /proc/meminfo and the firmware's boot log, so the same comparison runs
// on the host HAL and on build/mmcosim output.
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
constexpr unsigned kZones = 4;  // DMA, DMA32, Normal, Movable
inline const char* zone_label(unsigned z) {
  static const char* n[] = {"DMA", "DMA32", "Normal", "Movable"};
  return n[z];
}

struct Range {
  uint64_t start, end;  // [start, end) bytes or pfns
};

struct Input {
  std::vector<Range> usable;                      // e820 usable, bytes
  std::vector<Range> reserved;                    // memblock reservations, bytes
  std::vector<std::pair<uint64_t, uint64_t>> nodes;  // [start, end) bytes
  uint64_t kernelcore_pages = 0, movablecore_pages = 0;
  unsigned kernelcore_percent = 0, movablecore_percent = 0;
  Range cma{0, 0};                                // pfns
  uint64_t min_free_kbytes = 0;                   // 0: the formula
  uint64_t watermark_scale_factor = 10;
  uint64_t ratio[kZones] = {256, 256, 32, 0};
};

struct Zone {
  uint64_t start_pfn = 0, spanned = 0, present = 0, managed = 0;
  uint64_t min = 0, low = 0, high = 0, promo = 0;
  int64_t protection[kZones] = {};
};

struct Result {
  std::vector<std::array<Zone, kZones>> nodes;
  uint64_t min_free_kbytes = 0;
  uint64_t total_managed = 0;
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

inline Result compute(const Input& in) {
  // Memory pfns: usable, page-trimmed, never pfn 0; per node.
  struct PfnRange {
    uint64_t s, e;
    unsigned nid;
  };
  std::vector<PfnRange> mem;
  for (const Range& u : in.usable) {
    uint64_t s = std::max<uint64_t>((u.start + x86::PAGE_SIZE - 1) / x86::PAGE_SIZE, 1), e = u.end / x86::PAGE_SIZE;
    for (unsigned n = 0; n < in.nodes.size(); ++n) {
      const uint64_t ns = in.nodes[n].first / x86::PAGE_SIZE, ne = in.nodes[n].second / x86::PAGE_SIZE;
      const uint64_t a = std::max(s, ns), b = std::min(e, ne);
      if (b > a) mem.push_back({a, b, n});
    }
  }
  std::sort(mem.begin(), mem.end(), [](const PfnRange& a, const PfnRange& b) { return a.s < b.s; });
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
  // Reserved pfns (any byte reserved), within memory.
  auto reserved_in = [&](unsigned nid, uint64_t zs, uint64_t ze) {
    uint64_t c = 0;
    std::vector<Range> rs;
    for (const Range& r : in.reserved) rs.push_back({r.start / x86::PAGE_SIZE, (r.end + x86::PAGE_SIZE - 1) / x86::PAGE_SIZE});
    std::sort(rs.begin(), rs.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
    // Merge, then intersect with node memory in [zs, ze).
    std::vector<Range> m;
    for (const Range& r : rs) {
      if (!m.empty() && r.start <= m.back().end) m.back().end = std::max(m.back().end, r.end);
      else m.push_back(r);
    }
    for (const Range& r : m) {
      const uint64_t a = std::max(r.start, zs), b = std::min(r.end, ze);
      if (b > a) c += present(nid, a, b);
    }
    return c;
  };
  Result res;
  res.nodes.resize(nn);
  for (unsigned n = 0; n < nn; ++n) {
    if (node_end[n] <= node_start[n] || node_start[n] == ~0ull) continue;
    for (unsigned z = 0; z < kZones; ++z) {
      uint64_t zs, ze;
      if (z < 3) {
        zs = std::clamp(node_start[n], low[z], high[z]);
        ze = std::clamp(node_end[n], low[z], high[z]);
      } else {
        zs = ze = 0;
      }
      if (zmp[n]) {
        if (z == 3) {
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
      // Managed: present minus boot reservations; the CMA area is handed
      // to the allocator after all.
      zn.managed = zn.present - reserved_in(n, zs, ze);
      if (in.cma.end > in.cma.start) {
        const uint64_t a = std::max(in.cma.start, zs), b = std::min(in.cma.end, ze);
        if (b > a) zn.managed += b - a;
      }
    }
  }
  // min_free_kbytes from the lowmem pages (every zone but Movable).
  uint64_t lowmem = 0;
  for (auto& node : res.nodes)
    for (unsigned z = 0; z < 3; ++z) lowmem += node[z].managed;
  for (auto& node : res.nodes)
    for (auto& z : node) res.total_managed += z.managed;
  res.min_free_kbytes = in.min_free_kbytes ? in.min_free_kbytes : std::clamp<uint64_t>(isqrt(lowmem * 4 * 16), 128, 262144);
  const uint64_t pages_min = res.min_free_kbytes / 4;
  for (auto& node : res.nodes)
    for (unsigned z = 0; z < kZones; ++z) {
      Zone& zn = node[z];
      const uint64_t share = lowmem ? pages_min * zn.managed / lowmem : 0;
      zn.min = z == 3 ? std::clamp<uint64_t>(zn.managed / 1024, 32, 128) : share;
      const uint64_t gap = std::max(share / 4, mult_frac(zn.managed, in.watermark_scale_factor, 10000));
      zn.low = zn.min + gap;
      zn.high = zn.low + gap;
      zn.promo = zn.high + gap;
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
// reservations, the CMA area.
struct BootLog {
  std::vector<Range> usable, reserved;
  std::vector<std::pair<uint64_t, uint64_t>> nodes;  // from memblock memory regions
  Range cma{0, 0};
  uint64_t min_free_kbytes = 0;
};

inline BootLog parse_boot_log(const std::string& text) {
  BootLog b;
  std::istringstream is(text);
  const std::regex e820(R"(BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] usable)");
  const std::regex mem(R"( memory\[0x[0-9a-f]+\]\s+\[0x([0-9a-f]+)-0x([0-9a-f]+)\], 0x[0-9a-f]+ bytes on node (\d+))");
  const std::regex res(R"( reserved\[0x[0-9a-f]+\]\s+\[0x([0-9a-f]+)-0x([0-9a-f]+)\])");
  const std::regex cma(R"(cma: Reserved (\d+) MiB at 0x([0-9a-f]+))");
  const std::regex mfk(R"(min_free_kbytes (\d+),)");
  std::smatch m;
  for (std::string line; std::getline(is, line);) {
    if (std::regex_search(line, m, e820)) {
      b.usable.push_back({std::stoull(m[1], nullptr, 16), std::stoull(m[2], nullptr, 16) + 1});
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
