#include "tb/workload/lackey.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

#include <fmt/format.h>

#include "sw/hal/x86.h"

namespace tb {

namespace {

// Hex digit values (0xff: not a digit), so parsing needs no library call.
struct HexTable {
  uint8_t v[256];
  constexpr HexTable() : v() {
    for (int i = 0; i < 256; ++i) v[i] = 0xff;
    for (int i = 0; i < 10; ++i) v['0' + i] = static_cast<uint8_t>(i);
    for (int i = 0; i < 6; ++i) {
      v['a' + i] = static_cast<uint8_t>(10 + i);
      v['A' + i] = static_cast<uint8_t>(10 + i);
    }
  }
};
constexpr HexTable kHex;

// What parse_line may read beyond a line's '\n' (zeros after the text).
constexpr size_t kReadAhead = 32;
// A record below this address is an error (nothing can be mapped there).
constexpr uint64_t kLowestAddr = 0x10000;

enum class Bad : uint8_t { none, kind, address, comma, size, trailing, too_wide, outside };

// ---- The common line, a few word operations at a time ----

constexpr uint64_t kOnes = ~0ull / 255;  // 0x0101...01

// The high bit of each byte of x that lies strictly between m and n
// (0 <= m <= 127, n <= 128; bytes of 128 and more never do): "Bit
// Twiddling Hacks", hasbetween, per byte (no carry crosses a byte).
constexpr uint64_t between(uint64_t x, uint64_t m, uint64_t n) {
  return (kOnes * (127 + n) - (x & kOnes * 127)) & ~x & ((x & kOnes * 127) + kOnes * (127 - m)) & kOnes * 128;
}

// How many of the 8 characters in w (the first in the low byte) are hex
// digits before the first that is not.
inline unsigned hex_run(uint64_t w) {
  const uint64_t hex = between(w, '0' - 1, '9' + 1) | between(w | kOnes * 0x20, 'a' - 1, 'f' + 1);
  const uint64_t stop = ~hex & kOnes * 128;
  return stop ? static_cast<unsigned>(__builtin_ctzll(stop)) / 8 : 8;
}

// The value of the 8 hex digits in w (the first, most significant, in the
// low byte): each byte to its digit, then pairs, quads and octets joined.
inline uint64_t hex8(uint64_t w) {
  uint64_t v = (w & kOnes * 0x0f) + 9 * ((w >> 6) & kOnes);  // 'a'-'f', 'A'-'F' have bit 6
  v = ((v << 4) | (v >> 8)) & 0x00ff00ff00ff00ffull;
  v = ((v << 8) | (v >> 16)) & 0x0000ffff0000ffffull;
  return ((v << 16) | (v >> 32)) & 0xffffffffull;
}

inline uint64_t load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// The record kind by a line's second character ("I  ", " L ", " S ", " M "),
// plus one (0: none), and the first character each needs.
struct KindTable {
  uint8_t kind[256];
  constexpr KindTable() : kind() {
    kind[' '] = 1 + static_cast<uint8_t>(LackeyRecord::Kind::fetch);
    kind['L'] = 1 + static_cast<uint8_t>(LackeyRecord::Kind::load);
    kind['S'] = 1 + static_cast<uint8_t>(LackeyRecord::Kind::store);
    kind['M'] = 1 + static_cast<uint8_t>(LackeyRecord::Kind::modify);
  }
};
constexpr KindTable kKind;
constexpr char kFirstChar[] = {0, 'I', ' ', ' ', ' '};

// The lines lackey writes ("I  %08lx,%lu", " L %08lx,%lu"): the kind, 1 to
// 15 hex digits, ',', a size of 1 or 2 digits, '\n', and a record that
// parse_line would accept. True with the record and `next`; false for
// anything else, which parse_line then decides (and explains). Reads up to
// 22 bytes at p, whatever the line's length (the buffers have room).
__attribute__((always_inline)) inline bool parse_fast(const char* p, LackeyRecord& rec, const char*& next) {
  const unsigned kind = kKind.kind[static_cast<uint8_t>(p[1])];
  if (!kind || p[0] != kFirstChar[kind] || p[2] != ' ') return false;
  const char* const h = p + 3;
  const uint64_t w = load8(h);
  unsigned len = hex_run(w);
  uint64_t addr;
  if (len < 8) {
    if (len == 0) return false;
    addr = hex8(w << (8 * (8 - len)));  // the digits to the top: zeros lead
  } else if (h[8] == ',') {
    addr = hex8(w);  // lackey's "%08lx" of an address under 4 GiB, most lines: no second word to scan
  } else {
    len += hex_run(load8(h + 8));
    if (len == 16) return false;  // 16 digits or more
    addr = len == 8 ? hex8(w) : hex8(w << (8 * (16 - len))) << 32 | hex8(load8(h + len - 8));
  }
  const char* const c = h + len;
  const unsigned d0 = static_cast<unsigned>(c[1] - '0'), d1 = static_cast<unsigned>(c[2] - '0');
  if (c[0] != ',' || d0 > 9) return false;
  unsigned size;
  if (c[2] == '\n') {
    size = d0;
    next = c + 3;
  } else {
    if (d1 > 9 || c[3] != '\n') return false;
    size = d0 * 10 + d1;
    next = c + 4;
  }
  if (size == 0 || size > 64 || addr + size > (1ull << 47)) return false;
  rec.kind = static_cast<LackeyRecord::Kind>(kind - 1);
  rec.size = size;
  rec.addr = addr;
  return true;
}

// Parses the line at p, which ends with '\n' (every scan below stops at a
// character that cannot continue it, so none needs a bound; parse_fast
// reads 22 bytes). Returns 1 for a record (`next`: the line after it), 0
// for a line to skip (then `bad` is none) or -1 with `bad` set.
inline int parse_line(const char* p, LackeyRecord& rec, Bad& bad, const char*& next) {
  if (__builtin_expect(parse_fast(p, rec, next), 1)) return 1;
  const char* q;
  if (p[0] == 'I') {
    rec.kind = LackeyRecord::Kind::fetch;
    q = p + 1;
  } else if (p[0] == ' ' && (p[1] == 'L' || p[1] == 'S' || p[1] == 'M') && p[2] != '\n') {
    rec.kind = p[1] == 'L' ? LackeyRecord::Kind::load : p[1] == 'S' ? LackeyRecord::Kind::store
                                                                    : LackeyRecord::Kind::modify;
    q = p + 2;
  } else {
    // valgrind's own lines, blank lines
    if (p[0] == '\n' || (p[0] == '=' && p[1] == '=') || (p[0] == '-' && p[1] == '-')) return 0;
    q = p;
    while (*q == ' ' || *q == '\t' || *q == '\r') ++q;
    if (*q == '\n') return 0;
    bad = Bad::kind;
    return -1;
  }
  while (*q == ' ') ++q;
  uint64_t addr = 0;
  const char* const hex = q;
  for (uint8_t d; (d = kHex.v[static_cast<uint8_t>(*q)]) != 0xff; ++q) {
    if (q - hex >= 16) break;
    addr = addr << 4 | d;
  }
  if (q == hex || kHex.v[static_cast<uint8_t>(*q)] != 0xff) {
    bad = Bad::address;
    return -1;
  }
  if (*q != ',') {
    bad = Bad::comma;
    return -1;
  }
  const char* const dec = ++q;
  unsigned size = 0;
  for (; static_cast<unsigned>(*q - '0') < 10; ++q) {
    if (q - dec >= 6) break;
    size = size * 10 + static_cast<unsigned>(*q - '0');
  }
  if (q == dec || size == 0 || static_cast<unsigned>(*q - '0') < 10) {
    bad = Bad::size;
    return -1;
  }
  while (*q == ' ' || *q == '\r') ++q;
  if (*q != '\n') {
    bad = Bad::trailing;
    return -1;
  }
  rec.addr = addr;
  rec.size = size;
  if (size > 64) {
    bad = Bad::too_wide;
    return -1;
  }
  if (addr + size < addr || addr + size > (1ull << 47)) {
    bad = Bad::outside;
    return -1;
  }
  next = q + 1;
  return 1;
}

std::string why_text(Bad bad, const LackeyRecord& rec) {
  switch (bad) {
    case Bad::none: break;
    case Bad::kind: return "expected 'I', ' L', ' S' or ' M' at the start of the line";
    case Bad::address: return "expected a hexadecimal address";
    case Bad::comma: return "expected ',' after the address";
    case Bad::size: return "expected a size in bytes after ','";
    case Bad::trailing: return "unexpected text after the size";
    case Bad::too_wide: return fmt::format("an access of {} bytes is wider than a cache line (64)", rec.size);
    case Bad::outside: return "the address is outside the 47-bit user address space";
  }
  return "malformed";
}

// The pages a trace touches: open addressing over page numbers (one flat
// array, no node per page), sorted once at the end.
class PageSet {
 public:
  PageSet() : slots_(1024, 0), mask_(1023) {}
  void insert(uint64_t page) {
    const uint64_t key = page + 1;  // 0 marks an empty slot
    for (uint64_t i = hash(key);; i = (i + 1) & mask_) {
      if (slots_[i] == key) return;
      if (slots_[i] == 0) {
        slots_[i] = key;
        if (++count_ * 2 > slots_.size()) grow();
        return;
      }
    }
  }
  std::vector<uint64_t> sorted() const {
    std::vector<uint64_t> pages;
    pages.reserve(count_);
    for (uint64_t k : slots_)
      if (k) pages.push_back(k - 1);
    std::sort(pages.begin(), pages.end());
    return pages;
  }

