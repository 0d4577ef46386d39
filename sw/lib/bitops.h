// Bit operations and alignment arithmetic.
#pragma once

#include <stdint.h>

namespace fw {

// Index of the lowest set bit; x must be non-zero.
constexpr unsigned ffs64(uint64_t x) { return static_cast<unsigned>(__builtin_ctzll(x)); }
// Index of the highest set bit; x must be non-zero.
constexpr unsigned fls64(uint64_t x) { return 63u - static_cast<unsigned>(__builtin_clzll(x)); }
constexpr unsigned ilog2(uint64_t x) { return fls64(x); }
constexpr bool is_power_of_2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

// a must be a power of two.
constexpr uint64_t align_down(uint64_t x, uint64_t a) { return x & ~(a - 1); }
constexpr uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }
constexpr bool is_aligned(uint64_t x, uint64_t a) { return (x & (a - 1)) == 0; }
constexpr uint64_t div_round_up(uint64_t n, uint64_t d) { return (n + d - 1) / d; }

// Fixed-size bitmaps over 64-bit words.
inline bool test_bit(unsigned nr, const uint64_t* map) { return (map[nr / 64] >> (nr % 64)) & 1; }
inline void set_bit(unsigned nr, uint64_t* map) { map[nr / 64] |= 1ull << (nr % 64); }
inline void clear_bit(unsigned nr, uint64_t* map) { map[nr / 64] &= ~(1ull << (nr % 64)); }

// First clear bit at or after `start` below `size`; `size` if none.
inline unsigned find_next_zero_bit(const uint64_t* map, unsigned size, unsigned start) {
  for (unsigned i = start; i < size;) {
    const uint64_t w = ~map[i / 64] >> (i % 64);
    if (w) {
      const unsigned r = i + ffs64(w);
      return r < size ? r : size;
    }
    i = (i / 64 + 1) * 64;
  }
  return size;
}

}  // namespace fw
