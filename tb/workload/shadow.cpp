#include "tb/workload/shadow.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "sw/hal/x86.h"

namespace tb {

void Shadow::map(uint64_t start, uint64_t length, bool shared) {
  unmap(start, length);
  ++generation_;
  Region r;
  r.start = start;
  r.length = length;
  r.buf = std::make_shared<Buffer>(length);
  r.shared = shared;
  regions_[start] = r;
}

void Shadow::map_file(uint64_t start, uint64_t length, FileState* file, uint64_t file_offset, bool shared) {
  unmap(start, length);
  ++generation_;
  Region r;
  r.start = start;
  r.length = length;
  r.fmap = std::make_shared<FileMap>();
  r.fmap->file = file;
  r.fmap->file_offset = file_offset;
  r.fmap->shared = shared;
  r.shared = shared;
  regions_[start] = r;
}

namespace {

constexpr uint64_t kPage = x86::PAGE_SIZE;

// The file offset a file mapping's address stands for.
uint64_t file_pos(const Shadow::Region& r, uint64_t va) { return r.fmap->file_offset + r.offset + (va - r.start); }

}  // namespace

void Shadow::load(const Region& r, uint64_t va, uint64_t len, uint8_t* dst) const {
  if (!r.fmap) {
    std::memcpy(dst, r.at(va), len);
    return;
  }
  // Page by page: a private mapping's copied pages, else the file.
  while (len) {
    const uint64_t pos = file_pos(r, va), n = std::min(len, kPage - pos % kPage);
    const auto it = r.fmap->cow.find(pos / kPage);
    if (it != r.fmap->cow.end()) std::memcpy(dst, it->second.get() + pos % kPage, n);
    else r.fmap->file->read(pos, n, dst);
    va += n;
    dst += n;
    len -= n;
  }
}

void Shadow::store_file(const Region& r, uint64_t va, unsigned len, const uint8_t* data) {
  const uint64_t pos = file_pos(r, va);
  FileMap& fm = *r.fmap;
  if (fm.shared) {
    fm.file->write(pos, len, data);
    return;
  }
  // The first store to a page of a private mapping copies the page as the file holds it now.
  auto& page = fm.cow[pos / kPage];
  if (!page) {
    page = std::make_unique<uint8_t[]>(kPage);
    fm.file->read(pos / kPage * kPage, kPage, page.get());
  }
  std::memcpy(page.get() + pos % kPage, data, len);
}

bool Shadow::check_file(const Region& r, uint64_t va, unsigned len, const uint8_t* data, uint8_t* expected) const {
  load(r, va, len, expected);
  if (std::memcmp(expected, data, len) == 0) return true;
  // A page of the file a memory error took (files.h) reads as whatever
  // the disk kept; a private mapping's own copy is not the file's.
  const uint64_t pos = file_pos(r, va);
  return r.fmap->file->lost(pos / kPage) && !r.fmap->cow.count(pos / kPage);
}

void Shadow::load_range(uint64_t va, uint64_t len, uint8_t* dst) const {
  for (uint64_t done = 0; done < len;) {
    const uint64_t n = std::min(len - done, kPage - (va + done) % kPage);
    if (const Region* r = find(va + done, static_cast<unsigned>(n))) load(*r, va + done, n, dst + done);
    else std::memset(dst + done, 0, n);
    done += n;
  }
}

void Shadow::store_range(uint64_t va, uint64_t len, const uint8_t* src) {
  for (uint64_t done = 0; done < len;) {
    const uint64_t n = std::min(len - done, kPage - (va + done) % kPage);
    if (const Region* r = find(va + done, static_cast<unsigned>(n))) store(*r, va + done, static_cast<unsigned>(n), src + done);
    done += n;
  }
}

void Shadow::unmap(uint64_t start, uint64_t length) {
  ++generation_;
  const uint64_t end = start + length;
  std::vector<Region> keep;
  for (auto it = regions_.begin(); it != regions_.end();) {
    const Region r = it->second;
    if (r.end() <= start || r.start >= end) {
      ++it;
      continue;
    }
    it = regions_.erase(it);
    // The parts outside [start, end) keep their data: same buffer, new bounds.
    if (r.start < start) {
      Region left = r;
      left.length = start - r.start;
      keep.push_back(left);
    }
    if (r.end() > end) {
      Region right = r;
      right.start = end;
      right.length = r.end() - end;
      right.offset = r.offset + (end - r.start);
      keep.push_back(right);
    }
  }
  for (const Region& r : keep) regions_[r.start] = r;
  replaced(start, end);
  lazy_pages_.erase(lazy_pages_.lower_bound(start / x86::PAGE_SIZE), lazy_pages_.lower_bound((end + x86::PAGE_SIZE - 1) / x86::PAGE_SIZE));
}

void Shadow::zero(uint64_t start, uint64_t length) {
  const uint64_t end = start + length;
  for (auto& [s, r] : regions_) {
    if (r.shared) continue;  // shared memory keeps its contents
    const uint64_t lo = std::max(start, r.start), hi = std::min(end, r.end());
    if (lo >= hi) continue;
    if (r.fmap) {
      // A private file mapping's copied pages go: the file shows through again.
      auto& cow = r.fmap->cow;
      cow.erase(cow.lower_bound(file_pos(r, lo) / kPage), cow.lower_bound((file_pos(r, hi) + kPage - 1) / kPage));
    } else {
      std::memset(r.at(lo), 0, hi - lo);
    }
    replaced(lo, hi);
  }
  lazy_pages_.erase(lazy_pages_.lower_bound(start / x86::PAGE_SIZE), lazy_pages_.lower_bound((end + x86::PAGE_SIZE - 1) / x86::PAGE_SIZE));
}

void Shadow::forget(uint64_t start, uint64_t length) {
  for (uint64_t p = start / kPage; p < (start + length + kPage - 1) / kPage; ++p) {
    const Region* r = find(p * kPage, 1);
    if (!r) continue;
    unknown_pages_.insert(p);
    // Through a mapping of a file: the page-cache page, and so the file's
    // data there, is what was lost (unless the page was a private copy).
    const uint64_t pos = r->fmap ? file_pos(*r, p * kPage) : 0;
    if (r->fmap && !r->fmap->cow.count(pos / kPage)) r->fmap->file->lose(pos, kPage);
  }
}

void Shadow::sync_failed(uint64_t start, uint64_t length) {
  for (const auto& [at, r] : regions_)
    if (r.fmap && at < start + length && r.end() > start) r.fmap->file->synced(false);
}

void Shadow::replaced(uint64_t start, uint64_t end) {
  if (unknown_pages_.empty()) return;
  unknown_pages_.erase(unknown_pages_.lower_bound(start / kPage), unknown_pages_.lower_bound((end + kPage - 1) / kPage));
}

void Shadow::lazy_free(uint64_t start, uint64_t length) {
  for (uint64_t p = start / x86::PAGE_SIZE; p < (start + length + x86::PAGE_SIZE - 1) / x86::PAGE_SIZE; ++p) {
    const Region* r = find(p * x86::PAGE_SIZE, 1);
    if (r && !r->shared && !r->fmap) lazy_pages_.insert(p);  // MADV_FREE applies to anonymous memory only
  }
}

const Shadow::Region* Shadow::find(uint64_t va, unsigned len) const {
  auto it = regions_.upper_bound(va);
  if (it == regions_.begin()) return nullptr;
  --it;
  return it->second.contains(va, len) ? &it->second : nullptr;
}

std::unique_ptr<Shadow> Shadow::fork() const {
  auto child = std::make_unique<Shadow>();
  const long host_page = sysconf(_SC_PAGESIZE);
  std::map<const FileMap*, std::shared_ptr<FileMap>> copied;  // the pieces of one split private mapping stay one
  for (const auto& [start, r] : regions_) {
    Region c = r;
    if (r.fmap && !r.shared) {
      auto& twin = copied[r.fmap.get()];
      if (!twin) {
        twin = std::make_shared<FileMap>();
        twin->file = r.fmap->file;
        twin->file_offset = r.fmap->file_offset;
        for (const auto& [page, bytes] : r.fmap->cow) {
          auto& p = twin->cow[page];
          p = std::make_unique<uint8_t[]>(kPage);
          std::memcpy(p.get(), bytes.get(), kPage);
        }
      }
      c.fmap = twin;
    } else if (!r.shared) {
      // Copy only the host pages that were ever touched: the rest are zero.
      c.buf = std::make_shared<Buffer>(r.length);
      c.offset = 0;
      uint8_t* src = r.at(r.start);
      const uintptr_t base = reinterpret_cast<uintptr_t>(src) & ~static_cast<uintptr_t>(host_page - 1);
      const size_t span = reinterpret_cast<uintptr_t>(src) + r.length - base;
      std::vector<unsigned char> resident((span + host_page - 1) / host_page);
      if (mincore(reinterpret_cast<void*>(base), span, resident.data()) == 0) {
        for (size_t i = 0; i < resident.size(); ++i) {
          if (!(resident[i] & 1)) continue;
          const uintptr_t lo = std::max<uintptr_t>(base + i * host_page, reinterpret_cast<uintptr_t>(src));
          const uintptr_t hi = std::min<uintptr_t>(base + (i + 1) * host_page, reinterpret_cast<uintptr_t>(src) + r.length);
          std::memcpy(c.buf->data + (lo - reinterpret_cast<uintptr_t>(src)), reinterpret_cast<void*>(lo), hi - lo);
        }
      } else {
        std::memcpy(c.buf->data, src, r.length);
      }
    }
    child->regions_[start] = c;
  }
  child->lazy_pages_ = lazy_pages_;
  child->unknown_pages_ = unknown_pages_;
  return child;
}

void Shadow::copy(uint64_t dst, uint64_t src, uint64_t length) {
  // Page by page: regions begin and end on page boundaries.
  for (uint64_t done = 0; done < length;) {
    const uint64_t s = src + done, d = dst + done;
    const uint64_t n =
        std::min({length - done, x86::PAGE_SIZE - s % x86::PAGE_SIZE, x86::PAGE_SIZE - d % x86::PAGE_SIZE});
    const Region* rs = find(s, static_cast<unsigned>(n));
    const Region* rd = find(d, static_cast<unsigned>(n));
    if (rs && rd) {
      uint8_t bytes[x86::PAGE_SIZE];
      load(*rs, s, n, bytes);
      store(*rd, d, static_cast<unsigned>(n), bytes);
    }
    done += n;
  }
}

void Shadow::keep_lazy_page(uint64_t va, unsigned len) {
  lazy_pages_.erase(va / x86::PAGE_SIZE);
  lazy_pages_.erase((va + len - 1) / x86::PAGE_SIZE);
}

bool Shadow::check_mismatch(const Region& r, uint64_t va, unsigned len, const uint8_t* data, uint8_t* expected) {
  if (unknown(va)) return true;  // a memory error took this page's data
  const uint8_t* want = r.at(va);
  if (!lazy_pages_.empty() && lazy_pages_.count(va / x86::PAGE_SIZE) &&
      std::all_of(data, data + len, [](uint8_t b) { return b == 0; })) {
    // The kernel reclaimed the lazily freed page: from now on it reads as zero.
    const uint64_t page = va / x86::PAGE_SIZE * x86::PAGE_SIZE;
    const uint64_t lo = std::max(page, r.start), hi = std::min(page + x86::PAGE_SIZE, r.end());
    std::memset(r.at(lo), 0, hi - lo);
    lazy_pages_.erase(va / x86::PAGE_SIZE);
    return true;
  }
  std::memcpy(expected, want, len);
  return false;
}

}  // namespace tb
