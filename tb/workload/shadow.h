// The shadow of a process's memory: what the process last wrote at each
// address of each mapped region (fresh anonymous memory reads as zero).
// Every load the process makes is checked against it.
//
// Shared mappings (MAP_SHARED) share their shadow with the processes they
// were forked into; private ones are copied at fork. Pages given to
// MADV_FREE may read back either as they were or as zero (the kernel may
// or may not have reclaimed them); the first load that sees zero settles it.
//
// A memory error whose signal the process took (`sigbus: record`) makes
// its extent unknown (forget()): Linux did not keep the data, so a load
// there is not checked until the memory is replaced (mmap, munmap, madvise
// dontneed). A store there does not make the rest of the page known again.
// Every other load is still checked: a value is either the shadow's or the
// access was answered by SIGBUS (and skipped), never silently wrong.
//
// File-backed mappings read through to the file's shadow (files.h): a
// shared one's stores change the file; a private one reads the file until
// its first store to a page, which copies the page (copy-on-write). A load
// of a page the file lost to a memory error is not checked.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "sw/hal/x86.h"
#include "tb/workload/files.h"
#include "tb/workload/host_memory.h"

namespace tb {

class Shadow {
 public:
  // Host memory behind a mapping (sparse, in host huge pages: host_memory.h),
  // with kReadSlack bytes past its end that are never written: check()
  // reads 16 bytes, whatever the access's size.
  static constexpr uint64_t kReadSlack = 16;
  struct Buffer {
    explicit Buffer(uint64_t len) : mem(len + kReadSlack), data(mem.data()), length(len) {}
    HostBuffer mem;
    uint8_t* data;
    uint64_t length;
  };
  // A mapping of a file: where it starts in the file, and a private
  // mapping's copied pages (by file page number).
  struct FileMap {
    FileState* file = nullptr;
    uint64_t file_offset = 0;  // of the mapping's first byte
    bool shared = false;
    std::map<uint64_t, std::unique_ptr<uint8_t[]>> cow;
  };
  struct Region {
    uint64_t start = 0, length = 0;
    std::shared_ptr<Buffer> buf;        // anonymous memory (null for a file mapping)
    std::shared_ptr<FileMap> fmap;      // a file mapping (null for anonymous memory)
    uint64_t offset = 0;  // of `start` in buf, or in the file mapping
    bool shared = false;
    uint64_t end() const { return start + length; }
    bool contains(uint64_t va, unsigned len) const { return va >= start && va + len <= start + length; }
    uint8_t* at(uint64_t va) const { return buf->data + offset + (va - start); }
  };

  Shadow() = default;
  Shadow(const Shadow&) = delete;
  Shadow& operator=(const Shadow&) = delete;

  // A new mapping: reads as zero. Replaces whatever overlapped.
  void map(uint64_t start, uint64_t length, bool shared);
  // A new mapping of `file` from file_offset (page-aligned).
  void map_file(uint64_t start, uint64_t length, FileState* file, uint64_t file_offset, bool shared);
  // The bytes [va, va+len) hold now, wherever they come from (lie in one region).
  void load(const Region& r, uint64_t va, uint64_t len, uint8_t* dst) const;
  // The bytes [va, va+len) hold, across regions (unmapped bytes read as zero).
  void load_range(uint64_t va, uint64_t len, uint8_t* dst) const;
  // Stores bytes in [va, va+len), which lie in mapped regions (a device or the kernel wrote them).
  void store_range(uint64_t va, uint64_t len, const uint8_t* src);
  // Removes [start, start+length) (splitting regions, keeping their data).
  void unmap(uint64_t start, uint64_t length);
  // [dst, dst+length) now holds what [src, src+length) holds (a device
  // copied it); both lie in mapped regions and do not overlap.
  void copy(uint64_t dst, uint64_t src, uint64_t length);
  // Private memory in [start, start+length) reads as zero again (MADV_DONTNEED).
  void zero(uint64_t start, uint64_t length);
  // Private pages in the range may now read as zero (MADV_FREE).
  void lazy_free(uint64_t start, uint64_t length);
  // The pages of [start, start+length) lost their data (a memory error's
  // SIGBUS): loads there are not checked until the memory is replaced. A
  // page of a file mapping also loses the file's page (files.h).
  void forget(uint64_t start, uint64_t length);
  // The pages wholly inside [start, start+length) hold known data again
  // (the kernel wrote all of them: a read into a buffer).
  void remember(uint64_t start, uint64_t length) {
    const uint64_t first = (start + x86::PAGE_SIZE - 1) & ~(x86::PAGE_SIZE - 1);
    const uint64_t end = (start + length) & ~(x86::PAGE_SIZE - 1);
    if (first < end) replaced(first, end);
  }
  // msync of [start, start+length) returned EIO: the files mapped there
  // lost what was written since their last successful sync (files.h).
  void sync_failed(uint64_t start, uint64_t length);
  // The region holding [va, va+len), or nullptr.
  const Region* find(uint64_t va, unsigned len) const;
  // The child's shadow at fork: shared regions shared, private ones copied.
  std::unique_ptr<Shadow> fork() const;

