// Traces in the format of valgrind's lackey tool
// (`valgrind --tool=lackey --trace-mem=yes prog`):
//
//   I  0108ddc0,3      instruction fetch of 3 bytes
//    L 7ff000808,8     load
//    S 0040e3c8,4      store
//    M 0421d7b8,4      modify: a load then a store
//
// Lines starting with "==" are valgrind's own messages; blank lines are
// skipped; anything else is an error naming the file and line. The file may
// be plain text or compressed with xz, gzip or zstd (recognised by content,
// tb/workload/trace_input.h). The whole file is checked when the scenario is
// loaded; the run replays it. Both passes parse in place in the input's
// fixed blocks (no allocation per line, no library call per character; a
// compressed trace is decompressed on a thread of its own meanwhile). The
// check keeps the records in a compact delta encoding, up to kCacheBytes, so
// that the run needs neither the text nor the decompressor again; a longer
// trace is streamed from the file again instead. Either way memory is bounded,
// whatever the trace's length. Long passes print a progress line.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "sw/hal/x86.h"
#include "tb/workload/host_memory.h"
#include "tb/workload/trace_input.h"

namespace tb {

struct LackeyRecord {
  enum class Kind : uint8_t { fetch, load, store, modify };
  Kind kind = Kind::load;
  unsigned size = 0;
  uint64_t addr = 0;
};

// Parses one line (without its newline). Returns 1 for a record, 0 for a
// line to skip, -1 for a malformed line (with `why` set).
int parse_lackey_line(const std::string& line, LackeyRecord& rec, std::string& why);

// Prints "mmcosim: <what> <file>: N records (R/s), P% of the file" on a
// stream every few seconds of host time while a long pass runs.
class TraceProgress {
 public:
  // A line at most every `every_s` seconds (tests: 0, every 16th block).
  TraceProgress(std::ostream* os, const char* what, const std::string& path, double every_s = 2.0);
  // Called after every block of records, with the fraction of the input
  // done (computed only when printing); looks at the clock now and then.
  // No more lines (another thread prints them).
  void mute() { os_ = nullptr; }
  template <typename Fraction>
  void tick(uint64_t records, Fraction&& done) {
    if (os_ && ++blocks_ % 16 == 0 && due()) print(records, done());
  }

 private:
  bool due();
  void print(uint64_t records, double done);
  std::ostream* os_;
  const char* what_;
  std::string path_;
  double every_s_;
  uint64_t blocks_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

// The records of a trace file, a block at a time, parsed in place.
class LackeyStream {
 public:
  // `block_bytes`: the input's blocks (TraceInput; tests: a few bytes).
  explicit LackeyStream(const std::string& path, size_t block_bytes = TraceInput::kBlockBytes);
  // Up to `max` records into `out`; 0 at the end of the file. Throws
  // std::runtime_error naming the file and line (malformed text) or the
  // file and record (corrupt compressed data).
  size_t read(LackeyRecord* out, size_t max);
  uint64_t lines() const { return line_; }
  uint64_t records() const { return records_; }
  const TraceInput& input() const { return in_; }

 private:
  // The next complete lines: the rest of the block after the seam, or the
  // next block; false at the end.
  bool refill();
  // Appends `n` bytes of a line that crosses blocks to the seam.
  void seam_append(const char* p, size_t n);
  [[noreturn]] void malformed(const std::string& why);
  // Throws `what` (an error in the text), unless the text came from
  // compressed data that turns out corrupt: then the decoder's error.
  [[noreturn]] void text_error(const std::string& what);
  [[noreturn]] void data_error(const TraceDataError& e) const;
  char* seam() const { return reinterpret_cast<char*>(seam_.data()); }

