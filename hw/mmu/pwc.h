// Paging-structure caches (SDM vol. 3A 4.10.3): per paging level L >= 2 a
// small cache of the non-leaf entries of that level (PML4E cache for L = 4,
// PDPTE cache for L = 3, PDE cache for L = 2; a PML5E cache with 5-level
// paging). An entry is tagged by PCID and the linear-address bits that index
// levels `levels`..L, and holds the physical address of the next table with
// the R/W and U/S rights ANDed and XD ORed over those levels. A hit at level L
// lets a walk start at level L-1 (hw::WalkRequest start_level/start_table/
// acc_*); the deepest hit wins, as in the SDM's lookup order.
//
// Entries are created only from walks that produced a translation, and only
// for the levels that walk read: their A bits are then 1 in memory (the walk
// set them) and P = 1, PS = 0 and no reserved bit, as the SDM requires. The
// global bit never applies to them (SDM 4.10.3.1), so every invalidation is
// by PCID.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hw/ext/walk.h"
#include "hw/mmu/replacement.h"
#include "hw/base/debug.h"
#include "hw/base/stats.h"

// Printed by the paging-structure caches.
SIM_DECLARE_DEBUG_FLAG(PWC)

namespace hw {

struct PwcGeometry {
  unsigned sets = 1;
  unsigned ways = 0;  // 0: no cache for this level
  ReplacementPolicy replacement = ReplacementPolicy::lru;
};

// "pde", "pdpte", "pml4e", "pml5e" for levels 2..5.
const char* pwc_level_name(unsigned level);

class PwcLevel {
 public:
  struct Entry {
    uint64_t tag = ~0ull;
    uint64_t table = 0;   // physical address of the table at level L-1
    uint16_t pcid = 0;
    bool rw = false, us = false, nx = false;
  };

  PwcLevel(sim::stats::Group* stats_parent, unsigned level, unsigned levels, const PwcGeometry& g, uint64_t seed);

  unsigned level() const { return level_; }
  unsigned capacity() const { return g_.sets * g_.ways; }
  uint64_t tag_of(uint64_t va) const { return (va >> shift_) & tag_mask_; }

  // The entry for va and pcid, or nullptr; `set` and `way` say where it is.
  // Inline: every walk looks up each level until a hit. The way of the last
  // hit is tried first (walks near each other hit the same entry; keys are
  // unique in an array, so a matching key there is the match).
  const Entry* find(uint64_t va, uint16_t pcid, unsigned& set, unsigned& way) const {
    const uint64_t tag = tag_of(va);
    const uint64_t k = key(tag, pcid);
    if (keys_[hint_.slot] == k) {
      set = hint_.set;
      way = hint_.way;
      return &entries_[hint_.slot];
    }
    set = static_cast<unsigned>(tag & (g_.sets - 1));
    const unsigned base = set * g_.ways;
    const uint64_t* keys = &keys_[base];
    for (unsigned w = 0; w < g_.ways; ++w) {
      if (keys[w] == k) {
        way = w;
        hint_ = {base + w, set, w};
        return &entries_[base + w];
      }
    }
    return nullptr;
  }
  const Entry* find(uint64_t va, uint16_t pcid) const {
    unsigned set = 0, way = 0;
    return find(va, pcid, set, way);
  }
  // Returns true when a valid entry was evicted.
  bool insert(const Entry& e);
  unsigned flush_pcid(uint16_t pcid);
  unsigned flush_all();
  unsigned flush_va(uint64_t va, uint16_t pcid);
  void touch(unsigned set, unsigned way) { repl_.touch(set, way); }

  template <typename F>
  void for_each_valid(F&& f) const {
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] != kNoKey) f(entries_[i]);
  }

  struct Stats : sim::stats::Group {
    Stats(sim::stats::Group* parent, const std::string& name);
    sim::stats::Scalar hits{this, "hits", "Walks that started below this level thanks to this cache", "Count"};
    sim::stats::Scalar misses{this, "misses", "Lookups that missed in this cache", "Count"};
    sim::stats::Scalar fills{this, "fills", "Entries installed", "Count"};
    sim::stats::Scalar evictions{this, "evictions", "Valid entries replaced", "Count"};
    sim::stats::Scalar invalidations{this, "invalidations", "Entries removed by invalidation", "Count"};
  } stats;

 private:
  // Lookups scan dense keys (tag and PCID in one word), not whole entries.
  static constexpr uint64_t kNoKey = ~0ull;
  static uint64_t key(uint64_t tag, uint16_t pcid) { return (tag << 16) | pcid; }
  void drop(size_t i) {
    keys_[i] = kNoKey;
    entries_[i].tag = ~0ull;
  }

  unsigned level_;
  PwcGeometry g_;
  unsigned shift_;
  uint64_t tag_mask_;
  std::vector<uint64_t> keys_;
  std::vector<Entry> entries_;
  Replacement repl_;
  // Where find() matched last (a lookup hint only: checked against the key).
  struct Hint {
    unsigned slot = 0, set = 0, way = 0;
  };
  mutable Hint hint_;
};

