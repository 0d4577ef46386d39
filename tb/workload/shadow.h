// The shadow of a process's memory: what the process last wrote at each
// address of each mapped region (fresh anonymous memory reads as zero).
// Every read the process makes is checked against it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

namespace tb {

class Shadow {
 public:
  struct Region {
    uint64_t start = 0, length = 0;
    uint8_t* data = nullptr;  // host copy, sparse (MAP_NORESERVE)
    uint64_t end() const { return start + length; }
    bool contains(uint64_t va, unsigned len) const { return va >= start && va + len <= start + length; }
  };

  Shadow() = default;
  ~Shadow();
  Shadow(const Shadow&) = delete;
  Shadow& operator=(const Shadow&) = delete;

  // A new mapping: reads as zero.
  void map(uint64_t start, uint64_t length);
  // Removes [start, start+length) from the shadow (splitting regions).
  void unmap(uint64_t start, uint64_t length);
  // Makes [start, start+length) read as zero again (e.g. MADV_DONTNEED).
  void zero(uint64_t start, uint64_t length);
  // The region holding [va, va+len), or nullptr.
  const Region* find(uint64_t va, unsigned len) const;
  // A copy (fork): the child starts with the parent's contents.
  std::unique_ptr<Shadow> clone() const;

  static uint64_t load(const Region& r, uint64_t va, unsigned len);
  static void store(const Region& r, uint64_t va, unsigned len, uint64_t value);

 private:
  static uint8_t* alloc(uint64_t length);
  static void release(uint8_t* p, uint64_t length);
  std::map<uint64_t, Region> regions_;  // by start
};

}  // namespace tb
