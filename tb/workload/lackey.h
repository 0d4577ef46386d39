// Traces in the format of valgrind's lackey tool
// (`valgrind --tool=lackey --trace-mem=yes prog`):
//
//   I  0108ddc0,3      instruction fetch of 3 bytes
//    L 7ff000808,8     load
//    S 0040e3c8,4      store
//    M 0421d7b8,4      modify: a load then a store
//
// Lines starting with "==" are valgrind's own messages; blank lines are
// skipped; anything else is an error naming the file and line. The whole
// file is checked when the scenario is loaded; the run streams it again.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "sw/hal/x86.h"

namespace tb {

struct LackeyRecord {
  enum class Kind : uint8_t { fetch, load, store, modify };
  Kind kind = Kind::load;
  uint64_t addr = 0;
  unsigned size = 0;
};

// Parses one line. Returns 1 for a record, 0 for a line to skip, -1 for a
// malformed line (with `why` set).
int parse_lackey_line(const std::string& line, LackeyRecord& rec, std::string& why);

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

  // Reads and checks the whole file (at most `limit` records, 0 = all);
  // throws std::runtime_error("file:line: ...") on the first bad line.
  LackeyTrace(std::string path, uint64_t limit);

  const std::string& path() const { return path_; }
  uint64_t limit() const { return limit_; }
  const Counts& counts() const { return counts_; }
  // The address ranges the trace touches, page-aligned and coalesced (gaps
  // under `kMergeGap` are filled so a trace maps as few regions as possible).
  const std::vector<Range>& ranges() const { return ranges_; }
  static constexpr uint64_t kMergeGap = 64 * x86::PAGE_SIZE;

  // Streaming the records during the run.
  class Reader {
   public:
    explicit Reader(const LackeyTrace& t);
    bool next(LackeyRecord& rec);  // false at the end (or the limit)

   private:
    std::ifstream in_;
    uint64_t left_;
    std::string line_;
  };

 private:
  std::string path_;
  uint64_t limit_;
  Counts counts_;
  std::vector<Range> ranges_;
};

}  // namespace tb
