// Workload pieces on their own: the lackey parser, the shadow memory's
// fork/DONTNEED/FREE semantics, the files' initial content and shadow
// (writes, truncation, shared and private file mappings), and the address
// patterns.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <iterator>
#include <fstream>
#include <set>

#include "tb/common/mmcosim_run.h"
#include "tb/workload/file_content.h"
#include "tb/workload/files.h"
#include "tb/workload/lackey.h"
#include "tb/workload/pattern.h"
#include "tb/workload/shadow.h"

namespace tb {
namespace {

TEST(Lackey, ParsesEveryKindAndSkipsValgrindLines) {
  LackeyRecord r;
  std::string why;
  EXPECT_EQ(parse_lackey_line("==12345== Lackey, an example Valgrind tool", r, why), 0);
  EXPECT_EQ(parse_lackey_line("", r, why), 0);
  ASSERT_EQ(parse_lackey_line("I  0108ddc0,3", r, why), 1);
  EXPECT_EQ(r.kind, LackeyRecord::Kind::fetch);
  EXPECT_EQ(r.addr, 0x108ddc0u);
  EXPECT_EQ(r.size, 3u);
  ASSERT_EQ(parse_lackey_line(" S 7ff000808,8", r, why), 1);
  EXPECT_EQ(r.kind, LackeyRecord::Kind::store);
  ASSERT_EQ(parse_lackey_line(" L 0421d7b8,16", r, why), 1);
  EXPECT_EQ(r.kind, LackeyRecord::Kind::load);
  EXPECT_EQ(r.size, 16u);
  ASSERT_EQ(parse_lackey_line(" M 0421d7b8,4", r, why), 1);
  EXPECT_EQ(r.kind, LackeyRecord::Kind::modify);
}

TEST(Lackey, RejectsMalformedLines) {
  LackeyRecord r;
  std::string why;
  for (const char* bad : {"X 1234,4", " L 12z4,4", " L 1234", " L 1234,", " L 1234,0", " S 1234,4 junk",
                          " L 1234,128", " L ffffffffffff,8"}) {
    EXPECT_EQ(parse_lackey_line(bad, r, why), -1) << bad;
    EXPECT_FALSE(why.empty());
  }
}

// What a lackey line means, spelled out plainly (the reader's parser takes
// word-at-a-time shortcuts for the lines lackey writes): 1 with the record,
// 0 for a line to skip, -1 for a malformed one.
int reference_parse(const std::string& l, LackeyRecord& r) {
  size_t i = 0;
  if (!l.empty() && l[0] == 'I') {
    r.kind = LackeyRecord::Kind::fetch;
    i = 1;
  } else if (l.size() > 2 && l[0] == ' ' && std::strchr("LSM", l[1])) {
    r.kind = l[1] == 'L' ? LackeyRecord::Kind::load : l[1] == 'S' ? LackeyRecord::Kind::store
                                                                  : LackeyRecord::Kind::modify;
    i = 2;
  } else {
    if (l.rfind("==", 0) == 0 || l.rfind("--", 0) == 0) return 0;
    return l.find_first_not_of(" \t\r") == std::string::npos ? 0 : -1;
  }
  while (i < l.size() && l[i] == ' ') ++i;
  size_t j = i;
  while (j < l.size() && std::isxdigit(static_cast<unsigned char>(l[j]))) ++j;
  if (j == i || j - i > 16 || j == l.size() || l[j] != ',') return -1;
  const uint64_t addr = std::stoull(l.substr(i, j - i), nullptr, 16);
  size_t k = ++j;
  while (k < l.size() && std::isdigit(static_cast<unsigned char>(l[k]))) ++k;
  if (k == j || k - j > 6) return -1;
  const uint64_t size = std::stoull(l.substr(j, k - j));
  while (k < l.size() && (l[k] == ' ' || l[k] == '\r')) ++k;
  if (size == 0 || k != l.size() || size > 64 || addr + size > (1ull << 47)) return -1;
  r.addr = addr;
  r.size = static_cast<unsigned>(size);
  return 1;
}

TEST(Lackey, ParserAgreesWithThePlainReadingOnRandomLines) {
  // Lines near lackey's own: its kinds and a few wrong ones, 0 to 18 hex
  // digits of either case, a size of 0 to 3 digits, odd separators and tails.
  const char* const kinds[] = {"I  ", " L ", " S ", " M ", "I ", "I   ", " L  ", " X ", "  L ", "==", ""};
  const char* const seps[] = {",", ",", ",", ";", ""};
  const char* const tails[] = {"", "", "", "", " ", "\r", "x", "  "};
  uint64_t x = 0x243f6a8885a308d3ull;
  auto rnd = [&](uint64_t n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x % n;
  };
  unsigned records = 0;
  for (int iter = 0; iter < 200000; ++iter) {
    std::string l = kinds[rnd(rnd(2) ? 4 : std::size(kinds))];
    const uint64_t digits = rnd(4) ? 6 + rnd(6) : rnd(19);
    for (uint64_t d = 0; d < digits; ++d) l += (rnd(2) ? "0123456789abcdef" : "0123456789ABCDEF")[rnd(16)];
    l += seps[rnd(std::size(seps))];
    const uint64_t sdigits = rnd(4) ? 1 + rnd(2) : rnd(4);
    for (uint64_t d = 0; d < sdigits; ++d) l += static_cast<char>('0' + rnd(10));
    l += tails[rnd(std::size(tails))];
    LackeyRecord want, got;
    std::string why;
    const int w = reference_parse(l, want), g = parse_lackey_line(l, got, why);
    ASSERT_EQ(g, w) << "'" << l << "': " << why;
    if (w != 1) continue;
    ++records;
    ASSERT_EQ(got.kind, want.kind) << l;
    ASSERT_EQ(got.addr, want.addr) << l;
    ASSERT_EQ(got.size, want.size) << l;
  }
  EXPECT_GT(records, 50000u);  // most lines are records
}

TEST(Lackey, TraceCountsRangesAndSplits) {
  const std::string dir = temp_dir("lackey-trace");
  const std::string f = write_file(dir, "t.trace",
                                   "==1== header\n"
                                   "I  00400ffe,4\n"      // crosses 0x401000: split
                                   " L 00401000,8\n"
                                   " M 7ff000ffc,8\n"     // crosses a page: both halves split
                                   " S 7ff000000,8\n");
  LackeyTrace t(f, 0);
  EXPECT_EQ(t.counts().fetches, 1u);
  EXPECT_EQ(t.counts().loads, 1u);
  EXPECT_EQ(t.counts().modifies, 1u);
  EXPECT_EQ(t.counts().stores, 1u);
  EXPECT_EQ(t.counts().accesses(), 5u);
  EXPECT_EQ(t.counts().page_splits, 3u);
  ASSERT_EQ(t.ranges().size(), 2u);
  EXPECT_EQ(t.ranges()[0].start, 0x400000u);
  EXPECT_EQ(t.ranges()[0].length, 0x2000u);
  EXPECT_EQ(t.ranges()[1].start, 0x7ff000000u);
  EXPECT_EQ(t.ranges()[1].length, 0x2000u);
}

// A record below 64 KiB is an error naming its line, also when it is a line
// the common-line loop parses (lackey's own form, among others of it).
TEST(Lackey, LowAddressNamesItsLine) {
  const std::string dir = temp_dir("lackey-low");
  const std::string f =
      write_file(dir, "t.trace", "==1== header\nI  00400000,4\n L 00401000,8\n L 0000fff8,8\n S 00401000,8\n");
  try {
    LackeyTrace t(f, 0);
    FAIL() << "a record at 0xfff8 accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("t.trace:4: address 0xfff8 is below the lowest mappable address"),
              std::string::npos)
        << e.what();
  }
}

TEST(Lackey, MalformedLineNamesFileAndLine) {
  const std::string dir = temp_dir("lackey-bad");
  const std::string f = write_file(dir, "t.trace", "I  00400000,4\n L 00401000;8\n");
  try {
    LackeyTrace t(f, 0);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("t.trace:2: malformed lackey line"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LackeyTrace(dir + "/missing.trace", 0), std::runtime_error);
}

TEST(Shadow, ForkCopiesPrivateAndSharesShared) {
  Shadow s;
  s.map(0x10000, 0x2000, false);
  s.map(0x20000, 0x1000, true);
  const uint8_t one[8] = {1, 1, 1, 1, 1, 1, 1, 1}, two[8] = {2, 2, 2, 2, 2, 2, 2, 2};
  uint8_t exp[8];
  s.store(*s.find(0x10000, 8), 0x10000, 8, one);
  s.store(*s.find(0x20000, 8), 0x20000, 8, one);
  auto child = s.fork();
  child->store(*child->find(0x10000, 8), 0x10000, 8, two);  // private: the parent must not see it
  child->store(*child->find(0x20000, 8), 0x20000, 8, two);  // shared: the parent must see it
  EXPECT_TRUE(s.check(*s.find(0x10000, 8), 0x10000, 8, one, exp));
  EXPECT_TRUE(s.check(*s.find(0x20000, 8), 0x20000, 8, two, exp));
  EXPECT_FALSE(s.check(*s.find(0x10000, 8), 0x10000, 8, two, exp));
  EXPECT_EQ(exp[0], 1);
}

TEST(Shadow, PaddedCheckComparesExactlyTheAccessBytesEvenAtTheEnd) {
  // Every size up to 16 at the region's last bytes (the compare reads 16
  // bytes, masked): a difference in the access's last byte fails, one just
  // past it does not; the same for wider accesses.
  Shadow s;
  s.map(0x10000, 0x1000, false);
  const Shadow::Region& r = *s.find(0x10000, 8);
  uint8_t fill[64], exp[64];
  for (unsigned i = 0; i < 64; ++i) fill[i] = static_cast<uint8_t>(0x11 * (i + 1));
  for (unsigned len = 1; len <= 64; ++len) {
    for (uint64_t va : {0x10000ull + 100, 0x11000ull - len}) {
      s.store(r, va, len, fill);
      uint64_t data[8];
      std::memcpy(data, fill, sizeof fill);
      auto* d = reinterpret_cast<uint8_t*>(data);
      if (len < 64) d[len] ^= 0xff;  // past the access: ignored
      EXPECT_TRUE(s.check_padded(r, va, len, d, exp)) << len;
      d[len - 1] ^= 0x01;  // its last byte
      EXPECT_FALSE(s.check_padded(r, va, len, d, exp)) << len;
      EXPECT_EQ(exp[len - 1], fill[len - 1]) << len;
      d[len - 1] ^= 0x01;
      d[0] ^= 0x80;  // its first byte
      EXPECT_FALSE(s.check_padded(r, va, len, d, exp)) << len;
    }
  }
}

TEST(Shadow, DontneedZeroesAndFreeAllowsEitherUntilSettled) {
  Shadow s;
  s.map(0x10000, 0x3000, false);
  const uint8_t v[8] = {7, 7, 7, 7, 7, 7, 7, 7}, zero[8] = {};
  uint8_t exp[8];
  for (uint64_t va : {0x10000ull, 0x11000ull, 0x12000ull}) s.store(*s.find(va, 8), va, 8, v);
  s.zero(0x10000, 0x1000);
  EXPECT_TRUE(s.check(*s.find(0x10000, 8), 0x10000, 8, zero, exp));
  EXPECT_FALSE(s.check(*s.find(0x10000, 8), 0x10000, 8, v, exp));
  s.lazy_free(0x11000, 0x2000);
  const Shadow::Region& r = *s.find(0x11000, 8);
  EXPECT_TRUE(s.check(r, 0x11000, 8, v, exp));     // not reclaimed yet
  EXPECT_TRUE(s.check(r, 0x11000, 8, zero, exp));  // reclaimed: settles to zero
  EXPECT_FALSE(s.check(r, 0x11000, 8, v, exp));    // and stays zero
  s.store(r, 0x12000, 8, v);                        // a write keeps the page
  EXPECT_FALSE(s.check(r, 0x12000, 8, zero, exp));
}

TEST(Shadow, AMemoryErrorsPageIsUncheckedUntilReplacedAndOnlyThatPage) {
  Shadow s;
  s.map(0x10000, 0x3000, false);
  const uint8_t v[8] = {7, 7, 7, 7, 7, 7, 7, 7}, w[8] = {9, 9, 9, 9, 9, 9, 9, 9}, zero[8] = {};
  uint8_t exp[8];
  for (uint64_t va : {0x10000ull, 0x11000ull, 0x12000ull}) s.store(*s.find(va, 8), va, 8, v);
  s.forget(0x11000, 0x1000);  // the SIGBUS of a poisoned page
  const Shadow::Region& r = *s.find(0x10000, 8);
  EXPECT_TRUE(s.check(r, 0x11000, 8, w, exp)) << "Linux did not keep it: anything may be read";
  EXPECT_TRUE(s.check(r, 0x11ff8, 8, zero, exp));
  EXPECT_FALSE(s.check(r, 0x10000, 8, w, exp)) << "the page before is still checked";
  EXPECT_FALSE(s.check(r, 0x12000, 8, w, exp)) << "and the page after";
  s.store(r, 0x11000, 8, v);  // a store does not make the rest of the page known
  EXPECT_TRUE(s.check(r, 0x11008, 8, w, exp));
  std::unique_ptr<Shadow> child = s.fork();
  EXPECT_TRUE(child->check(*child->find(0x11000, 8), 0x11010, 8, w, exp)) << "a forked child's copy is unknown too";
  s.zero(0x11000, 0x1000);  // MADV_DONTNEED: a fresh page, known again
  EXPECT_FALSE(s.check(*s.find(0x11000, 8), 0x11000, 8, w, exp));
  EXPECT_TRUE(s.check(*s.find(0x11000, 8), 0x11000, 8, zero, exp));
  s.forget(0x12000, 0x1000);
  s.map(0x12000, 0x1000, false);  // a new mapping replaces it
  EXPECT_FALSE(s.check(*s.find(0x12000, 8), 0x12000, 8, w, exp));
}

TEST(Shadow, PartialUnmapKeepsTheRest) {
  Shadow s;
  s.map(0x10000, 0x3000, false);
  const uint8_t v[8] = {9, 9, 9, 9, 9, 9, 9, 9};
  uint8_t exp[8];
  s.store(*s.find(0x12000, 8), 0x12000, 8, v);
  s.unmap(0x11000, 0x1000);
  EXPECT_EQ(s.find(0x11000, 8), nullptr);
  ASSERT_NE(s.find(0x12000, 8), nullptr);
  EXPECT_TRUE(s.check(*s.find(0x12000, 8), 0x12000, 8, v, exp));
}

TEST(FileContent, AnyAlignmentIsASliceOfTheWholeAndDependsOnSeedAndInode) {
  uint8_t whole[256], part[256];
  file_initial_content(5, 1, 0, whole, sizeof whole);
  for (uint64_t off : {0u, 1u, 7u, 8u, 13u, 100u})
    for (uint64_t len : {0u, 1u, 3u, 8u, 9u, 64u, 150u}) {
      std::memset(part, 0xee, sizeof part);
      file_initial_content(5, 1, off, part, len);
      EXPECT_EQ(std::memcmp(part, whole + off, len), 0) << off << "+" << len;
      if (len < sizeof part) {
        EXPECT_EQ(part[len], 0xee) << "writes no byte past len";
      }
    }
  file_initial_content(6, 1, 0, part, 64);
  EXPECT_NE(std::memcmp(part, whole, 64), 0) << "another seed";
  file_initial_content(5, 2, 0, part, 64);
  EXPECT_NE(std::memcmp(part, whole, 64), 0) << "another file";
}

FileSpec spec(uint32_t ino, uint64_t size) {
  FileSpec f;
  f.name = "f" + std::to_string(ino);
  f.ino = ino;
  f.size = size;
  return f;
}

std::vector<uint8_t> bytes_of(const FileState& f, uint64_t off, uint64_t len) {
  std::vector<uint8_t> v(len);
  f.read(off, len, v.data());
  return v;
}

TEST(FileState, WritesOverlayTheInitialContentAndTruncationZeroesWhatRegrows) {
  FileState f(3, spec(1, 3 * 4096 + 100));
  std::vector<uint8_t> init(16);
  file_initial_content(3, 1, 4090, init.data(), init.size());
  EXPECT_EQ(bytes_of(f, 4090, 16), init);
  EXPECT_EQ(f.readable(3 * 4096, 4096), 100u) << "a short read at the end of the file";
  EXPECT_EQ(f.readable(4 * 4096, 10), 0u);
  const uint8_t w[6] = {1, 2, 3, 4, 5, 6};
  f.write(4093, 6, w);  // across a page boundary
  auto got = bytes_of(f, 4090, 16);
  EXPECT_EQ(got[2], init[2]);
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + 3, got.begin() + 9), std::vector<uint8_t>(w, w + 6));
  EXPECT_EQ(got[9], init[9]);
  // Cut to 4095 bytes, then grow by a write at 8192: everything between reads as zero.
  f.truncate(4095);
  EXPECT_EQ(f.size(), 4095u);
  EXPECT_EQ(bytes_of(f, 4093, 2), std::vector<uint8_t>({1, 2}));
  f.write(8192, 6, w);
  EXPECT_EQ(f.size(), 8198u);
  EXPECT_EQ(bytes_of(f, 4095, 4097), std::vector<uint8_t>(4097, 0));
  EXPECT_EQ(bytes_of(f, 8192, 6), std::vector<uint8_t>(w, w + 6));
  f.truncate(3 * 4096);  // ftruncate up: a hole
  EXPECT_EQ(bytes_of(f, 8198, 4096), std::vector<uint8_t>(4096, 0));
}

