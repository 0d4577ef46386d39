#include "tb/workload/files.h"

#include <algorithm>
#include <cstring>

#include "tb/workload/file_content.h"

namespace tb {

FileState::FileState(uint64_t seed, const FileSpec& spec)
    : seed_(seed), spec_(spec), size_(spec.size), zero_from_(spec.size) {}

void FileState::base(uint64_t page, uint8_t* dst) const {
  const uint64_t start = page * kPage;
  const uint64_t initial = zero_from_ > start ? std::min(kPage, zero_from_ - start) : 0;
  if (initial) file_initial_content(seed_, spec_.ino, start, dst, initial);
  std::memset(dst + initial, 0, kPage - initial);
}

void FileState::read(uint64_t offset, uint64_t len, uint8_t* dst) const {
  while (len) {
    const uint64_t page = offset / kPage, in = offset % kPage;
    const uint64_t n = std::min(len, kPage - in);
    const auto it = pages_.find(page);
    if (it != pages_.end()) {
      std::memcpy(dst, it->second->data() + in, n);
    } else {
      // Not written: initial content up to zero_from_, zero after.
      const uint64_t initial = zero_from_ > offset ? std::min(n, zero_from_ - offset) : 0;
      if (initial) file_initial_content(seed_, spec_.ino, offset, dst, initial);
      std::memset(dst + initial, 0, n - initial);
    }
    offset += n;
    dst += n;
    len -= n;
  }
  // Bytes beyond the size read as zero (a page written before a truncation keeps none past it).
}

FileState::Page& FileState::page_for_write(uint64_t page) {
  auto& p = pages_[page];
  if (!p) {
    p = std::make_unique<Page>();
    base(page, p->data());
  }
  return *p;
}

void FileState::write(uint64_t offset, uint64_t len, const uint8_t* src) {
  const uint64_t end = offset + len;
  while (len) {
    const uint64_t page = offset / kPage, in = offset % kPage;
    const uint64_t n = std::min(len, kPage - in);
    std::memcpy(page_for_write(page).data() + in, src, n);
    if (page != last_unsynced_) {
      unsynced_.insert(page);
      last_unsynced_ = page;
    }
    if (n == kPage && !lost_.empty()) lost_.erase(page);  // known again: written whole
    offset += n;
    src += n;
    len -= n;
  }
  size_ = std::max(size_, end);
}

void FileState::truncate(uint64_t size) {
  if (size < size_) {
    // Whole pages past the new size go; the page holding it keeps only the bytes below.
    pages_.erase(pages_.lower_bound((size + kPage - 1) / kPage), pages_.end());
    // Pages wholly cut off read as zero again, whatever an error took.
    lost_.erase(lost_.lower_bound((size + kPage - 1) / kPage), lost_.end());
    if (size % kPage) {
      const auto it = pages_.find(size / kPage);
      if (it != pages_.end()) std::memset(it->second->data() + size % kPage, 0, kPage - size % kPage);
    }
    zero_from_ = std::min(zero_from_, size);
  }
  size_ = size;
}

bool FileState::lost_range(uint64_t offset, uint64_t len) const {
  if (lost_.empty() || !len) return false;
  const auto it = lost_.lower_bound(offset / kPage);
  return it != lost_.end() && *it <= (offset + len - 1) / kPage;
}

void FileState::lose(uint64_t offset, uint64_t len) {
  for (uint64_t p = offset / kPage; p < (offset + len + kPage - 1) / kPage; ++p) lost_.insert(p);
}

void FileState::synced(bool ok) {
  if (!ok) lost_.insert(unsynced_.begin(), unsynced_.end());
  unsynced_.clear();
  last_unsynced_ = ~0ull;
}

}  // namespace tb