 private:
  uint64_t hash(uint64_t k) const { return (k * 0x9e3779b97f4a7c15ull >> 20) & mask_; }
  void grow() {
    std::vector<uint64_t> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, 0);
    mask_ = slots_.size() - 1;
    count_ = 0;
    for (uint64_t k : old)
      if (k) insert(k - 1);
  }
  std::vector<uint64_t> slots_;
  uint64_t mask_;
  size_t count_ = 0;
};

// The record cache's encoding, about 2 bytes a record: a header byte (kind
// in bits 0-1; size in bits 2-5, 0 when a size byte follows; bit 6: the
// address is its base, nothing follows; bit 7: a data record's second
// base), then the address as a zigzag LEB128 delta from its base. A fetch's
// base is where the last fetch ended, so straight-line code takes one byte a
// record; data has two bases, the last addresses near which data records
// went (the stack and the heap, mostly), and each record takes the nearer.
// Bases: [0] fetches, [1] and [2] data.
constexpr unsigned kZeroDelta = 0x40, kSecondBase = 0x80;

inline uint64_t zigzag(uint64_t d) { return (d << 1) ^ static_cast<uint64_t>(static_cast<int64_t>(d) >> 63); }

inline uint8_t* encode(uint8_t* w, const LackeyRecord& r, uint64_t* base) {
  unsigned h = static_cast<unsigned>(r.kind) | (r.size < 16 ? r.size << 2 : 0);
  uint64_t z;
  if (r.kind == LackeyRecord::Kind::fetch) {
    z = zigzag(r.addr - base[0]);
    base[0] = r.addr + r.size;
  } else {
    const uint64_t z1 = zigzag(r.addr - base[1]), z2 = zigzag(r.addr - base[2]);
    const unsigned b = z2 < z1 ? 2 : 1;
    if (b == 2) h |= kSecondBase;
    z = b == 2 ? z2 : z1;
    base[b] = r.addr;
  }
  if (!z) h |= kZeroDelta;
  *w++ = static_cast<uint8_t>(h);
  if (r.size >= 16) *w++ = static_cast<uint8_t>(r.size);
  if (!z) return w;
  while (z >= 0x80) {
    *w++ = static_cast<uint8_t>(z | 0x80);
    z >>= 7;
  }
  *w++ = static_cast<uint8_t>(z);
  return w;
}

inline const uint8_t* decode(const uint8_t* p, LackeyRecord& r, uint64_t* base) {
  const uint8_t h = *p++;
  r.kind = static_cast<LackeyRecord::Kind>(h & 3);
  r.size = (h >> 2) & 15;
  if (!r.size) r.size = *p++;
  uint64_t z = 0;
  if (!(h & kZeroDelta)) {
    for (unsigned shift = 0;; shift += 7) {
      const uint8_t b = *p++;
      z |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
  }
  const bool fetch = r.kind == LackeyRecord::Kind::fetch;
  const unsigned b = fetch ? 0 : 1 + (h >> 7);
  r.addr = base[b] + ((z >> 1) ^ (0 - (z & 1)));
  base[b] = r.addr + (fetch ? r.size : 0);
  return p;
}
constexpr size_t kMaxEncoded = 2 + 10;

}  // namespace

int parse_lackey_line(const std::string& line, LackeyRecord& rec, std::string& why) {
  std::string l = line;
  l += '\n';
  l.append(kReadAhead, '\0');
  Bad bad = Bad::none;
  const char* next = nullptr;
  const int r = parse_line(l.c_str(), rec, bad, next);
  if (r < 0) why = why_text(bad, rec);
  return r;
}

// ---- TraceProgress ----

TraceProgress::TraceProgress(std::ostream* os, const char* what, const std::string& path, double every_s)
    : os_(os), what_(what), path_(path), every_s_(every_s), start_(std::chrono::steady_clock::now()), last_(start_) {}

bool TraceProgress::due() {
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() < every_s_) return false;
  last_ = now;
  return true;
}