TEST(Shadow, FileMappingsReadTheFileSharedStoresChangeItPrivateOnesCopy) {
  FileState f(9, spec(1, 4 * 4096));
  Shadow s;
  s.map_file(0x100000, 0x2000, &f, 0x1000, true);    // file pages 1-2, shared
  s.map_file(0x200000, 0x2000, &f, 0x1000, false);   // the same pages, private
  uint8_t exp[8], init[8];
  file_initial_content(9, 1, 0x1008, init, 8);
  EXPECT_TRUE(s.check(*s.find(0x200008, 8), 0x200008, 8, init, exp)) << "a private mapping reads the file";
  const uint8_t v[8] = {7, 7, 7, 7, 7, 7, 7, 7}, u[8] = {5, 5, 5, 5, 5, 5, 5, 5};
  s.store(*s.find(0x100008, 8), 0x100008, 8, v);
  EXPECT_EQ(bytes_of(f, 0x1008, 8), std::vector<uint8_t>(v, v + 8)) << "a shared store changes the file";
  EXPECT_TRUE(s.check(*s.find(0x200008, 8), 0x200008, 8, v, exp)) << "the private page is not copied yet";
  s.store(*s.find(0x200010, 8), 0x200010, 8, u);  // copies page 1 as it is now
  EXPECT_NE(bytes_of(f, 0x1010, 8), std::vector<uint8_t>(u, u + 8)) << "a private store leaves the file alone";
  auto child = s.fork();
  s.store(*s.find(0x100008, 8), 0x100008, 8, u);  // the file changes again...
  EXPECT_TRUE(s.check(*s.find(0x200008, 8), 0x200008, 8, v, exp)) << "...the copied page does not follow";
  EXPECT_TRUE(child->check(*child->find(0x200010, 8), 0x200010, 8, u, exp)) << "the child has the copy too";
  EXPECT_TRUE(child->check(*child->find(0x100008, 8), 0x100008, 8, u, exp)) << "and shares the shared mapping";
  s.zero(0x200000, 0x2000);  // MADV_DONTNEED: the file shows through again
  EXPECT_TRUE(s.check(*s.find(0x200008, 8), 0x200008, 8, u, exp));
  EXPECT_FALSE(s.check(*s.find(0x200010, 8), 0x200010, 8, u, exp));
}

