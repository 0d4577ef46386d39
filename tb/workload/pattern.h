// Address patterns of an access phase over a region: sequential, strided,
// uniform random and zipfian (hot pages scattered over the region).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tb/workload/rng.h"

namespace tb {

class Pattern {
 public:
  enum class Kind { sequential, strided, random, zipf };
  static bool parse_kind(const std::string& s, Kind& k);
  static const char* kind_name(Kind k);

  // Offsets in [0, length), aligned to `size`. stride: sequential/strided step.
  Pattern(Kind kind, uint64_t length, unsigned size, uint64_t stride, uint64_t seed, double theta);

  uint64_t next();
  // The next n offsets, as n calls of next() give them.
  void fill(uint64_t* out, unsigned n);
  Kind kind() const { return kind_; }

 private:
  uint64_t zipf_rank();

  Kind kind_;
  uint64_t length_;
  unsigned size_;
  uint64_t stride_;
  uint64_t pos_ = 0;
  Rng rng_;
  // zipf over pages (YCSB's generator, Gray et al.)
  uint64_t items_ = 0;
  double theta_ = 0, alpha_ = 0, zetan_ = 0, eta_ = 0, half_pow_theta_ = 0;
};

}  // namespace tb