class Pwc {
 public:
  struct Params {
    bool enabled = true;
    // Indexed by level (2..5); ways = 0 leaves a level without a cache.
    std::array<PwcGeometry, kMaxLevels + 1> level{};
    sc_core::sc_time latency = sc_core::SC_ZERO_TIME;  // one lookup, charged to every walk
    // INVLPG invalidates the entries of the current PCID (SDM); with this it
    // invalidates those of every PCID (also allowed by the SDM).
    bool invlpg_all_pcids = false;
  };

  // `walks`: the owner's count of walks, each of which looks the caches up
  // once (Mmu::walk), which the lookups statistic reads when dumped.
  Pwc(sim::stats::Group* stats_parent, const std::string& who, unsigned levels, const Params& p, uint64_t seed,
      const sim::stats::Scalar& walks);

  bool enabled() const { return p_.enabled; }
  // Debug lines carry this time (the owning core's) when set, else SystemC's.
  void set_clock(const sc_core::sc_time* now) { clock_ = now; }
  const Params& params() const { return p_; }
  PwcLevel* level(unsigned l) { return l < caches_.size() ? caches_[l].get() : nullptr; }

  // Sets rq's start (level, table, accumulated rights) from the deepest hit
  // for va, or leaves it a full walk. Counts hits and misses.
  // Inline: every walk starts here.
  __attribute__((always_inline)) void lookup(uint64_t va, uint16_t pcid, WalkRequest& rq) {
    if (!p_.enabled) return;
    // Deepest first: a PDE-cache hit skips the most.
    for (unsigned l = 2; l <= levels_; ++l) {
      PwcLevel* c = by_level_[l];
      if (!c) continue;
      unsigned set = 0, way = 0;
      if (const PwcLevel::Entry* e = c->find(va, pcid, set, way)) {
        c->touch(set, way);
        ++c->stats.hits;
        rq.start_level = l - 1;
        rq.start_table = e->table;
        rq.acc_rw = e->rw;
        rq.acc_us = e->us;
        rq.acc_nx = e->nx;
        if (__builtin_expect(sim::debug::PWC.enabled, 0)) trace_hit(l, va, pcid, e->table);
        return;
      }
      ++c->stats.misses;
    }
    if (__builtin_expect(sim::debug::PWC.enabled, 0)) trace_miss(va, pcid);
  }
  // Caches the non-leaf entries of a walk that produced a translation. Inline
  // test first: a walk that started just above its leaf read no such entry.
  void fill(const WalkRequest& rq, const WalkResult& r, uint16_t pcid) {
    if (p_.enabled && r.status == WalkStatus::ok && rq.start_level > r.leaf_level) fill_levels(rq, r, pcid);
  }

  unsigned flush_pcid(uint16_t pcid);
  unsigned flush_all();
  // The entries that would be used to translate va (INVPCID type 0, page faults).
  unsigned flush_va(uint64_t va, uint16_t pcid);

  // Test/monitor probe (uncounted): is there an entry at `level` for va?
  bool holds(unsigned level, uint64_t va, uint16_t pcid) const;

  // Both worked out when dumped, so that a lookup counts one counter, not
  // three: lookups are the owner's walks (while enabled), and the levels
  // skipped follow from each level's hits (a lookup stops at its first).
  struct Stats : sim::stats::Group {
    Stats(sim::stats::Group* parent, const Pwc* owner);
    sim::stats::Gauge lookups;
    sim::stats::Gauge skipped_levels;
  } stats;

 private:
  void fill_levels(const WalkRequest& rq, const WalkResult& r, uint16_t pcid);
  void trace_hit(unsigned level, uint64_t va, uint16_t pcid, uint64_t table) const;
  void trace_miss(uint64_t va, uint16_t pcid) const;
  uint64_t tick() const;
  uint64_t skipped_levels() const;

  Params p_;
  const sim::stats::Scalar& walks_;
  const sc_core::sc_time* clock_ = nullptr;
  unsigned levels_;
  std::string who_;
  std::vector<std::unique_ptr<PwcLevel>> caches_;  // by level; null where absent
  PwcLevel* by_level_[kMaxLevels + 1] = {};        // the same, for lookups
};

}  // namespace hw
