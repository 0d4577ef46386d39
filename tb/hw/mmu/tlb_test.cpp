// TLB structures and replacement policies, checked against independent
// models written here; the fast-path permission bits; the scenario keys of
// platform.mmu (defaults, forms, errors).
#include <gtest/gtest.h>

#include <list>
#include <map>
#include <random>
#include <tuple>

#include <fmt/format.h>

#include "hw/mmu/mmu_config.h"
#include "hw/mmu/tlb.h"

namespace hw {
namespace {

TlbEntry page(uint64_t vpn, unsigned size = 0, uint16_t pcid = 0, bool global = false) {
  TlbEntry e;
  e.vpn = vpn;
  e.size = e.page_size = static_cast<uint8_t>(size);
  e.pa_base = vpn << size_shift(size);
  e.pcid = pcid;
  e.global = global;
  return e;
}

TlbArray::Geometry geometry(unsigned sets, unsigned ways, ReplacementPolicy p, std::vector<unsigned> sizes = {0}) {
  TlbArray::Geometry g;
  g.sets = sets;
  g.ways = ways;
  g.replacement = p;
  g.sizes = std::move(sizes);
  return g;
}

// Drives a one-array TLB with a sequence of pages (fill on miss); returns the
// hit/miss pattern.
std::string drive(Tlb& t, const std::vector<uint64_t>& vpns) {
  std::string out;
  for (uint64_t v : vpns) {
    if (t.lookup(v << 12, 0)) {
      out += 'h';
    } else {
      out += 'm';
      t.insert(page(v));
    }
  }
  return out;
}

// ---- LRU against an independent per-set model ----
TEST(Replacement, LruMatchesAnIndependentModel) {
  sim::stats::Group root(nullptr, "system");
  const unsigned sets = 8, ways = 4;
  Tlb t(&root, "dtlb", "dtlb", {geometry(sets, ways, ReplacementPolicy::lru)}, 1);
  std::vector<std::list<uint64_t>> model(sets);  // front = most recent
  std::mt19937_64 rng(7);
  unsigned misses = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng() % 96;
    std::list<uint64_t>& set = model[v % sets];
    auto it = std::find(set.begin(), set.end(), v);
    const bool model_hit = it != set.end();
    if (model_hit) set.erase(it);
    else if (set.size() == ways) set.pop_back();
    set.push_front(v);
    const bool hit = t.lookup(v << 12, 0) != nullptr;
    if (!hit) {
      t.insert(page(v));
      ++misses;
    }
    ASSERT_EQ(hit, model_hit) << "access " << i << " vpn " << v;
  }
  EXPECT_EQ(t.stats.misses.value(), misses);
  EXPECT_EQ(t.hits() + t.stats.misses.value(), 100000u);
}

// ---- Tree-PLRU: hand-worked cases and an independent model ----
TEST(Replacement, TreePlruEvictsWhatTheTreePointsAt) {
  sim::stats::Group root(nullptr, "system");
  Tlb plru(&root, "a", "a", {geometry(1, 4, ReplacementPolicy::tree_plru)}, 1);
  Tlb lru(&root, "b", "b", {geometry(1, 4, ReplacementPolicy::lru)}, 1);
  // Fill A B C D (ways 0..3), touch A, then E: tree-PLRU evicts C (the tree
  // points right after A, then at way 2 after D), true LRU evicts B.
  const std::vector<uint64_t> seq = {1, 2, 3, 4, 1, 5, 1, 2, 3, 4};
  EXPECT_EQ(drive(plru, seq), "mmmmhmhhmm");
  EXPECT_EQ(drive(lru, seq), "mmmmhmhmmm");
}

// A tree-PLRU written as a recursive function over an explicit binary tree.
struct PlruModel {
  struct Node {
    bool evict_right = false;
  };
  unsigned ways;
  std::vector<Node> nodes;
  std::vector<uint64_t> way_vpn;
  explicit PlruModel(unsigned w) : ways(w), nodes(w), way_vpn(w, ~0ull) {}
  void use(unsigned node, unsigned lo, unsigned n, unsigned way) {
    if (n == 1) return;
    const bool in_right = way >= lo + n / 2;
    nodes[node].evict_right = !in_right;
    use(in_right ? 2 * node + 2 : 2 * node + 1, in_right ? lo + n / 2 : lo, n / 2, way);
  }
  unsigned victim(unsigned node, unsigned lo, unsigned n) const {
    if (n == 1) return lo;
    const bool r = nodes[node].evict_right;
    return victim(r ? 2 * node + 2 : 2 * node + 1, r ? lo + n / 2 : lo, n / 2);
  }
  bool access(uint64_t v) {
    for (unsigned w = 0; w < ways; ++w)
      if (way_vpn[w] == v) {
        use(0, 0, ways, w);
        return true;
      }
    unsigned w = 0;
    while (w < ways && way_vpn[w] != ~0ull) ++w;
    if (w == ways) w = victim(0, 0, ways);
    way_vpn[w] = v;
    use(0, 0, ways, w);
    return false;
  }
};

TEST(Replacement, TreePlruMatchesAnIndependentModel) {
  sim::stats::Group root(nullptr, "system");
  for (unsigned ways : {2u, 4u, 8u, 16u}) {
    Tlb t(&root, fmt::format("t{}", ways), "t", {geometry(1, ways, ReplacementPolicy::tree_plru)}, 1);
    PlruModel model(ways);
    std::mt19937_64 rng(ways);
    for (int i = 0; i < 50000; ++i) {
      const uint64_t v = rng() % (ways + ways / 2 + 1);
      const bool hit = t.lookup(v << 12, 0) != nullptr;
      if (!hit) t.insert(page(v));
      ASSERT_EQ(hit, model.access(v)) << ways << " ways, access " << i;
    }
  }
}

TEST(Replacement, RandomIsSeededAndCoversEveryWay) {
  Replacement a(ReplacementPolicy::random, 1, 8, 42), b(ReplacementPolicy::random, 1, 8, 42),
      c(ReplacementPolicy::random, 1, 8, 43);
  std::vector<unsigned> va, vb, vc;
  std::map<unsigned, unsigned> hist;
  for (int i = 0; i < 8000; ++i) {
    va.push_back(a.victim(0));
    vb.push_back(b.victim(0));
    vc.push_back(c.victim(0));
    ++hist[va.back()];
  }
  EXPECT_EQ(va, vb) << "same seed, same victims";
  EXPECT_NE(va, vc) << "another seed, other victims";
  ASSERT_EQ(hist.size(), 8u);
  for (const auto& [way, n] : hist) EXPECT_GT(n, 800u) << "way " << way;
  EXPECT_NE(mix_seed(1, 0), mix_seed(1, 1)) << "per-core seeds differ";
}

TEST(Replacement, TreePlruNeedsAPowerOfTwo) {
  EXPECT_THROW(Replacement(ReplacementPolicy::tree_plru, 4, 6, 1), std::invalid_argument);
}

// ---- Structures ----
TEST(Tlb, ArraysPerPageSizeAndFracturing) {
  sim::stats::Group root(nullptr, "system");
  Tlb t(&root, "itlb", "itlb",
        {geometry(4, 2, ReplacementPolicy::lru, {0}), geometry(1, 2, ReplacementPolicy::lru, {1})}, 1);
  EXPECT_TRUE(t.holds(0));
  EXPECT_TRUE(t.holds(1));
  EXPECT_FALSE(t.holds(2));
  EXPECT_EQ(t.fit(2), 1u) << "a 1 GiB page is held as 2 MiB pieces";
  EXPECT_EQ(t.capacity(), 10u);
  t.insert(page(0x40000000 >> 21, 1));
  t.insert(page(0x1234, 0));
  EXPECT_EQ(t.find(0x40000000 + 0x1fffff, 0)->size, 1u);
  EXPECT_EQ(t.find(0x1234fff, 0)->size, 0u);
  EXPECT_EQ(t.find(0x40200000, 0), nullptr);
  EXPECT_EQ(t.size_stats(0).fills.value(), 1u);
  EXPECT_EQ(t.size_stats(1).fills.value(), 1u);
  EXPECT_THROW(t.insert(page(1, 2)), std::logic_error);
}

TEST(Tlb, SharedArrayHoldsTwoSizes) {
  sim::stats::Group root(nullptr, "system");
  Tlb t(&root, "stlb", "stlb", {geometry(1, 2, ReplacementPolicy::lru, {0, 1})}, 1);
  t.insert(page(5, 0));
  t.insert(page(7, 1));
  t.insert(page(9, 0));  // evicts the 4 KiB page 5 (least recently used)
  EXPECT_EQ(t.find(5 << 12, 0), nullptr);
  EXPECT_NE(t.find((7ull << 21) + 5, 0), nullptr);
  EXPECT_EQ(t.size_stats(0).evictions.value(), 1u);
  EXPECT_EQ(t.size_stats(1).evictions.value(), 0u);
}

TEST(Tlb, PcidTagsGlobalsAndFlushes) {
  sim::stats::Group root(nullptr, "system");
  Tlb t(&root, "dtlb", "dtlb", {geometry(4, 4, ReplacementPolicy::lru)}, 1);
  t.insert(page(1, 0, 1));
  t.insert(page(1, 0, 2));
  t.insert(page(2, 0, 1));
  t.insert(page(3, 0, 5, true));
  EXPECT_EQ(t.find(0x1000, 1)->pcid, 1);
  EXPECT_EQ(t.find(0x1000, 2)->pcid, 2);
  EXPECT_EQ(t.find(0x1000, 3), nullptr);
  EXPECT_NE(t.find(0x3000, 9), nullptr) << "a global entry matches every PCID";
  EXPECT_EQ(t.flush_va(0x1000, 1, false), 1u);
  EXPECT_NE(t.find(0x1000, 2), nullptr);
  EXPECT_EQ(t.flush_va(0x3000, 1, false), 0u) << "globals stay unless asked";
  EXPECT_EQ(t.flush_va(0x3000, 1, true), 1u);
  EXPECT_EQ(t.flush_pcid(2, false), 1u);
  EXPECT_EQ(t.flush_all(false), 1u);
  EXPECT_EQ(t.valid_entries(), 0u);
  EXPECT_EQ(t.stats.invalidations.value(), 4.0);
}

// Lookups probe only (array, size) pairs holding entries: the set of live
// probes follows fills, evictions, invalidations and flushes, and an entry
// of any size is found again once it is back.
TEST(Tlb, ProbesFollowTheSizesHeld) {
  sim::stats::Group root(nullptr, "system");
  Tlb t(&root, "dtlb", "dtlb",
        {geometry(2, 1, ReplacementPolicy::lru, {0, 1}), geometry(1, 2, ReplacementPolicy::lru, {2})}, 1);
  const uint64_t va2m = 0x40000000 + 0x1234, va1g = (5ull << 30) + 0x5678;
  EXPECT_EQ(t.find(va2m, 0), nullptr);
  t.insert(page(va2m >> 21, 1));
  t.insert(page(va1g >> 30, 2));
  ASSERT_NE(t.find(va2m, 0), nullptr);
  EXPECT_EQ(t.find(va2m, 0)->size, 1u);
  ASSERT_NE(t.find(va1g, 0), nullptr);
  // A 4 KiB fill of the same set evicts the 2 MiB entry (one way): no 2 MiB
  // entry is left, and the 1 GiB one is still found.
  t.insert(page(0x40000, 0));
  EXPECT_EQ(t.find(va2m, 0), nullptr);
  EXPECT_NE(t.find(0x40000000, 0), nullptr);
  EXPECT_NE(t.find(va1g, 0), nullptr);
  EXPECT_EQ(t.flush_va(va1g, 0, false), 1u);
  EXPECT_EQ(t.find(va1g, 0), nullptr);
  t.insert(page(va2m >> 21, 1));  // back: found again
  EXPECT_NE(t.find(va2m, 0), nullptr);
  t.insert(page(va1g >> 30, 2));
  EXPECT_NE(t.find(va1g, 0), nullptr);
  t.flush_all(true);
  EXPECT_EQ(t.find(va2m, 0), nullptr);
  EXPECT_EQ(t.find(va1g, 0), nullptr);
  t.insert(page(va1g >> 30, 2));
  EXPECT_NE(t.find(va1g, 0), nullptr);
}

// Fills copy entries field by field (assign_entry): every field arrives.
TEST(Tlb, FillsCopyEveryField) {
  TlbEntry src;
  src.vpn = 0x123456789;
  src.pa_base = 0xabcdef000;
  static uint8_t host[2];
  src.host = &host[0];
  src.pending_host = &host[1];
  src.ready = 987654321;
  src.host_lo = 0x10;
  src.host_hi = 0xfef;
  src.pcid = 0x7ff;
  src.size = 1;
  src.page_size = 2;
  src.perm = 0x2d;
  src.global = src.rw = src.us = src.nx = src.dirty = src.pending = true;
  TlbEntry dst;
  assign_entry(dst, src);
  EXPECT_EQ(dst.vpn, src.vpn);
  EXPECT_EQ(dst.pa_base, src.pa_base);
  EXPECT_EQ(dst.host, src.host);
  EXPECT_EQ(dst.pending_host, src.pending_host);
  EXPECT_EQ(dst.ready, src.ready);
  EXPECT_EQ(dst.host_lo, src.host_lo);
  EXPECT_EQ(dst.host_hi, src.host_hi);
  EXPECT_EQ(dst.pcid, src.pcid);
  EXPECT_EQ(dst.size, src.size);
  EXPECT_EQ(dst.page_size, src.page_size);
  EXPECT_EQ(dst.perm, src.perm);
  EXPECT_TRUE(dst.global && dst.rw && dst.us && dst.nx && dst.dirty && dst.pending);
  // And into a TLB: what is found is what was filled.
  sim::stats::Group root(nullptr, "system");
  Tlb t(&root, "dtlb", "dtlb", {geometry(1, 1, ReplacementPolicy::lru, {0, 1})}, 1);
  t.insert(src);
  const TlbEntry* in = t.find(src.vpn << 21, 3);
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(std::tie(in->pa_base, in->host, in->pending_host, in->ready, in->host_lo, in->host_hi, in->perm),
            std::tie(src.pa_base, src.host, src.pending_host, src.ready, src.host_lo, src.host_hi, src.perm));
}

TEST(Tlb, FastPathPermissionBits) {
  for (int bits = 0; bits < 16; ++bits)
    for (bool wp : {false, true})
      for (bool nxe : {false, true}) {
        TlbEntry e;
        e.rw = bits & 1;
        e.us = bits & 2;
        e.nx = bits & 4;
        e.dirty = bits & 8;
        e.compute_perm(wp, nxe);
        for (bool user : {false, true}) {
          // x86 rights, written out: user needs U/S; writes need R/W unless
          // supervisor with WP=0; fetches need no XD when NXE; the fast path
          // also needs D for writes.
          const bool r_ok = !user || e.us;
          const bool w_ok = r_ok && (e.rw || (!user && !wp)) && e.dirty;
          const bool f_ok = r_ok && !(nxe && e.nx);
          EXPECT_EQ(bool(e.perm & TlbEntry::perm_bit(x86::Access::read, user)), r_ok);
          EXPECT_EQ(bool(e.perm & TlbEntry::perm_bit(x86::Access::write, user)), w_ok);
          EXPECT_EQ(bool(e.perm & TlbEntry::perm_bit(x86::Access::fetch, user)), f_ok);
        }
      }
}

// ---- Scenario keys ----
Mmu::Params parse(const std::string& yaml) {
  sim::Config cfg = sim::Config::load_string(yaml, "scenario.yaml");
  Mmu::Params p = read_mmu_params(cfg.root().child("platform").child("mmu"), 46, 4, 9);
  cfg.check_unused();
  return p;
}

TEST(MmuConfig, DefaultsAreGoldenCove) {
  const Mmu::Params p = parse("platform: {}\n");
  ASSERT_EQ(p.itlb.size(), 2u);
  EXPECT_EQ(p.itlb[0].sets * p.itlb[0].ways, 256u);
  EXPECT_EQ(p.itlb[1].sets * p.itlb[1].ways, 32u);
  ASSERT_EQ(p.dtlb.size(), 3u);
  EXPECT_EQ(p.dtlb[0].sets * p.dtlb[0].ways, 64u);
  EXPECT_EQ(p.dtlb[0].ways, 4u);
  EXPECT_EQ(p.dtlb[1].sets * p.dtlb[1].ways, 32u);
  EXPECT_EQ(p.dtlb[2].sets * p.dtlb[2].ways, 8u);
  ASSERT_EQ(p.stlb.size(), 2u);
  EXPECT_EQ(p.stlb[0].sets * p.stlb[0].ways, 1024u);
  EXPECT_EQ(p.stlb[0].sizes, (std::vector<unsigned>{0, 1}));
  EXPECT_EQ(p.stlb[1].sizes, (std::vector<unsigned>{2}));
  EXPECT_TRUE(p.pwc.enabled);
  EXPECT_EQ(p.pwc.level[2].ways, 32u);
  EXPECT_EQ(p.window.slots, 4u);
  EXPECT_EQ(p.seed, 9u);
}

TEST(MmuConfig, FullyAssociativeStudyTlb) {
  const Mmu::Params p = parse(
      "platform:\n  mmu:\n    dtlb: {sets: 1, ways: 48, replacement: lru, page_sizes: [4KiB]}\n"
      "    stlb: {enabled: false}\n    pwc: {enabled: false}\n");
  ASSERT_EQ(p.dtlb.size(), 1u);
  EXPECT_EQ(p.dtlb[0].sets, 1u);
  EXPECT_EQ(p.dtlb[0].ways, 48u);
  EXPECT_EQ(p.dtlb[0].sizes, (std::vector<unsigned>{0}));
  EXPECT_TRUE(p.stlb.empty());
  EXPECT_FALSE(p.pwc.enabled);
}

TEST(MmuConfig, NamedArraysAndPolicies) {
  const Mmu::Params p = parse(
      "platform:\n  mmu:\n    itlb:\n      1g: {sets: 1, ways: 4}\n    dtlb:\n      4k: {sets: 8, ways: 8, replacement: "
      "tree-plru}\n      1g: {ways: 0}\n    pwc:\n      pde: {sets: 2, ways: 8, replacement: random}\n"
      "    walks_in_flight: 2\n    lookahead: 0\n");
  ASSERT_EQ(p.itlb.size(), 3u);
  EXPECT_EQ(p.itlb[2].sizes, (std::vector<unsigned>{2}));
  ASSERT_EQ(p.dtlb.size(), 2u) << "ways: 0 removes an array";
  EXPECT_EQ(p.dtlb[0].replacement, ReplacementPolicy::tree_plru);
  EXPECT_EQ(p.pwc.level[2].replacement, ReplacementPolicy::random);
  EXPECT_EQ(p.pwc.level[2].sets, 2u);
  EXPECT_EQ(p.window.slots, 2u);
  EXPECT_EQ(p.window.lookahead, 0u);
}

TEST(MmuConfig, BadValuesAreOneLineErrorsNamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"dtlb: {sets: 3, ways: 4}", "platform.mmu.dtlb.sets"},
      {"dtlb: {sets: 1, ways: 6, replacement: tree-plru}", "platform.mmu.dtlb.replacement"},
      {"dtlb: {sets: 1, ways: 4, 4k: {ways: 2}}", "platform.mmu.dtlb.4k"},
      {"dtlb: {page_sizes: [2MiB]}", "platform.mmu.dtlb.page_sizes"},
      {"dtlb: {page_sizes: [3MiB]}", "platform.mmu.dtlb.page_sizes"},
      {"dtlb: {4k: {replacement: fifo}}", "platform.mmu.dtlb.4k.replacement"},
      {"walks_in_flight: 0", "platform.mmu.walks_in_flight"},
      {"stlb: {4k2m: {sets: 0}}", "platform.mmu.stlb.4k2m.sets"},
      {"dtlb: {4k: {seta: 4}}", "platform.mmu.dtlb.4k.seta"},
  };
  for (const auto& [text, key] : bad) {
    try {
      parse("platform:\n  mmu:\n    " + text + "\n");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const sim::ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("scenario.yaml:"), std::string::npos) << msg;
      EXPECT_NE(msg.find(key), std::string::npos) << text << " -> " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace hw