void TraceProgress::print(uint64_t records, double done) {
  const double secs = std::chrono::duration<double>(last_ - start_).count();
  *os_ << fmt::format("mmcosim: {} {}: {:.2f} M records ({:.2f} M records/s), {:.0f}% of the file\n", what_, path_,
                      static_cast<double>(records) / 1e6, secs > 0 ? static_cast<double>(records) / 1e6 / secs : 0.0, 100.0 * done);
  os_->flush();
}

// ---- LackeyStream ----

static_assert(TraceInput::kSlack >= kReadAhead, "parse_line reads ahead into the block's slack");

LackeyStream::LackeyStream(const std::string& path, size_t block_bytes)
    : in_(path, block_bytes), seam_(kBuf + 1 + kReadAhead) {
  pos_ = lim_ = blk_end_ = rest_ = rest_lim_ = seam();
}

void LackeyStream::malformed(const std::string& why) {
  text_error(fmt::format("{}:{}: malformed lackey line: {}", in_.path(), line_ + 1, why));
}

void LackeyStream::text_error(const std::string& what) {
  // Corrupt compressed data usually reaches the parser as garbage before the
  // checksum that covers it fails (at the end of its stream or frame), so a
  // bad line there is first put to the decoder: the rest of the file is
  // decoded, which the check pass would have done anyway.
  if (in_.format() != TraceInput::Format::plain) {
    try {
      for (size_t n = 1; n > 0;) in_.next(n);
    } catch (const TraceDataError& e) {
      data_error(e);
    }
  }
  throw std::runtime_error(what);
}

