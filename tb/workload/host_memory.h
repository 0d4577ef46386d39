// Big host buffers of the workload side: the shadow's memory (shadow.h), a
// trace's record cache (lackey.h) and the xz decoder's dictionary
// (trace_input.cpp). Each is an anonymous MAP_NORESERVE mapping (zero,
// sparse: host memory grows with what is touched) advised for transparent
// huge pages where they fit, as the DRAM's backing (hw/mem/dram.cpp): on a
// host where a page fault is dear (a VM), a first touch per 4 KiB was most of
// a short trace replay's host time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tb {

class HostBuffer {
 public:
  HostBuffer() = default;
  // `length` bytes of zeroes (at least one host page is reserved); throws
  // std::bad_alloc when the host has no address space for it.
  explicit HostBuffer(uint64_t length);
  ~HostBuffer() { reset(); }
  HostBuffer(HostBuffer&& o) noexcept : data_(o.data_), length_(o.length_), mapped_(o.mapped_) { o.data_ = nullptr; }
  HostBuffer& operator=(HostBuffer&& o) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  uint8_t* data() const { return data_; }
  uint64_t length() const { return length_; }
  // Gives the host pages wholly past the first `length` bytes back.
  void shrink(uint64_t length);
  void reset();

 private:
  uint8_t* data_ = nullptr;
  uint64_t length_ = 0, mapped_ = 0;
};

// malloc-style allocation for liblzma's allocator hook: blocks of kBigBlock
// or more are host mappings as above (its dictionary, several MiB, filled as
// the text is decoded), smaller ones come from malloc. nullptr when out of
// memory.
void* host_alloc(size_t size);
void host_free(void* p);
constexpr size_t kBigBlock = 256 * 1024;

}  // namespace tb
