#include "tb/workload/shadow.h"

#include <sys/mman.h>

#include <cstring>
#include <new>
#include <vector>

namespace tb {

uint8_t* Shadow::alloc(uint64_t length) {
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<uint8_t*>(p);
}

void Shadow::release(uint8_t* p, uint64_t length) {
  if (p) munmap(p, length);
}

Shadow::~Shadow() {
  for (auto& [start, r] : regions_) release(r.data, r.length);
}

void Shadow::map(uint64_t start, uint64_t length) {
  unmap(start, length);  // a fixed mapping replaces what was there
  Region r{start, length, alloc(length)};
  regions_[start] = r;
}

void Shadow::unmap(uint64_t start, uint64_t length) {
  const uint64_t end = start + length;
  std::vector<Region> keep;
  for (auto it = regions_.begin(); it != regions_.end();) {
    Region r = it->second;
    if (r.end() <= start || r.start >= end) {
      ++it;
      continue;
    }
    it = regions_.erase(it);
    // Keep the parts outside [start, end), with their contents.
    if (r.start < start) {
      Region left{r.start, start - r.start, alloc(start - r.start)};
      std::memcpy(left.data, r.data, left.length);
      keep.push_back(left);
    }
    if (r.end() > end) {
      Region right{end, r.end() - end, alloc(r.end() - end)};
      std::memcpy(right.data, r.data + (end - r.start), right.length);
      keep.push_back(right);
    }
    release(r.data, r.length);
  }
  for (const Region& r : keep) regions_[r.start] = r;
}

void Shadow::zero(uint64_t start, uint64_t length) {
  const uint64_t end = start + length;
  for (auto& [s, r] : regions_) {
    const uint64_t lo = std::max(start, r.start), hi = std::min(end, r.end());
    if (lo < hi) std::memset(r.data + (lo - r.start), 0, hi - lo);
  }
}

const Shadow::Region* Shadow::find(uint64_t va, unsigned len) const {
  auto it = regions_.upper_bound(va);
  if (it == regions_.begin()) return nullptr;
  --it;
  return it->second.contains(va, len) ? &it->second : nullptr;
}

std::unique_ptr<Shadow> Shadow::clone() const {
  auto copy = std::make_unique<Shadow>();
  for (const auto& [start, r] : regions_) {
    Region c{r.start, r.length, alloc(r.length)};
    std::memcpy(c.data, r.data, r.length);
    copy->regions_[start] = c;
  }
  return copy;
}

uint64_t Shadow::load(const Region& r, uint64_t va, unsigned len) {
  uint64_t v = 0;
  std::memcpy(&v, r.data + (va - r.start), len);
  return v;
}

void Shadow::store(const Region& r, uint64_t va, unsigned len, uint64_t value) {
  std::memcpy(r.data + (va - r.start), &value, len);
}

}  // namespace tb
