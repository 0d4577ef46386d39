// Trace input: the same lackey trace read plain and compressed with xz,
// gzip and zstd (recognised by content, whatever the file's name; streams,
// members and frames one after another), the records identical; corrupt
// and truncated compressed data named by file and record (the decoder's
// finding, even where its garbage made a malformed line first); streaming
// in blocks from the file, and again when the trace is longer than the
// record cache; the progress line's figures; the decoding thread's blocks
// (in order across block boundaries, errors after the text before them, the
// thread joined when the reader stops early).
#include <gtest/gtest.h>

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "tb/common/mmcosim_run.h"
#include "tb/common/progress_lines.h"
#include "tb/workload/lackey.h"
#include "tb/workload/trace_input.h"

namespace tb {
namespace {

// A trace of n records of every kind, with valgrind's header lines, some
// records crossing a page.
std::string make_trace(unsigned n) {
  std::string t = "==1== Lackey, an example Valgrind tool\n==1== Command: ./prog\n";
  char line[64];
  for (unsigned i = 0; i < n; ++i) {
    const char* kind = i % 4 == 0 ? "I " : i % 4 == 1 ? " L" : i % 4 == 2 ? " S" : " M";
    const uint64_t addr = (i % 4 == 0 ? 0x400000ull : 0x7ff000000ull) + (i * 40ull) % 0x30000;
    std::snprintf(line, sizeof line, "%s %08llx,%u\n", kind, static_cast<unsigned long long>(addr), 1u << (i % 4));
    t += line;
  }
  return t + "==1== done\n";
}

std::string xz(const std::string& s) {
  std::string out(lzma_stream_buffer_bound(s.size()), '\0');
  size_t pos = 0;
  EXPECT_EQ(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, nullptr, reinterpret_cast<const uint8_t*>(s.data()), s.size(),
                                    reinterpret_cast<uint8_t*>(out.data()), &pos, out.size()),
            LZMA_OK);
  out.resize(pos);
  return out;
}

std::string gz(const std::string& s) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, s.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  z.avail_in = static_cast<uInt>(s.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zst(const std::string& s) {
  std::string out(ZSTD_compressBound(s.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), s.data(), s.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::vector<LackeyRecord> replay(const LackeyTrace& t) {
  std::vector<LackeyRecord> out;
  LackeyTrace::Reader r(t);
  LackeyRecord rec;
  while (r.next(rec)) out.push_back(rec);
  return out;
}

bool same(const std::vector<LackeyRecord>& a, const std::vector<LackeyRecord>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].kind != b[i].kind || a[i].addr != b[i].addr || a[i].size != b[i].size) return false;
  return true;
}

TEST(TraceInput, CompressedTracesReadByContent) {
  const std::string dir = temp_dir("trace-input");
  const std::string text = make_trace(20000);
  const LackeyTrace plain(write_file(dir, "t.trace", text), 0);
  EXPECT_EQ(plain.format(), TraceInput::Format::plain);
  EXPECT_EQ(plain.counts().records(), 20000u);
  const std::vector<LackeyRecord> want = replay(plain);
  ASSERT_EQ(want.size(), 20000u);
  struct Case {
    std::string data;
    TraceInput::Format format;
  };
  // Names that say nothing (or the wrong thing) about the format.
  const Case cases[] = {{xz(text), TraceInput::Format::xz},
                        {gz(text), TraceInput::Format::gzip},
                        {zst(text), TraceInput::Format::zstd},
                        {gz(text.substr(0, text.size() / 2)) + gz(text.substr(text.size() / 2)), TraceInput::Format::gzip},
                        {xz(text.substr(0, text.size() / 3)) + xz(text.substr(text.size() / 3)), TraceInput::Format::xz},
                        {zst(text.substr(0, text.size() / 3)) + zst(text.substr(text.size() / 3)),
                         TraceInput::Format::zstd}};
  for (const Case& c : cases) {
    const std::string name = std::string("trace-") + TraceInput::format_name(c.format) + ".txt";
    const LackeyTrace t(write_file(dir, name, c.data), 0);
    EXPECT_EQ(t.format(), c.format) << name;
    EXPECT_EQ(t.counts().records(), plain.counts().records()) << name;
    EXPECT_EQ(t.counts().page_splits, plain.counts().page_splits) << name;
    EXPECT_EQ(t.ranges().size(), plain.ranges().size()) << name;
    EXPECT_TRUE(same(replay(t), want)) << name;
  }
  // Plain text named as if compressed is plain text.
  for (const char* name : {"p.xz", "p.gz", "p.zst"}) {
    const LackeyTrace t(write_file(dir, name, text), 0);
    EXPECT_EQ(t.format(), TraceInput::Format::plain) << name;
    EXPECT_TRUE(same(replay(t), want)) << name;
  }
  // Too long for the record cache: the run streams the file again.
  const LackeyTrace streamed(write_file(dir, "s", xz(text)), 0, nullptr, 4096);
  EXPECT_FALSE(streamed.cached());
  EXPECT_TRUE(plain.cached());
  EXPECT_TRUE(same(replay(streamed), want));
  // A limit stops early in every format.
  const LackeyTrace lim(write_file(dir, "lim", zst(text)), 1000);
  EXPECT_EQ(replay(lim).size(), 1000u);
}

TEST(TraceInput, CorruptAndTruncatedDataNameFileAndRecord) {
  const std::string dir = temp_dir("trace-corrupt");
  const std::string text = make_trace(200000);  // several blocks of text
  struct Case {
    const char* name;
    const char* format;
    std::string data;
  };
  for (const Case& c : {Case{"t.xz", "xz", xz(text)}, Case{"t.gz", "gzip", gz(text)}, Case{"t.zst", "zstd", zst(text)}}) {
    const std::string name = c.name, data = c.data;
    const char* const format = c.format;
    std::string bad = data;
    for (size_t i = bad.size() / 2; i < bad.size() / 2 + 64; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    for (const std::string& broken : {bad, data.substr(0, data.size() / 2)}) {
      const std::string f = write_file(dir, name, broken);
      // The records a stream of the same blocks reads before the error.
      uint64_t before = 0;
      try {
        LackeyStream s(f);
        LackeyRecord r;
        while (s.read(&r, 1) > 0) ++before;
        ADD_FAILURE() << name << ": broken data read to its end";
      } catch (const std::exception&) {
      }
      // The decoder's finding, even where the garbage it let through made a
      // malformed line first.
      try {
        LackeyTrace t(f, 0);
        ADD_FAILURE() << name << ": broken data accepted";
      } catch (const std::exception& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.rfind(f + ": record " + std::to_string(before + 1) + " (line ", 0), 0u) << what;
        EXPECT_NE(what.find(std::string(format) + " data"), std::string::npos) << what;
        EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      }
    }
  }
  // Through mmcosim: exit status 2 and one line naming the scenario's key,
  // the trace file and the record.
  std::string bad = zst(text);
  bad.resize(bad.size() / 2);
  const std::string trace = write_file(dir, "cut.zst", bad);
  const std::string scen = write_file(dir, "s.yaml",
                                      "platform: {memory: {size: 256MiB}}\n"
                                      "workload:\n  processes:\n    - name: r\n      ops:\n"
                                      "        - replay: {file: " + trace + "}\n");
  const RunResult r = run_mmcosim({"run", scen, "--outdir", dir + "/out", "-q", "--no-progress"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << r.output;
  EXPECT_NE(r.output.find("s.yaml:6: workload.processes[0].ops[0].replay.file: " + trace + ": record "), std::string::npos)
      << r.output;
  // bzip2 is recognised and refused by name.
  try {
    LackeyTrace t(write_file(dir, "t.bz2", "BZh91AY&SY"), 0);
    ADD_FAILURE();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("bzip2"), std::string::npos) << e.what();
  }
}

TEST(TraceInput, StreamsInBlocksAndShowsProgress) {
  // Straight from the stream: the same records as the whole text parsed
  // line by line, read in blocks smaller than the file.
  const std::string dir = temp_dir("trace-stream");
  const std::string text = make_trace(300000);
  const std::string f = write_file(dir, "t.gz", gz(text));
  LackeyStream s(f);
  std::vector<LackeyRecord> block(777);
  uint64_t n = 0;
  std::istringstream lines(text);
  std::string line, why;
  for (size_t got; (got = s.read(block.data(), block.size())) > 0;) {
    for (size_t i = 0; i < got; ++i) {
      LackeyRecord want;
      int r;
      while ((r = parse_lackey_line((std::getline(lines, line), line), want, why)) == 0) {
      }
      ASSERT_EQ(r, 1);
      ASSERT_TRUE(want.addr == block[i].addr && want.size == block[i].size && want.kind == block[i].kind) << n + i;
    }
    n += got;
  }
  EXPECT_EQ(n, 300000u);
  EXPECT_EQ(s.records(), n);
  EXPECT_EQ(s.input().file_pos(), s.input().file_size());
  // Streamed: after the first records of a plain trace of several blocks,
  // at most a block or two of the file has been read.
  const std::string plain = write_file(dir, "t", text);
  ASSERT_GT(text.size(), 4 * TraceInput::kBlockBytes);
  LackeyStream ps(plain);
  ASSERT_EQ(ps.read(block.data(), block.size()), block.size());
  EXPECT_LE(ps.input().file_pos(), 2 * TraceInput::kBlockBytes);

  // A line every 16th block (no interval here): the records so far, their
  // rate and the fraction of the file, worked out when printed.
  std::ostringstream os;
  TraceProgress p(&os, "replaying", f, 0.0);
  for (unsigned i = 1; i <= 32; ++i) p.tick(i * 1000, [i] { return i / 32.0; });
  const std::vector<ProgressLine> shown = progress_lines(os.str(), "replaying", f);
  ASSERT_EQ(shown.size(), 2u) << os.str();
  EXPECT_EQ(shown[0].records, "0.02");  // 16,000
  EXPECT_EQ(shown[1].records, "0.03");  // 32,000
  EXPECT_EQ(shown[0].percent, 50);
  EXPECT_EQ(shown[1].percent, 100);
  expect_progress(shown);
}

// The real passes print it too: the check at load, a line every 16 blocks of
// 1,024 records, and the run's reader, plain and compressed.
TEST(TraceInput, TheCheckAndTheRunShowTheirProgress) {
  const std::string dir = temp_dir("trace-progress");
  const std::string text = make_trace(100000);  // 98 blocks
  for (const auto& [name, data] : {std::pair<std::string, std::string>{"t", text}, {"t.gz", gz(text)}}) {
    const std::string f = write_file(dir, name, data);
    std::ostringstream os;
    const LackeyTrace t(f, 0, &os, LackeyTrace::kCacheBytes, 0.0);
    const std::vector<ProgressLine> check = progress_lines(os.str(), "checking trace", f);
    EXPECT_EQ(check.size(), 6u) << os.str();
    expect_progress(check);
    os.str("");
    EXPECT_EQ(replay(t).size(), 100000u);
    const std::vector<ProgressLine> run = progress_lines(os.str(), "replaying", f);
    EXPECT_GE(run.size(), 5u) << os.str();
    expect_progress(run);
    EXPECT_GE(run.back().percent, 90) << os.str();
  }
}

// Every format through blocks of a few bytes: the blocks, put together, are
// the text, none longer than asked for.
TEST(TraceInput, BlocksKeepTheirOrder) {
  const std::string dir = temp_dir("trace-blocks");
  const std::string text = make_trace(1000);
  for (const auto& [name, data] : {std::pair<std::string, std::string>{"t", text}, {"t.xz", xz(text)},
                                   {"t.gz", gz(text)}, {"t.zst", zst(text)}}) {
    const std::string f = write_file(dir, name, data);
    for (size_t block : {size_t{1}, size_t{7}, size_t{4096}, TraceInput::kBlockBytes}) {
      TraceInput in(f, block);
      std::string got;
      size_t n;
      for (const char* b; (b = in.next(n)), n > 0;) {
        ASSERT_LE(n, block) << name;
        got.append(b, n);
      }
      EXPECT_TRUE(got == text) << name << " in blocks of " << block;
      in.next(n);
      EXPECT_EQ(n, 0u) << name << ": the end stays the end";
    }
  }
}

// The records of a stream in blocks of a few bytes: lines cross blocks (a
// long valgrind line crosses many, the last has no newline), and every
// record is the one the text says, in order.
TEST(TraceInput, LinesAcrossBlocks) {
  const std::string dir = temp_dir("trace-seams");
  std::string text = make_trace(2000);
  text.insert(text.find('\n') + 1, "==1== " + std::string(5000, 'x') + "\n\n");
  text += "I  00401000,5";  // no newline at the end
  const std::vector<LackeyRecord> want = [&] {
    std::vector<LackeyRecord> v;
    std::istringstream lines(text);
    std::string line, why;
    for (LackeyRecord r; std::getline(lines, line);)
      if (parse_lackey_line(line, r, why) == 1) v.push_back(r);
    return v;
  }();
  ASSERT_EQ(want.size(), 2001u);
  for (const auto& [name, data] : {std::pair<std::string, std::string>{"t", text}, {"t.xz", xz(text)}}) {
    const std::string f = write_file(dir, name, data);
    for (size_t block : {size_t{1}, size_t{5}, size_t{13}, size_t{4096}}) {
      LackeyStream s(f, block);
      std::vector<LackeyRecord> got(3000);
      size_t n = 0;
      for (size_t k; (k = s.read(got.data() + n, 3)) > 0;) n += k;
      got.resize(n);
      EXPECT_TRUE(same(got, want)) << name << " in blocks of " << block;
      EXPECT_EQ(s.lines(), 2000u + 6u) << name;  // and valgrind's 3, the long, blank and last lines
    }
  }
}

// A compressed stream cut short: the records before the cut come out, in
// order, then the error names the file and the next record, the same
// record whatever the size of the blocks.
TEST(TraceInput, ErrorAfterTheBlocksBeforeIt) {
  const std::string dir = temp_dir("trace-cut");
  const std::string text = make_trace(40000);
  const std::vector<LackeyRecord> want = replay(LackeyTrace(write_file(dir, "t", text), 0));
  for (const auto& [name, data] : {std::pair<std::string, std::string>{"t.xz", xz(text)}, {"t.gz", gz(text)},
                                   {"t.zst", zst(text)}}) {
    const std::string f = write_file(dir, name, data.substr(0, data.size() * 3 / 4));
    size_t first = 0;
    for (size_t block : {size_t{4096}, size_t{61}}) {
      LackeyStream s(f, block);
      std::vector<LackeyRecord> got(want.size());
      size_t n = 0;
      try {
        while (s.read(got.data() + n, 1) > 0) ++n;
        ADD_FAILURE() << name << ": a cut stream read to its end";
      } catch (const std::exception& e) {
        // make_trace's record k is on line k + 2 (valgrind's two lines first).
        EXPECT_EQ(std::string(e.what()).rfind(f + ": record " + std::to_string(n + 1) + " (line " + std::to_string(n + 3) +
                                                  "): ",
                                              0),
                  0u)
            << e.what();
      }
      EXPECT_GT(n, want.size() / 4) << name;  // blocks went out before the error
      if (!first) first = n;
      EXPECT_EQ(n, first) << name << " in blocks of " << block;
      got.resize(n);
      EXPECT_TRUE(same(got, std::vector<LackeyRecord>(want.begin(), want.begin() + static_cast<long>(n)))) << name;
    }
  }
}

// A reader that stops early (an error, a limit) ends the decoding thread
// however far ahead it is: no hang, no thread left running.
TEST(TraceInput, EarlyStopJoinsTheThread) {
  const std::string dir = temp_dir("trace-stop");
  const std::string f = write_file(dir, "t.xz", xz(make_trace(200000)));
  auto within_seconds = [](auto&& fn) {
    auto done = std::async(std::launch::async, fn);
    if (done.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "the reader did not stop";
      std::abort();  // a thread that never joins cannot be waited for
    }
    done.get();
  };
  for (size_t block : {size_t{64}, size_t{4096}}) {
    within_seconds([&] {
      LackeyStream s(f, block);
      LackeyRecord r[10];
      EXPECT_EQ(s.read(r, 10), 10u);
      // Time for the thread to fill the ring and wait (the case to test).
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    });
    within_seconds([&] {  // stopped just after its thread started
      TraceInput in(f, block);
      size_t n;
      in.next(n);
      EXPECT_GT(n, 0u);
    });
  }
  const LackeyTrace lim(f, 1000);  // the check pass stops at its limit
  EXPECT_EQ(lim.counts().records(), 1000u);
}

}  // namespace
}  // namespace tb
