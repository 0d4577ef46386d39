#include "tb/workload/host_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <new>

namespace tb {

namespace {

uint64_t host_page() {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return page;
}

uint64_t round_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

void* map(uint64_t length) {
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  madvise(p, length, MADV_HUGEPAGE);  // a hint: where the host has no THP, 4 KiB pages
  return p;
}

// Ahead of each host_alloc block: how many bytes were mapped (0: malloc).
// 64 bytes keep the block as aligned as malloc's and a cache line apart.
struct alignas(64) Header {
  uint64_t mapped;
};

}  // namespace

HostBuffer::HostBuffer(uint64_t length) : length_(length), mapped_(round_up(length ? length : 1, host_page())) {
  data_ = static_cast<uint8_t*>(map(mapped_));
  if (!data_) throw std::bad_alloc();
}

HostBuffer& HostBuffer::operator=(HostBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    data_ = o.data_;
    length_ = o.length_;
    mapped_ = o.mapped_;
    o.data_ = nullptr;
  }
  return *this;
}

void HostBuffer::shrink(uint64_t length) {
  if (!data_ || length >= length_) return;
  const uint64_t keep = round_up(length ? length : 1, host_page());
  if (keep < mapped_) munmap(data_ + keep, mapped_ - keep);
  mapped_ = keep;
  length_ = length;
}

void HostBuffer::reset() {
  if (data_) munmap(data_, mapped_);
  data_ = nullptr;
  length_ = mapped_ = 0;
}

void* host_alloc(size_t size) {
  Header* h;
  if (size >= kBigBlock) {
    const uint64_t mapped = round_up(sizeof(Header) + size, host_page());
    h = static_cast<Header*>(map(mapped));
    if (!h) return nullptr;
    h->mapped = mapped;
  } else {
    h = static_cast<Header*>(std::aligned_alloc(alignof(Header), round_up(sizeof(Header) + size, alignof(Header))));
    if (!h) return nullptr;
    h->mapped = 0;
  }
  return h + 1;
}

void host_free(void* p) {
  if (!p) return;
  Header* h = static_cast<Header*>(p) - 1;
  if (h->mapped) munmap(h, h->mapped);
  else std::free(h);
}

}  // namespace tb