void LackeyStream::data_error(const TraceDataError& e) const {
  throw std::runtime_error(fmt::format("{}: record {} (line {}): {}", in_.path(), records_ + 1, line_ + 1, e.what()));
}

void LackeyStream::seam_append(const char* p, size_t n) {
  if (seam_len_ + n > kBuf) malformed(fmt::format("longer than {} bytes", kBuf));
  std::memcpy(seam() + seam_len_, p, n);
  seam_len_ += n;
}

bool LackeyStream::refill() {
  if (in_seam_) {
    in_seam_ = false;
    pos_ = rest_;
    lim_ = rest_lim_;
    if (pos_ != lim_) return true;
  }
  // The block's incomplete last line goes to the seam (before the block is
  // handed back), completed by the next blocks up to their first '\n'.
  seam_len_ = 0;
  seam_append(lim_, static_cast<size_t>(blk_end_ - lim_));
  for (;;) {
    size_t n;
    const char* b;
    try {
      b = in_.next(n);
    } catch (const TraceDataError& e) {
      data_error(e);
    }
    if (n == 0) {
      if (seam_len_ == 0) return false;
      seam()[seam_len_++] = '\n';  // the last line need not end with one (room: kBuf + 1)
      pos_ = rest_ = rest_lim_ = blk_end_ = seam();
      lim_ = pos_ + seam_len_;
      in_seam_ = true;
      return true;
    }
    const char* const first_nl = static_cast<const char*>(std::memchr(b, '\n', n));
    if (!first_nl) {
      seam_append(b, n);
      continue;
    }
    blk_end_ = b + n;
    const char* const after = static_cast<const char*>(memrchr(b, '\n', n)) + 1;
    if (seam_len_ == 0) {
      pos_ = b;
      lim_ = after;
      return true;
    }
    seam_append(b, static_cast<size_t>(first_nl + 1 - b));
    pos_ = seam();
    lim_ = pos_ + seam_len_;
    rest_ = first_nl + 1;
    rest_lim_ = after;
    in_seam_ = true;
    return true;
  }
}

