// Compiler helpers shared by the firmware. Freestanding: builtins only.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FW_LIKELY(x) __builtin_expect(!!(x), 1)
#define FW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FW_PRINTF(fmt_idx, first_arg) __attribute__((format(printf, fmt_idx, first_arg)))

// The enclosing object of an intrusive member (Linux's container_of). The
// types it is used with are standard-layout, so offsetof is well defined.
#define fw_container_of(ptr, type, member) \
  (reinterpret_cast<type*>(reinterpret_cast<char*>(ptr) - offsetof(type, member)))

namespace fw {

template <typename T, size_t N>
constexpr size_t array_size(const T (&)[N]) {
  return N;
}

template <typename T>
constexpr T min(T a, T b) {
  return a < b ? a : b;
}
template <typename T>
constexpr T max(T a, T b) {
  return a > b ? a : b;
}
// Linux clamp(): v within [lo, hi], tested against hi first as Linux's
// __clamp is (which matters when a computed lo exceeds hi).
template <typename T>
constexpr T clamp(T v, T lo, T hi) {
  return v >= hi ? hi : v <= lo ? lo : v;
}

}  // namespace fw
