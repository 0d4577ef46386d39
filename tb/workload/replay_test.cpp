// A trace replay on one host thread and on two (the op's `threads`; the
// second reads the trace ahead and checks the shadow behind the
// simulation: replay_pipeline.h), driven by a core in miniature over a flat
// host memory: the same counts either way (and a second host thread running
// with two), a wrong load found either way
// and, on two threads, found at the same point on every run, and a signal's
// shadow change ordered after the checks of the accesses before it.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tb/common/mmcosim_run.h"
#include "tb/common/progress_lines.h"
#include "tb/workload/program.h"

namespace tb {
namespace {

// This process's host threads, as Linux lists them.
unsigned host_threads() {
  unsigned n = 0;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) n += t.is_directory() ? 1 : 0;
  return n;
}

// Runs a program's accesses on host memory and answers its mmaps at their
// address. Stops batches short now and then (the rest of the batch then
// comes one access at a time through next(), as when a core misses its
// TLB); corrupts the data of one load; skips one access as if it raised a
// SIGBUS its handler took.
struct MiniCore {
  std::map<uint64_t, std::vector<uint8_t>> pages;
  std::mt19937_64 rng{7};
  bool stop_short = true;
  uint64_t corrupt_at = ~0ull;  // the access (by count) whose loaded data is wrong
  uint64_t skip_at = ~0ull;     // the access that raises the signal
  uint64_t kill_at = ~0ull;     // the process dies once this many accesses completed
  uint64_t completed = 0;
  // The process's host threads once 1,000 accesses have completed (the
  // replay's worker, if any, is running by then; 0 before).
  unsigned threads_seen = 0;

  std::vector<bool> loads;       // by access: a load or fetch

