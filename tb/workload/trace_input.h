// The bytes of a trace file, decompressed on the fly: xz (liblzma), gzip
// (zlib) and zstd (libzstd) are recognised by their magic bytes, not by the
// file's name; anything else is read as plain text. Used by the lackey
// reader (tb/workload/lackey.h), which parses the text in place in the
// blocks handed out here, so memory does not grow with the trace. A
// compressed trace is decoded on a thread of its own, a few blocks ahead of
// the parser (a bounded ring of fixed blocks, filled and handed over in
// order), so that on a host with two cores decompression and parsing
// overlap; the bytes, and where an error shows, are the same either way.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "tb/workload/block_ring.h"
#include "tb/workload/host_memory.h"

namespace tb {

// Thrown when the compressed data is corrupt or truncated; the message says
// what the decoder found (the reader adds the file and the record).
struct TraceDataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class TraceInput {
 public:
  enum class Format { plain, xz, gzip, zstd };
  static const char* format_name(Format f);

  static constexpr size_t kBlockBytes = 1 << 20;  // a block of text
  static constexpr size_t kSlack = 64;  // readable bytes after a block's text

  // Opens the file and looks at its first bytes; throws std::runtime_error
  // ("PATH: cannot open trace", "PATH: bzip2 ... not supported"). The text
  // comes in blocks of up to `block_bytes` (tests: a few bytes).
  explicit TraceInput(const std::string& path, size_t block_bytes = kBlockBytes);
  // Stops and joins the decoding thread, wherever it is.
  ~TraceInput();
  TraceInput(const TraceInput&) = delete;
  TraceInput& operator=(const TraceInput&) = delete;

  // The next block of the (decompressed) text, `n` bytes of it (0 at the
  // end), followed by kSlack bytes that may be read (their values are
  // unspecified); valid until the next call, which hands the block back.
  // Throws TraceDataError on corrupt or truncated compressed data, and
  // std::runtime_error on a read error, once the blocks decoded before it
  // have been handed out.
  const char* next(size_t& n);

  Format format() const { return format_; }
  const std::string& path() const { return path_; }
  // The file's size, and how much of it has been consumed (for progress).
  uint64_t file_size() const { return file_size_; }
  uint64_t file_pos() const { return file_pos_.load(std::memory_order_relaxed); }

  struct Decoder;  // one per compressed format (trace_input.cpp)

 private:
  // Raw bytes of the file into buf; 0 at its end.
  size_t read_file(uint8_t* buf, size_t n);
  // Text into `buf` from `len` up to `n` bytes (fewer only at the end);
  // `len` says how far it got when it throws.
  void fill(char* buf, size_t n, size_t& len);

  std::string path_;
  int fd_ = -1;
  Format format_ = Format::plain;
  size_t block_bytes_;
  uint64_t file_size_ = 0;
  std::atomic<uint64_t> file_pos_{0};  // written by the decoding thread
  std::unique_ptr<Decoder> dec_;
  HostBuffer plain_;  // the one block of a plain trace
  std::unique_ptr<BlockRing<char>> ring_;  // a compressed trace's, once started
};

}  // namespace tb