TEST(Pattern, SequentialStridedRandomZipf) {
  Pattern seq(Pattern::Kind::sequential, 64, 8, 8, 1, 0.99);
  for (uint64_t i = 0; i < 8; ++i) EXPECT_EQ(seq.next(), i * 8);
  EXPECT_EQ(seq.next(), 0u);  // wraps
  Pattern str(Pattern::Kind::strided, 3 * 4096, 8, 4096, 1, 0.99);
  EXPECT_EQ(str.next(), 0u);
  EXPECT_EQ(str.next(), 4096u);
  EXPECT_EQ(str.next(), 8192u);
  EXPECT_EQ(str.next(), 8u);  // the next lane
  Pattern rnd(Pattern::Kind::random, 1 << 20, 8, 8, 42, 0.99), rnd2(Pattern::Kind::random, 1 << 20, 8, 8, 42, 0.99);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t a = rnd.next();
    EXPECT_EQ(a, rnd2.next());
    EXPECT_EQ(a % 8, 0u);
    EXPECT_LT(a, 1u << 20);
    seen.insert(a);
  }
  EXPECT_GT(seen.size(), 900u);
  // Zipf: a few pages take most accesses.
  Pattern z(Pattern::Kind::zipf, 1024 * 4096, 8, 8, 7, 0.99);
  std::map<uint64_t, int> pages;
  for (int i = 0; i < 20000; ++i) ++pages[z.next() / 4096];
  std::vector<int> counts;
  for (auto& [p, c] : pages) counts.push_back(c);
  std::sort(counts.rbegin(), counts.rend());
  int top = 0;
  for (int i = 0; i < 10 && i < static_cast<int>(counts.size()); ++i) top += counts[i];
  EXPECT_GT(top, 20000 / 4) << "the 10 hottest of 1024 pages should take over a quarter of the accesses";
}

}  // namespace
}  // namespace tb