size_t LackeyStream::read(LackeyRecord* out, size_t max) {
  size_t n = 0;
  while (n < max) {
    if (pos_ == lim_ && !refill()) break;
    // The common lines in a loop of their own, with the position and the
    // counts in registers; anything else, one line at a time below.
    const char* p = pos_;
    const char* const lim = lim_;
    const size_t first = n;
    for (const char* next; n < max && p != lim && parse_fast(p, out[n], next) && out[n].addr >= kLowestAddr; p = next)
      ++n;
    pos_ = p;
    line_ += n - first;
    records_ += n - first;
    if (n == max || p == lim) continue;
    Bad bad = Bad::none;
    const int r = parse_line(p, out[n], bad, pos_);
    if (r > 0) {
      if (__builtin_expect(out[n].addr < kLowestAddr, 0))
        text_error(fmt::format("{}:{}: address {:#x} is below the lowest mappable address (64 KiB)", in_.path(),
                               line_ + 1, out[n].addr));
      ++line_;
      ++records_;
      ++n;
      continue;
    }
    if (r < 0) malformed(why_text(bad, out[n]));
    ++line_;
    pos_ = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(lim_ - p))) + 1;
  }
  return n;
}

// ---- LackeyTrace ----

LackeyTrace::LackeyTrace(std::string path, uint64_t limit, std::ostream* progress, size_t cache_bytes,
                         double progress_every_s)
    : path_(std::move(path)), limit_(limit), progress_(progress), progress_every_s_(progress_every_s) {
  LackeyStream in(path_);
  format_ = in.input().format();
  TraceProgress prog(progress_, "checking trace", path_, progress_every_s_);
  PageSet pages;
  uint64_t last_page[2] = {~0ull, ~0ull};  // the last two pages inserted (code and data, mostly)
  auto touch = [&](uint64_t page) {
    if (page == last_page[0] || page == last_page[1]) return;
    pages.insert(page);
    last_page[1] = last_page[0];
    last_page[0] = page;
  };
  constexpr size_t kBlock = 1024;  // 16 KiB of records, in the host's L1 cache
  std::unique_ptr<LackeyRecord[]> block(new LackeyRecord[kBlock]);
  size_t used = 0;
  try {
    cache_ = HostBuffer(cache_bytes);
    cached_ = true;
  } catch (const std::bad_alloc&) {
    cached_ = false;  // no address space to hold it: the run reads the file again
  }
  uint64_t bases[3] = {};
  uint64_t by_kind[4] = {};  // LackeyRecord::Kind order
  uint64_t seen = 0;
  uint64_t left = limit_ ? limit_ : ~0ull;
  while (left) {
    const size_t n = in.read(block.get(), static_cast<size_t>(std::min<uint64_t>(kBlock, left)));
    if (n == 0) break;
    left -= n;
    if (cached_ && used + n * kMaxEncoded > cache_bytes) {
      cached_ = false;  // too long to hold: the run reads the file again
      cache_.reset();
    }
    uint8_t* w = cached_ ? cache_.data() + used : nullptr;
    for (size_t i = 0; i < n; ++i) {
      const LackeyRecord& rec = block[i];
      if (w) w = encode(w, rec, bases);
      ++by_kind[static_cast<unsigned>(rec.kind)];
      const uint64_t first = rec.addr / x86::PAGE_SIZE, last = (rec.addr + rec.size - 1) / x86::PAGE_SIZE;
      if (__builtin_expect(first != last, 0)) {
        counts_.page_splits += rec.kind == LackeyRecord::Kind::modify ? 2 : 1;
        if (rec.kind == LackeyRecord::Kind::fetch) ++counts_.fetch_splits;
        touch(last);
      }
      touch(first);
    }
    if (w) used = static_cast<size_t>(w - cache_.data());
    seen += n;
    prog.tick(seen, [&] { return static_cast<double>(in.input().file_pos()) / static_cast<double>(in.input().file_size()); });
  }
  counts_.fetches = by_kind[static_cast<unsigned>(LackeyRecord::Kind::fetch)];
  counts_.loads = by_kind[static_cast<unsigned>(LackeyRecord::Kind::load)];
  counts_.stores = by_kind[static_cast<unsigned>(LackeyRecord::Kind::store)];
  counts_.modifies = by_kind[static_cast<unsigned>(LackeyRecord::Kind::modify)];
  if (counts_.records() == 0) throw std::runtime_error(fmt::format("{}: the trace has no accesses", path_));
  if (cached_) {
    cache_.shrink(used);
    cache_size_ = used;
  }
  for (uint64_t p : pages.sorted()) {
    if (!ranges_.empty() && p * x86::PAGE_SIZE <= ranges_.back().start + ranges_.back().length + kMergeGap)
      ranges_.back().length = (p + 1) * x86::PAGE_SIZE - ranges_.back().start;
    else
      ranges_.push_back({p * x86::PAGE_SIZE, x86::PAGE_SIZE});
  }
}

