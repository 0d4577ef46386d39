// Replacement state of one set-associative array (a TLB array or a
// paging-structure cache): which way of a full set to evict. Three policies:
//   lru        true least-recently-used (a use stamp per way);
//   tree-plru  the binary-tree pseudo-LRU of hardware TLBs and caches (ways-1
//              bits per set; needs a power-of-two number of ways);
//   random     a victim drawn from a per-array generator seeded from the run's
//              seed, so a run is still deterministic.
// Invalid ways are always filled first; the policy only picks among valid ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hw {

enum class ReplacementPolicy : uint8_t { lru, tree_plru, random };

const char* replacement_name(ReplacementPolicy p);
// "lru", "tree-plru" (or "plru"), "random"; false for anything else.
bool parse_replacement(const std::string& text, ReplacementPolicy& out);

// Deterministic 64-bit mixing (splitmix64 finaliser): derives independent
// seeds for each core and array from the run's one seed.
uint64_t mix_seed(uint64_t seed, uint64_t salt);

class Replacement {
 public:
  // Throws std::invalid_argument for tree-plru with a non-power-of-two ways.
  Replacement(ReplacementPolicy policy, unsigned sets, unsigned ways, uint64_t seed);

  ReplacementPolicy policy() const { return policy_; }
  // LRU: use a clock shared with other arrays (any monotonic counter orders
  // the uses within a set), so a caller can stamp a use directly.
  void share_clock(uint64_t* clock) { clock_ = clock; }
  uint64_t* clock() { return clock_; }

  // Times this object advanced the clock (its own LRU touches).
  uint64_t ticks() const { return ticks_; }
  // LRU: where the use stamp of (set, way) lives.
  uint64_t* stamp(unsigned set, unsigned way) {
    return policy_ == ReplacementPolicy::lru ? &stamps_[static_cast<size_t>(set) * ways_ + way] : nullptr;
  }

  // A use of (set, way): on every hit and fill. Hot: inline and branch-light.
  __attribute__((always_inline)) void touch(unsigned set, unsigned way) {
    switch (policy_) {
      case ReplacementPolicy::lru:
        stamps_[static_cast<size_t>(set) * ways_ + way] = ++*clock_;
        ++ticks_;
        break;
      case ReplacementPolicy::tree_plru:
        plru_touch(set, way);
        break;
      case ReplacementPolicy::random:
        break;
    }
  }
  // The way to evict from a full set. LRU (the default, on every TLB fill of
  // a full set) inline.
  __attribute__((always_inline)) unsigned victim(unsigned set) {
    if (policy_ != ReplacementPolicy::lru) return victim_by_policy(set);
    const uint64_t* s = &stamps_[static_cast<size_t>(set) * ways_];
    unsigned v = 0;
    for (unsigned w = 1; w < ways_; ++w)
      if (s[w] < s[v]) v = w;
    return v;
  }
  // Forget all history (the array was flushed).
  void reset();

 private:
  unsigned victim_by_policy(unsigned set);  // tree-plru, random
  void plru_touch(unsigned set, unsigned way) {
    // Walk from the root; each node's bit points at the half to evict next,
    // so it is set to point away from the half just used.
    uint8_t* node = &tree_[static_cast<size_t>(set) * ways_];
    unsigned i = 0, lo = 0, span = ways_;
    while (span > 1) {
      span >>= 1;
      const bool right = way >= lo + span;
      node[i] = right ? 0 : 1;
      if (right) lo += span;
      i = 2 * i + (right ? 2 : 1);
    }
  }

  ReplacementPolicy policy_;
  unsigned sets_, ways_;
  uint64_t own_clock_ = 0, ticks_ = 0;
  uint64_t* clock_ = &own_clock_;
  std::vector<uint64_t> stamps_;  // lru: last use per way
  std::vector<uint8_t> tree_;     // tree-plru: ways-1 node bits per set (stride ways)
  uint64_t seed_, rng_;
};

}  // namespace hw