  // The first load or fetch at or after access i.
  uint64_t first_load_from(uint64_t i) const {
    while (i < loads.size() && !loads[i]) ++i;
    return i;
  }
  uint8_t* at(uint64_t va) {
    std::vector<uint8_t>& p = pages[va >> 12];
    if (p.empty()) p.resize(4096);
    return &p[va & 4095];
  }
  void access(uint64_t va, unsigned size, x86::Access acc, uint8_t* data) {
    if (acc == x86::Access::write) {
      std::memcpy(at(va), data, size);
    } else {
      std::memcpy(data, at(va), size);
      if (completed == corrupt_at) data[0] ^= 0x5a;
    }
    loads.push_back(acc != x86::Access::write);
    ++completed;
  }
  void run(ScriptedProgram& prog) {
    hw::UserOp op;
    uint64_t buf[hw::UserOp::kMaxSize / 8];
    for (;;) {
      unsigned n = 0;
      hw::UserAccess* b = prog.access_batch(n);
      if (n) {
        unsigned k = stop_short && rng() % 4 == 0 ? static_cast<unsigned>(rng() % n) : n;
        if (skip_at >= completed && skip_at < completed + k) k = static_cast<unsigned>(skip_at - completed);
        for (unsigned i = 0; i < k; ++i) access(b[i].va, b[i].size, b[i].access, reinterpret_cast<uint8_t*>(b[i].data));
        if (k) prog.complete_batch(k);
        if (!threads_seen && completed >= 1000) threads_seen = host_threads();
        if (completed >= kill_at) {
          prog.ended(0, 9);  // SIGKILL
          return;
        }
        if (k == n) continue;
      }
      if (!prog.next(op)) return;
      if (op.kind == hw::UserOp::Kind::syscall) {
        prog.complete(op, op.sys.arg[0], nullptr);  // the trace's fixed mappings
        continue;
      }
      if (completed == skip_at) {
        prog.signalled(hal::SigInfo{uapi::kSigbus, uapi::kBusMceerrAr, op.va & ~4095ull, 12});
        prog.skipped(op);
        skip_at = ~0ull;
        continue;
      }
      uint8_t* data = op.access == x86::Access::write ? reinterpret_cast<uint8_t*>(op.wdata)
                                                      : reinterpret_cast<uint8_t*>(buf);
      access(op.va, op.size, op.access, data);
      prog.complete(op, 0, data);
    }
  }
};

// A lackey trace of `records` records: loads, stores, modifies and fetches
// of 1 to 16 bytes over `pages` data pages (some crossing into the next
// page) and a code page.
std::string make_trace(const std::string& dir, unsigned records, unsigned pages, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string text;
  static const char* kKinds[] = {"I ", " L", " S", " M"};
  for (unsigned i = 0; i < records; ++i) {
    const unsigned kind = static_cast<unsigned>(rng() % 4);
    const uint64_t base = kind == 0 ? 0x400000 : 0x10000000;
    const uint64_t addr = base + rng() % (kind == 0 ? 4096 : pages * 4096ull);
    char line[48];
    std::snprintf(line, sizeof line, "%s %08llx,%u\n", kKinds[kind], static_cast<unsigned long long>(addr),
                  1 + static_cast<unsigned>(rng() % 16));
    text += line;
  }
  return write_file(dir, "t.trace", text);
}

struct Replay {
  std::vector<Op> ops;
  ProcessStats stats{nullptr, "app"};
  ScriptedProgram prog;
  // progress: where the run's progress lines go, one every 16 slots.
  Replay(const std::string& trace, unsigned threads, std::ostream* progress = nullptr)
      : ops(1), prog("app", "test", &ops, 1, &stats) {
    ops[0].kind = Op::Kind::replay;
    ops[0].where = "t.yaml:6";
    ops[0].trace = std::make_shared<const LackeyTrace>(trace, 0, progress, LackeyTrace::kCacheBytes, 0.0);
    ops[0].threads = threads;
  }
  std::vector<uint64_t> counts() const {
    return {stats.reads.value(),         stats.writes.value(),       stats.fetches.value(),
            stats.verified.value(),      stats.trace_records.value(), stats.trace_splits.value()};
  }
};

// What running it threw ("" when nothing), and how many accesses the core had completed then.
std::string run_to_failure(Replay& r, MiniCore& core) {
  try {
    core.run(r.prog);
    if (core.completed < core.kill_at) r.prog.settle();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// What settle() throws at the end of the run ("" when nothing).
std::string settle_failure(Replay& r) {
  try {
    r.prog.settle();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(ReplayThreads, TwoThreadsCountAndStoreExactlyAsOne) {
  const std::string trace = make_trace(temp_dir("replay-threads"), 60000, 24, 1);
  Replay one(trace, 1), two(trace, 2);
  MiniCore c1, c2;
  ASSERT_EQ(run_to_failure(one, c1), "");
  ASSERT_EQ(run_to_failure(two, c2), "");
  EXPECT_EQ(one.counts(), two.counts());
  EXPECT_EQ(one.stats.trace_records.value(), 60000u);
  EXPECT_GT(one.stats.verified.value(), 40000u);
  EXPECT_EQ(c1.completed, c2.completed);
  EXPECT_EQ(c1.pages, c2.pages) << "the stores wrote the same bytes";
  // And two threads did run: `threads: 2` started the worker, `threads: 1` did not
  // (a host of one CPU replays on one thread either way).
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one CPU: no worker to see";
  EXPECT_EQ(c2.threads_seen, c1.threads_seen + 1);
}

// The simulation's thread prints the run's progress (the worker's reader is
// muted): the records replayed so far, as a share of the trace's.
TEST(ReplayThreads, TheRunShowsItsProgress) {
  const std::string trace = make_trace(temp_dir("replay-progress"), 60000, 24, 5);
  for (unsigned threads : {1u, 2u}) {
    std::ostringstream os;
    Replay r(trace, threads, &os);
    MiniCore c;
    ASSERT_EQ(run_to_failure(r, c), "");
    const std::vector<ProgressLine> run = progress_lines(os.str(), "replaying", trace);
    ASSERT_GE(run.size(), 2u) << os.str();
    expect_progress(run);
    EXPECT_GE(run.back().percent, 50) << os.str();
  }
}

TEST(ReplayThreads, AWrongLoadFailsTheRunAtTheSamePointOnOneThreadOrTwoEveryTime) {
  const std::string trace = make_trace(temp_dir("replay-wrong-load"), 60000, 24, 2);
  // A load near the middle.
  uint64_t target = 0;
  {
    Replay r(trace, 1);
    MiniCore c;
    ASSERT_EQ(run_to_failure(r, c), "");
    target = c.first_load_from(30000);
  }
  Replay r1(trace, 1);
  MiniCore c1;
  c1.corrupt_at = target;
  const std::string serial = run_to_failure(r1, c1);
  ASSERT_NE(serial.find("t.yaml:6: process app: "), std::string::npos) << serial;
  ASSERT_NE(serial.find("returned"), std::string::npos) << serial;
  ASSERT_NE(serial.find("(what the process last wrote there)"), std::string::npos) << serial;
  // Found once the core has finished the slot after the load's (about a
  // thousand accesses a slot), not before the load completed.
  EXPECT_GT(c1.completed, target + 1000);
  EXPECT_LT(c1.completed, target + 3000);
  for (int run = 0; run < 4; ++run) {
    Replay r2(trace, 2);
    MiniCore c2;
    c2.corrupt_at = target;
    EXPECT_EQ(run_to_failure(r2, c2), serial) << "run " << run;
    EXPECT_EQ(c2.completed, c1.completed) << "run " << run << ": at the same access as on one thread, every time";
  }
}

// The process dies (the kernel calls ended()) with a wrong load not yet
// checked: settle(), at the end of the run, reports it.
TEST(ReplayThreads, AWrongLoadBeforeTheProcessDiesIsReportedAtTheEnd) {
  const std::string trace = make_trace(temp_dir("replay-dies"), 20000, 8, 3);
  for (unsigned threads : {1u, 2u}) {
    Replay probe(trace, threads);
    MiniCore p;
    ASSERT_EQ(run_to_failure(probe, p), "");
    Replay r(trace, threads);
    MiniCore c;
    c.stop_short = false;
    c.corrupt_at = p.first_load_from(5000);
    c.kill_at = c.corrupt_at + 1;
    EXPECT_EQ(run_to_failure(r, c), "") << "nothing is raised inside the kernel's call";
    EXPECT_LT(c.completed, c.corrupt_at + 200) << "the process died in the batch after the load";
    const std::string what = settle_failure(r);
    EXPECT_NE(what.find("returned"), std::string::npos) << threads << " threads: " << what;
  }
}

// The signal forgets the page in the shadow; the load before it, wrong,
// must still be checked against the shadow as it was.
TEST(ReplayThreads, ASignalWaitsForTheChecksOfTheAccessesBeforeIt) {
  const std::string dir = temp_dir("replay-signal");
  // One page: a store, then loads of it, and a store that is skipped.
  std::string text;
  for (int i = 0; i < 20000; ++i) text += i % 2 ? " L 10000100,8\n" : " S 10000100,8\n";
  const std::string trace = write_file(dir, "t.trace", text);
  for (unsigned threads : {1u, 2u}) {
    Replay r(trace, threads);
    MiniCore c;
    c.stop_short = false;
    c.skip_at = 9000;      // a store
    c.corrupt_at = 8999;   // the load before it
    const std::string what = run_to_failure(r, c);
    EXPECT_NE(what.find("returned"), std::string::npos) << threads << " threads: " << what;
  }
  for (unsigned threads : {1u, 2u}) {  // and without the wrong load, no failure
    Replay r(trace, threads);
    MiniCore c;
    c.stop_short = false;
    c.skip_at = 9000;
    EXPECT_EQ(run_to_failure(r, c), "") << threads << " threads";
    EXPECT_EQ(r.stats.verified.value(), 10000u);
  }
}

}  // namespace
}  // namespace tb
