#include "hw/mmu/replacement.h"

#include <stdexcept>

#include <fmt/format.h>

namespace hw {

const char* replacement_name(ReplacementPolicy p) {
  switch (p) {
    case ReplacementPolicy::lru: return "lru";
    case ReplacementPolicy::tree_plru: return "tree-plru";
    case ReplacementPolicy::random: return "random";
  }
  return "?";
}

bool parse_replacement(const std::string& text, ReplacementPolicy& out) {
  if (text == "lru") out = ReplacementPolicy::lru;
  else if (text == "tree-plru" || text == "plru") out = ReplacementPolicy::tree_plru;
  else if (text == "random") out = ReplacementPolicy::random;
  else return false;
  return true;
}

uint64_t mix_seed(uint64_t seed, uint64_t salt) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Replacement::Replacement(ReplacementPolicy policy, unsigned sets, unsigned ways, uint64_t seed)
    : policy_(policy), sets_(sets), ways_(ways), seed_(seed) {
  if (policy_ == ReplacementPolicy::tree_plru && (ways_ & (ways_ - 1)))
    throw std::invalid_argument(fmt::format("tree-plru needs a power-of-two number of ways, got {}", ways_));
  reset();
}

void Replacement::reset() {
  // xorshift64* must not start at 0.
  rng_ = mix_seed(seed_, 0x5eed) | 1;
  switch (policy_) {
    case ReplacementPolicy::lru: stamps_.assign(static_cast<size_t>(sets_) * ways_, 0); break;
    case ReplacementPolicy::tree_plru: tree_.assign(static_cast<size_t>(sets_) * ways_, 0); break;
    case ReplacementPolicy::random: break;
  }
}

unsigned Replacement::victim_by_policy(unsigned set) {
  switch (policy_) {
    case ReplacementPolicy::lru:
      return victim(set);
    case ReplacementPolicy::tree_plru: {
      const uint8_t* node = &tree_[static_cast<size_t>(set) * ways_];
      unsigned i = 0, lo = 0, span = ways_;
      while (span > 1) {
        span >>= 1;
        const bool right = node[i];
        if (right) lo += span;
        i = 2 * i + (right ? 2 : 1);
      }
      return lo;
    }
    case ReplacementPolicy::random: {
      rng_ ^= rng_ >> 12;
      rng_ ^= rng_ << 25;
      rng_ ^= rng_ >> 27;
      return static_cast<unsigned>(((rng_ * 0x2545f4914f6cdd1dull) >> 32) % ways_);
    }
  }
  return 0;
}

}  // namespace hw
