// The initial content of the files a scenario declares (workload.files):
// a pure function of the run's seed, the file's inode number and the byte
// offset, so nothing has to be stored to know it. The disk model's content
// source (installed by tb/top before boot) and the shadow's file model
// (tb/workload/files.h) both use it: whatever the firmware reads from a
// never-written block must equal what the shadow expects there.
// Users: tb/top/storage.cpp, tb/workload/files.cpp, bench_storage.
#pragma once

#include <cstdint>

namespace tb {

// The 8-byte word number `word` of file `ino` (a file's bytes are these
// words, little-endian, one after another from offset 0).
inline uint64_t file_content_word(uint64_t seed, uint32_t ino, uint64_t word) {
  // splitmix64's finaliser over a key that differs per (seed, ino, word).
  uint64_t z = seed * 0x9e3779b97f4a7c15ull + (static_cast<uint64_t>(ino) << 40) + word * 0xd1b54a32d192ed03ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Writes bytes [file_offset, file_offset + len) of file `ino`'s initial
// content to dst (any alignment, any length).
void file_initial_content(uint64_t seed, uint32_t ino, uint64_t file_offset, uint8_t* dst, uint64_t len);

}  // namespace tb
