// The bytes of a trace file, decompressed on the fly: xz (liblzma), gzip
// (zlib) and zstd (libzstd) are recognised by their magic bytes, not by the
// file's name; anything else is read as plain text. Used by the lackey
// reader (tb/workload/lackey.h), which streams the text through a fixed
// buffer, so memory does not grow with the trace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

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

  // Opens the file and looks at its first bytes; throws std::runtime_error
  // ("PATH: cannot open trace", "PATH: bzip2 ... not supported").
  explicit TraceInput(const std::string& path);
  ~TraceInput();
  TraceInput(const TraceInput&) = delete;
  TraceInput& operator=(const TraceInput&) = delete;

  // Up to `n` bytes of the (decompressed) text into `buf`; 0 at the end.
  // Throws TraceDataError on corrupt or truncated compressed data, and
  // std::runtime_error on a read error.
  size_t read(char* buf, size_t n);

  Format format() const { return format_; }
  const std::string& path() const { return path_; }
  // The file's size, and how much of it has been consumed (for progress).
  uint64_t file_size() const { return file_size_; }
  uint64_t file_pos() const { return file_pos_; }

  struct Decoder;  // one per compressed format (trace_input.cpp)

 private:
  // Raw bytes of the file into buf; 0 at its end.
  size_t read_file(uint8_t* buf, size_t n);

  std::string path_;
  int fd_ = -1;
  Format format_ = Format::plain;
  uint64_t file_size_ = 0, file_pos_ = 0;
  std::unique_ptr<Decoder> dec_;
};

}  // namespace tb
