#include "tb/workload/pattern.h"

#include <cmath>

#include "sw/hal/x86.h"

namespace tb {

bool Pattern::parse_kind(const std::string& s, Kind& k) {
  if (s == "sequential") k = Kind::sequential;
  else if (s == "strided") k = Kind::strided;
  else if (s == "random") k = Kind::random;
  else if (s == "zipf") k = Kind::zipf;
  else return false;
  return true;
}

const char* Pattern::kind_name(Kind k) {
  switch (k) {
    case Kind::sequential: return "sequential";
    case Kind::strided: return "strided";
    case Kind::random: return "random";
    case Kind::zipf: return "zipf";
  }
  return "?";
}

Pattern::Pattern(Kind kind, uint64_t length, unsigned size, uint64_t stride, uint64_t seed, double theta)
    : kind_(kind), length_(length), size_(size), stride_(stride ? stride : size), rng_(seed), theta_(theta) {
  if (kind_ == Kind::zipf) {
    items_ = (length_ + x86::PAGE_SIZE - 1) / x86::PAGE_SIZE;
    double zeta = 0;
    for (uint64_t i = 1; i <= items_; ++i) zeta += 1.0 / std::pow(static_cast<double>(i), theta_);
    zetan_ = zeta;
    const double zeta2 = 1.0 + 1.0 / std::pow(2.0, theta_);
    alpha_ = 1.0 / (1.0 - theta_);
    eta_ = (1.0 - std::pow(2.0 / static_cast<double>(items_), 1.0 - theta_)) / (1.0 - zeta2 / zetan_);
    half_pow_theta_ = 1.0 + std::pow(0.5, theta_);
  }
}

uint64_t Pattern::zipf_rank() {
  const double u = rng_.uniform();
  const double uz = u * zetan_;
  if (uz < 1.0) return 0;
  if (uz < half_pow_theta_) return 1;
  const uint64_t r = static_cast<uint64_t>(static_cast<double>(items_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
  return r < items_ ? r : items_ - 1;
}

uint64_t Pattern::next() {
  const uint64_t slots = length_ / size_;
  switch (kind_) {
    case Kind::sequential:
    case Kind::strided: {
      const uint64_t off = pos_;
      pos_ += stride_;
      if (pos_ + size_ > length_) pos_ = (pos_ % stride_ + size_) % stride_;  // next lane of a strided sweep
      return off;
    }
    case Kind::random:
      return rng_.below(slots) * size_;
    case Kind::zipf: {
      // Rank -> page, scrambled so hot pages are spread over the region.
      const uint64_t page = mix64(zipf_rank()) % items_;
      const uint64_t in_page = rng_.below(x86::PAGE_SIZE / size_) * size_;
      const uint64_t off = page * x86::PAGE_SIZE + in_page;
      return off + size_ <= length_ ? off : (length_ - size_) & ~static_cast<uint64_t>(size_ - 1);
    }
  }
  return 0;
}

void Pattern::fill(uint64_t* out, unsigned n) {
  // The choice of pattern made once for the whole run of offsets.
  switch (kind_) {
    case Kind::sequential:
    case Kind::strided:
      for (unsigned i = 0; i < n; ++i) {
        out[i] = pos_;
        pos_ += stride_;
        if (pos_ + size_ > length_) pos_ = (pos_ % stride_ + size_) % stride_;  // next lane of a strided sweep
      }
      return;
    case Kind::random: {
      const uint64_t slots = length_ / size_;
      for (unsigned i = 0; i < n; ++i) out[i] = rng_.below(slots) * size_;
      return;
    }
    case Kind::zipf:
      for (unsigned i = 0; i < n; ++i) out[i] = next();
      return;
  }
}

}  // namespace tb
