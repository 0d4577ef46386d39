#include "tb/workload/lackey.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "sw/hal/x86.h"

namespace tb {

namespace {

bool parse_hex(const std::string& s, size_t& pos, uint64_t& v) {
  const size_t start = pos;
  v = 0;
  while (pos < s.size() && std::isxdigit(static_cast<unsigned char>(s[pos]))) {
    if (pos - start >= 16) return false;
    const char c = s[pos];
    v = v * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    ++pos;
  }
  return pos > start;
}

bool parse_dec(const std::string& s, size_t& pos, unsigned& v) {
  const size_t start = pos;
  v = 0;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
    if (pos - start >= 6) return false;
    v = v * 10 + static_cast<unsigned>(s[pos] - '0');
    ++pos;
  }
  return pos > start;
}
}  // namespace

int parse_lackey_line(const std::string& line, LackeyRecord& rec, std::string& why) {
  if (line.empty() || line.rfind("==", 0) == 0 || line.rfind("--", 0) == 0) return 0;
  if (line.find_first_not_of(" \t\r") == std::string::npos) return 0;
  size_t pos;
  if (line[0] == 'I') {
    rec.kind = LackeyRecord::Kind::fetch;
    pos = 1;
  } else if (line[0] == ' ' && line.size() > 2 && (line[1] == 'L' || line[1] == 'S' || line[1] == 'M')) {
    rec.kind = line[1] == 'L' ? LackeyRecord::Kind::load
               : line[1] == 'S' ? LackeyRecord::Kind::store
                                : LackeyRecord::Kind::modify;
    pos = 2;
  } else {
    why = "expected 'I', ' L', ' S' or ' M' at the start of the line";
    return -1;
  }
  while (pos < line.size() && line[pos] == ' ') ++pos;
  if (!parse_hex(line, pos, rec.addr)) {
    why = "expected a hexadecimal address";
    return -1;
  }
  if (pos >= line.size() || line[pos] != ',') {
    why = "expected ',' after the address";
    return -1;
  }
  ++pos;
  if (!parse_dec(line, pos, rec.size) || rec.size == 0) {
    why = "expected a size in bytes after ','";
    return -1;
  }
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\r')) ++pos;
  if (pos != line.size()) {
    why = "unexpected text after the size";
    return -1;
  }
  if (rec.size > 64) {
    why = fmt::format("an access of {} bytes is wider than a cache line (64)", rec.size);
    return -1;
  }
  if (rec.addr + rec.size < rec.addr || rec.addr + rec.size > (1ull << 47)) {
    why = "the address is outside the 47-bit user address space";
    return -1;
  }
  return 1;
}

LackeyTrace::LackeyTrace(std::string path, uint64_t limit) : path_(std::move(path)), limit_(limit) {
  std::ifstream in(path_);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open trace", path_));
  std::set<uint64_t> pages;
  std::string line, why;
  uint64_t lineno = 0;
  LackeyRecord rec;
  while (std::getline(in, line)) {
    ++lineno;
    const int r = parse_lackey_line(line, rec, why);
    if (r < 0) throw std::runtime_error(fmt::format("{}:{}: malformed lackey line: {}", path_, lineno, why));
    if (r == 0) continue;
    switch (rec.kind) {
      case LackeyRecord::Kind::fetch: ++counts_.fetches; break;
      case LackeyRecord::Kind::load: ++counts_.loads; break;
      case LackeyRecord::Kind::store: ++counts_.stores; break;
      case LackeyRecord::Kind::modify: ++counts_.modifies; break;
    }
    const uint64_t first = rec.addr / x86::PAGE_SIZE, last = (rec.addr + rec.size - 1) / x86::PAGE_SIZE;
    if (first != last) {
      counts_.page_splits += rec.kind == LackeyRecord::Kind::modify ? 2 : 1;
      if (rec.kind == LackeyRecord::Kind::fetch) ++counts_.fetch_splits;
    }
    pages.insert(first);
    pages.insert(last);
    if (rec.addr < 0x10000)
      throw std::runtime_error(fmt::format("{}:{}: address {:#x} is below the lowest mappable address (64 KiB)",
                                           path_, lineno, rec.addr));
    if (limit_ && counts_.records() == limit_) break;
  }
  if (in.bad()) throw std::runtime_error(fmt::format("{}: read error", path_));
  if (counts_.records() == 0) throw std::runtime_error(fmt::format("{}: the trace has no accesses", path_));
  for (uint64_t p : pages) {
    if (!ranges_.empty() && p * x86::PAGE_SIZE <= ranges_.back().start + ranges_.back().length + kMergeGap)
      ranges_.back().length = (p + 1) * x86::PAGE_SIZE - ranges_.back().start;
    else
      ranges_.push_back({p * x86::PAGE_SIZE, x86::PAGE_SIZE});
  }
}

LackeyTrace::Reader::Reader(const LackeyTrace& t) : in_(t.path()), left_(t.limit() ? t.limit() : ~0ull) {
  if (!in_) throw std::runtime_error(fmt::format("{}: cannot open trace", t.path()));
}

bool LackeyTrace::Reader::next(LackeyRecord& rec) {
  std::string why;
  while (left_ && std::getline(in_, line_)) {
    const int r = parse_lackey_line(line_, rec, why);
    if (r < 0) throw std::runtime_error("trace changed on disk during the run: " + why);
    if (r == 0) continue;
    --left_;
    return true;
  }
  return false;
}

}  // namespace tb