LackeyTrace::Reader::Reader(const LackeyTrace& t)
    : t_(t), in_(t.cached() ? nullptr : std::make_unique<LackeyStream>(t.path())),
      progress_(t.progress_, "replaying", t.path(), t.progress_every_s_), left_(t.limit() ? t.limit() : ~0ull),
      block_(new LackeyRecord[kBlock]) {}

bool LackeyTrace::Reader::refill() {
  pos_ = n_ = 0;
  if (!left_) return false;
  const size_t want = static_cast<size_t>(std::min<uint64_t>(kBlock, left_));
  if (!in_) {
    const uint8_t* const base = t_.cache_.data();
    const uint8_t* p = base + cache_pos_;
    const uint8_t* const end = base + t_.cache_size_;
    while (n_ < want && p < end) p = decode(p, block_[n_++], bases_);
    cache_pos_ = static_cast<size_t>(p - base);
  } else {
    try {
      n_ = in_->read(block_.get(), want);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("trace changed on disk during the run: ") + e.what());
    }
  }
  left_ -= n_;
  done_ += n_;
  progress_.tick(done_, [&] {
    return in_ ? static_cast<double>(in_->input().file_pos()) / static_cast<double>(in_->input().file_size())
               : static_cast<double>(cache_pos_) / static_cast<double>(t_.cache_size_);
  });
  return n_ > 0;
}

}  // namespace tb