  TraceInput in_;
  // The lines are parsed in the input's blocks where they are; a line that
  // crosses blocks is copied into the seam (up to kBuf bytes) first.
  static constexpr size_t kBuf = 1 << 20;
  HostBuffer seam_;  // host memory of zeroes: touched only where a line crosses blocks
  size_t seam_len_ = 0;
  const char* pos_;        // next line
  const char* lim_;        // one past the last complete line (ends in '\n')
  const char* blk_end_;    // one past the block's text
  const char* rest_;       // while in the seam: the block's lines after it
  const char* rest_lim_;
  bool in_seam_ = false;
  uint64_t line_ = 0, records_ = 0;
};

class LackeyTrace {
 public:
  struct Range {
    uint64_t start, length;
  };
  struct Counts {
    uint64_t fetches = 0, loads = 0, stores = 0, modifies = 0, page_splits = 0;
    uint64_t fetch_splits = 0;  // of page_splits: instruction fetches
    uint64_t records() const { return fetches + loads + stores + modifies; }
    // Memory accesses as the trace counts them (a modify is a load and a store).
    uint64_t accesses() const { return fetches + loads + stores + 2 * modifies; }
  };

  static constexpr size_t kCacheBytes = 64u << 20;

  // Reads and checks the whole file (at most `limit` records, 0 = all);
  // throws std::runtime_error("file:line: ...") on the first bad line.
  // Progress lines go to `progress` (nullptr: none), here and in the run, at
  // most every `progress_every_s` seconds (tests: 0, every 16th block).
  // Records beyond `cache_bytes` of encoding are not kept (the run streams).
  LackeyTrace(std::string path, uint64_t limit, std::ostream* progress = nullptr, size_t cache_bytes = kCacheBytes,
              double progress_every_s = 2.0);

  const std::string& path() const { return path_; }
  // Where progress lines go (nullptr: nowhere), and how often.
  std::ostream* progress() const { return progress_; }
  double progress_every_s() const { return progress_every_s_; }
  uint64_t limit() const { return limit_; }
  const Counts& counts() const { return counts_; }
  TraceInput::Format format() const { return format_; }
  // True when the records are held in memory (the run does not read the file).
  bool cached() const { return cached_; }
  size_t cache_bytes() const { return cache_size_; }
  // The address ranges the trace touches, page-aligned and coalesced (gaps
  // under `kMergeGap` are filled so a trace maps as few regions as possible).
  const std::vector<Range>& ranges() const { return ranges_; }
  static constexpr uint64_t kMergeGap = 64 * x86::PAGE_SIZE;

  // Streaming the records during the run.
  class Reader {
   public:
    explicit Reader(const LackeyTrace& t);
    // false at the end (or the limit).
    bool next(LackeyRecord& rec) {
      if (__builtin_expect(pos_ == n_, 0) && !refill()) return false;
      rec = block_[pos_++];
      return true;
    }
    // The records decoded ahead, `n` of them (0 at the end), for a caller
    // that goes through them in a loop of its own; take(k) consumes the
    // first k.
    const LackeyRecord* peek(size_t& n) {
      if (pos_ == n_ && !refill()) {
        n = 0;
        return nullptr;
      }
      n = n_ - pos_;
      return block_.get() + pos_;
    }
    void take(size_t k) { pos_ += k; }
    // Prints no progress lines: a reader on another thread than the run's.
    void mute_progress() { progress_.mute(); }

   private:
    bool refill();
    const LackeyTrace& t_;
    std::unique_ptr<LackeyStream> in_;  // when the records are not cached
    size_t cache_pos_ = 0;              // when they are
    uint64_t bases_[3] = {};            // the cache's delta bases
    uint64_t done_ = 0;
    TraceProgress progress_;
    uint64_t left_;
    static constexpr size_t kBlock = 1024;
    std::unique_ptr<LackeyRecord[]> block_;
    size_t pos_ = 0, n_ = 0;
  };

 private:
  std::string path_;
  uint64_t limit_;
  std::ostream* progress_;
  double progress_every_s_;
  TraceInput::Format format_ = TraceInput::Format::plain;
  Counts counts_;
  std::vector<Range> ranges_;
  bool cached_ = false;
  // The records, encoded (lackey.cpp: encode/decode), in address space
  // reserved for the whole limit up front, so that growing it never copies
  // (host_memory.h); what the encoding did not use is given back.
  HostBuffer cache_;
  size_t cache_size_ = 0;
};

}  // namespace tb
