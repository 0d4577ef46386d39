#include "tb/workload/file_content.h"

#include <cstring>

namespace tb {

void file_initial_content(uint64_t seed, uint32_t ino, uint64_t file_offset, uint8_t* dst, uint64_t len) {
  uint64_t word = file_offset / 8;
  // A partial first word.
  if (const unsigned skip = static_cast<unsigned>(file_offset % 8); skip && len) {
    const uint64_t v = file_content_word(seed, ino, word++);
    const unsigned n = static_cast<unsigned>(len < 8 - skip ? len : 8 - skip);
    std::memcpy(dst, reinterpret_cast<const uint8_t*>(&v) + skip, n);
    dst += n;
    len -= n;
  }
  for (; len >= 8; len -= 8, dst += 8) {
    const uint64_t v = file_content_word(seed, ino, word++);
    std::memcpy(dst, &v, 8);
  }
  if (len) {
    const uint64_t v = file_content_word(seed, ino, word);
    std::memcpy(dst, &v, len);
  }
}

}  // namespace tb