  // Bumped by every change to the set of regions: a Region* cached by a
  // program is valid while the generation it saw is current (threads share
  // a shadow, so another thread's munmap can remove a region).
  uint64_t generation() const { return generation_; }

  // Inline: every access of a program ends in one of these; the sizes
  // programs and traces use most are copied and compared without a call.
  __attribute__((always_inline)) void store(const Region& r, uint64_t va, unsigned len, const uint8_t* data) {
    if (r.fmap) return store_file(r, va, len, data);
    uint8_t* const at = r.at(va);
    switch (len) {
      case 1: *at = *data; break;
      case 2: std::memcpy(at, data, 2); break;
      case 4: std::memcpy(at, data, 4); break;
      case 8: std::memcpy(at, data, 8); break;
      default: std::memcpy(at, data, len); break;
    }
    if (!lazy_pages_.empty()) keep_lazy_page(va, len);
  }
  // Checks a load; on a mismatch returns false with `expected` filled.
  __attribute__((always_inline)) bool check(const Region& r, uint64_t va, unsigned len, const uint8_t* data,
                                            uint8_t* expected) {
    if (r.fmap) return check_file(r, va, len, data, expected) || unknown(va);
    const uint8_t* const want = r.at(va);
    bool same;
    switch (len) {
      case 1: same = *want == *data; break;
      case 2: same = equal<uint16_t>(want, data); break;
      case 4: same = equal<uint32_t>(want, data); break;
      case 8: same = equal<uint64_t>(want, data); break;
      default: same = std::memcmp(want, data, len) == 0; break;
    }
    return same || check_mismatch(r, va, len, data, expected);
  }
  // As check(), for `data` with 16 readable bytes whatever `len` (a
  // program's access buffer: 64): no call and no branch on the size.
  __attribute__((always_inline)) bool check_padded(const Region& r, uint64_t va, unsigned len, const uint8_t* data,
                                                   uint8_t* expected) {
    if (r.fmap) return check_file(r, va, len, data, expected) || unknown(va);
    return same_bytes(r.at(va), data, len) || check_mismatch(r, va, len, data, expected);
  }

 private:
  template <typename T>
  static bool equal(const uint8_t* a, const uint8_t* b) {
    T x, y;
    std::memcpy(&x, a, sizeof x);
    std::memcpy(&y, b, sizeof y);
    return x == y;
  }
  // Up to 16 bytes (instruction fetches are 1 to 15) as two words each,
  // the bytes past `len` masked off: no call, and no branch on the size
  // (fetch sizes vary from one to the next). Both sides have 16 bytes to
  // read: a shadow buffer its slack, check_padded's data its own. Wider
  // ones by memcmp.
  static bool same_bytes(const uint8_t* a, const uint8_t* b, unsigned len) {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the masks keep the first bytes in memory");
    struct Masks {
      uint64_t lo[17], hi[17];
      constexpr Masks() : lo(), hi() {
        for (unsigned n = 1; n <= 16; ++n) {
          lo[n] = n >= 8 ? ~0ull : ~(~0ull << (8 * n));
          hi[n] = n <= 8 ? 0 : n == 16 ? ~0ull : ~(~0ull << (8 * (n - 8)));
        }
      }
    };
    static constexpr Masks kMasks;
    if (__builtin_expect(len > 16, 0)) return std::memcmp(a, b, len) == 0;
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, a, 8);
    std::memcpy(&a1, a + 8, 8);
    std::memcpy(&b0, b, 8);
    std::memcpy(&b1, b + 8, 8);
    return (((a0 ^ b0) & kMasks.lo[len]) | ((a1 ^ b1) & kMasks.hi[len])) == 0;
  }
  // Stores and loads of file mappings.
  void store_file(const Region& r, uint64_t va, unsigned len, const uint8_t* data);
  bool check_file(const Region& r, uint64_t va, unsigned len, const uint8_t* data, uint8_t* expected) const;
  bool unknown(uint64_t va) const { return !unknown_pages_.empty() && unknown_pages_.count(va / x86::PAGE_SIZE); }
  // Drops the unknown pages of [start, end): the memory was replaced.
  void replaced(uint64_t start, uint64_t end);
  // A store to a lazily freed page keeps it (Linux re-dirties it).
  void keep_lazy_page(uint64_t va, unsigned len);
  // A load that differs: fine if it sees a reclaimed MADV_FREE page.
  bool check_mismatch(const Region& r, uint64_t va, unsigned len, const uint8_t* data, uint8_t* expected);

  std::map<uint64_t, Region> regions_;  // by start
  std::set<uint64_t> lazy_pages_;       // page numbers given to MADV_FREE, not since rewritten
  std::set<uint64_t> unknown_pages_;    // page numbers whose data a memory error took
  uint64_t generation_ = 0;
};

}  // namespace tb
