#include "hw/mmu/mmu_config.h"

#include <algorithm>

#include <fmt/format.h>

#include "hw/base/time.h"

namespace hw {

namespace {

using sim::from_ps;

std::vector<unsigned> read_sizes(sim::ConfigNode t, const std::vector<unsigned>& def, const std::string& what) {
  static const char* const names[] = {"4KiB", "2MiB", "1GiB"};
  std::vector<std::string> words;
  for (unsigned c : def) words.push_back(names[c]);
  words = t.get<std::vector<std::string>>("page_sizes", words, what + ": page sizes held (4KiB, 2MiB, 1GiB)");
  std::vector<unsigned> out;
  for (const std::string& w : words) {
    uint64_t b = 0;
    if (!sim::parse_size(w, b) || (b != x86::SIZE_4K && b != x86::SIZE_2M && b != x86::SIZE_1G))
      t.fail("page_sizes", fmt::format("'{}' is not 4KiB, 2MiB or 1GiB", w));
    const unsigned code = b == x86::SIZE_4K ? 0 : b == x86::SIZE_2M ? 1 : 2;
    if (std::find(out.begin(), out.end(), code) != out.end()) t.fail("page_sizes", fmt::format("'{}' given twice", w));
    out.push_back(code);
  }
  if (out.empty()) t.fail("page_sizes", "must name at least one page size");
  return out;
}

ReplacementPolicy read_policy(sim::ConfigNode t, ReplacementPolicy def, const std::string& what) {
  const std::string word = t.get_enum("replacement", replacement_name(def), {"lru", "tree-plru", "random"},
                                      what + ": replacement policy (random uses the run's seed)");
  ReplacementPolicy p = def;
  parse_replacement(word, p);
  return p;
}

// Refuses the keys of an absent array or cache, or of a disabled structure:
// they would change nothing.
void refuse_keys(sim::ConfigNode t, std::initializer_list<const char*> keys, const std::string& why) {
  for (const char* k : keys)
    if (t.has(k)) t.fail(k, why);
}

// sets/ways/replacement of one array or cache. Returns ways = 0 for "absent".
// `ways` is read first (an absent array has no other key), given or not: the
// keys are recorded in the order they are read, so config.json has one order
// and a run from it writes the same config.json.
void read_geometry(sim::ConfigNode t, unsigned def_sets, unsigned def_ways, ReplacementPolicy def_policy,
                   const std::string& what, unsigned& sets, unsigned& ways, ReplacementPolicy& policy) {
  ways = t.get<unsigned>("ways", def_ways, what + ": ways (0: no such array)");
  sets = def_sets;
  policy = def_policy;
  if (ways == 0) return refuse_keys(t, {"sets", "replacement", "page_sizes"}, "the array is absent (ways 0)");
  sets = t.get<unsigned>("sets", def_sets, what + ": sets (a power of two)");
  policy = read_policy(t, def_policy, what);
  if (sets == 0 || (sets & (sets - 1))) t.fail("sets", fmt::format("must be a power of two, got {}", sets));
  if (ways > 4096) t.fail("ways", "at most 4096");
  if (ways && policy == ReplacementPolicy::tree_plru && (ways & (ways - 1)))
    t.fail("replacement", fmt::format("tree-plru needs a power-of-two number of ways, got {}", ways));
}

// A TLB structure: either one array (`sets`/`ways`/... directly under the
// structure: e.g. a fully associative study TLB) or named arrays.
std::vector<TlbArray::Geometry> read_tlb(sim::ConfigNode t, const std::vector<TlbArray::Geometry>& defaults,
                                         const std::vector<std::string>& optional, const std::string& what) {
  std::vector<std::string> names;
  for (const auto& g : defaults) names.push_back(g.name);
  names.insert(names.end(), optional.begin(), optional.end());

  std::vector<TlbArray::Geometry> out;
  const bool single = t.has("sets") || t.has("ways") || t.has("page_sizes") || t.has("replacement");
  if (single) {
    for (const std::string& n : names)
      if (t.has(n)) t.fail(n, "give either one array (sets/ways/replacement/page_sizes) or named arrays, not both");
    std::vector<unsigned> all;
    unsigned entries = 0;
    for (const auto& g : defaults) {
      entries += g.sets * g.ways;
      for (unsigned s : g.sizes)
        if (std::find(all.begin(), all.end(), s) == all.end()) all.push_back(s);
    }
    std::sort(all.begin(), all.end());
    TlbArray::Geometry g;
    g.name = "all";
    read_geometry(t, 1, entries, ReplacementPolicy::lru, what, g.sets, g.ways, g.replacement);
    if (g.ways == 0) t.fail("ways", "must be at least 1");
    g.sizes = read_sizes(t, all, what);
    out.push_back(g);
  } else {
    for (const std::string& n : names) {
      sim::ConfigNode a = t.child(n);
      const TlbArray::Geometry* def = nullptr;
      for (const auto& g : defaults)
        if (g.name == n) def = &g;
      const std::string w = what + " array " + n;
      TlbArray::Geometry g;
      g.name = n;
      read_geometry(a, def ? def->sets : 1, def ? def->ways : 0, def ? def->replacement : ReplacementPolicy::lru, w,
                    g.sets, g.ways, g.replacement);
      if (g.ways == 0) continue;
      const std::vector<unsigned> def_sizes =
          def ? def->sizes : std::vector<unsigned>{n == "1g" ? 2u : n == "2m" ? 1u : 0u};
      g.sizes = read_sizes(a, def_sizes, w);
      out.push_back(g);
    }
  }
  bool has_4k = false;
  for (const auto& g : out) has_4k |= std::find(g.sizes.begin(), g.sizes.end(), 0u) != g.sizes.end();
  if (!has_4k) t.fail(single ? "page_sizes" : names.front(), "some array must hold 4KiB pages");
  return out;
}

// `platform.mmu.pwc`: the caches of a disabled PWC would change nothing, so
// their keys are refused.
void read_pwc_params(sim::ConfigNode c, unsigned levels, const Pwc::Params& def, Pwc::Params& p) {
  p.enabled = c.get<bool>("enabled", true, "Paging-structure caches present");
  if (!p.enabled) {
    for (const std::string& k : c.keys())
      if (k != "enabled") c.fail(k, "the paging-structure caches are disabled (enabled: false)");
    return;
  }
  p.latency = from_ps(c.get<sim::Duration>("latency", {0}, "Latency of a paging-structure-cache lookup, per walk").ps);
  p.invlpg_all_pcids = c.get<bool>("invlpg_all_pcids", false,
                                   "INVLPG also drops other PCIDs' paging-structure-cache entries (the SDM "
                                   "requires only the current PCID's)");
  // The PML5E cache exists with 5 levels only; its key is still accepted
  // (checked, unused) with 4, so one geometry serves a sweep over both.
  for (unsigned l = kMaxLevels; l >= 2; --l) {
    if (l > levels && !c.has(pwc_level_name(l))) continue;
    const PwcGeometry& d = def.level[l];
    PwcGeometry& g = p.level[l];
    read_geometry(c.child(pwc_level_name(l)), d.sets, d.ways, d.replacement,
                  fmt::format("{} cache{}", pwc_level_name(l), l > levels ? " (5-level paging only)" : ""), g.sets,
                  g.ways, g.replacement);
  }
}

}  // namespace

Mmu::Params read_mmu_params(sim::ConfigNode m, unsigned maxphyaddr, unsigned levels, uint64_t seed) {
  const Mmu::Params def;
  Mmu::Params p;
  p.maxphyaddr = maxphyaddr;
  p.levels = levels;
  p.seed = seed;

  p.hit_latency = from_ps(m.get<sim::Duration>("hit_latency", {0}, "Latency of an L1 TLB hit").ps);
  p.miss_latency = from_ps(m.get<sim::Duration>("miss_latency", {0}, "Latency to detect an L1 TLB miss").ps);
  p.access_latency = from_ps(m.get<sim::Duration>("access_latency", {1000},
                                             "Cost of the data access itself (stands in for the cache hierarchy, "
                                             "which is not modelled)").ps);

  p.itlb = read_tlb(m.child("itlb"), def.itlb, {"1g"}, "L1 instruction TLB");
  p.dtlb = read_tlb(m.child("dtlb"), def.dtlb, {}, "L1 data TLB");

  sim::ConfigNode s = m.child("stlb");
  const bool stlb_on = s.get<bool>("enabled", true, "Second-level (unified) TLB present");
  if (stlb_on) {
    p.stlb_latency = from_ps(s.get<sim::Duration>("latency", {2000}, "Latency of an STLB lookup (after an L1 miss)").ps);
    p.stlb = read_tlb(s, def.stlb, {}, "STLB");
  } else {
    p.stlb.clear();
    for (const std::string& k : s.keys())
      if (k != "enabled") s.fail(k, "the STLB is disabled (enabled: false)");
  }
  read_pwc_params(m.child("pwc"), levels, def.pwc, p.pwc);

  p.window.slots = m.get<unsigned>("walks_in_flight", def.window.slots, "Page walks in flight per core (walkers)");
  if (p.window.slots == 0 || p.window.slots > 64) m.fail("walks_in_flight", "must be between 1 and 64");
  p.window.lookahead = m.get<unsigned>("lookahead", def.window.lookahead,
                                       "Younger accesses a core may issue past a walk in flight before it waits "
                                       "for that walk (0: a blocking core)");
  p.walker = m.get_enum(
      "walker", "tlm", {"tlm", "rtl", "lockstep"},
      "Page walker: tlm (the TLM model), rtl (the Verilated RTL), lockstep (both, compared on every walk)");
  p.direct_walk = m.get<bool>("direct_walk", true,
                              "Call the TLM walker directly on a miss, not through the walk socket, when no monitor "
                              "runs (false: always the socket; the statistics are the same)");
  return p;
}

}  // namespace hw
