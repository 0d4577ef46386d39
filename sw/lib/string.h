// Memory and string helpers. The firmware links against nothing but
// memcpy/memset/memmove/memcmp/strlen (the freestanding runtime provides
// them, the host's libc otherwise); everything else is written here.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace fw {

// Builtins let the compiler inline small fixed-size copies even under
// -ffreestanding (which otherwise turns memcpy into a call).
inline void* mem_copy(void* dst, const void* src, size_t n) { return __builtin_memcpy(dst, src, n); }
inline void* mem_set(void* dst, int c, size_t n) { return __builtin_memset(dst, c, n); }
inline void* mem_move(void* dst, const void* src, size_t n) { return __builtin_memmove(dst, src, n); }
inline int mem_cmp(const void* a, const void* b, size_t n) { return __builtin_memcmp(a, b, n); }
inline size_t str_len(const char* s) { return __builtin_strlen(s); }

inline bool str_eq(const char* a, const char* b) {
  while (*a && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

// Copies at most n-1 characters and always terminates (like strscpy).
inline size_t str_copy(char* dst, const char* src, size_t n) {
  if (n == 0) return 0;
  size_t i = 0;
  for (; i + 1 < n && src[i]; ++i) dst[i] = src[i];
  dst[i] = '\0';
  return i;
}

}  // namespace fw
