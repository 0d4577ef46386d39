// The timeline's sink alone: the ring keeps exactly the last N events,
// begin/end pairs become complete events, lanes keep overlapping spans
// apart, the flags filter, and the JSON is what Perfetto reads.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hw/base/trace.h"

SIM_DEBUG_FLAG(TraceTestOn, "a flag of the trace test")
SIM_DEBUG_FLAG(TraceTestOff, "another flag of the trace test")

namespace sim::trace {
namespace {

nlohmann::json written(Sink& s, uint64_t end_ps = 0) {
  std::ostringstream out;
  s.write(out, end_ps, {{"seed", "7"}});
  return nlohmann::json::parse(out.str());
}

// The events that are not metadata, in file order.
std::vector<nlohmann::json> events(const nlohmann::json& j) {
  std::vector<nlohmann::json> out;
  for (const auto& e : j["traceEvents"])
    if (e["ph"] != "M") out.push_back(e);
  return out;
}

TEST(TraceSink, TheRingKeepsExactlyTheLastNEventsAndSaysHowManyWentAway) {
  Sink s(3, "All");
  const TrackId t = s.track("cpu0", "cpu0");
  for (uint64_t i = 0; i < 10; ++i) s.instant(t, "Core", "tick", 1000000 * i, {{"i", i}});
  EXPECT_EQ(s.recorded(), 10u);
  EXPECT_EQ(s.dropped(), 7u);
  const nlohmann::json j = written(s);
  const auto ev = events(j);
  ASSERT_EQ(ev.size(), 3u);
  for (unsigned k = 0; k < 3; ++k) EXPECT_EQ(ev[k]["args"]["i"], 7 + k);
  EXPECT_EQ(j["otherData"]["events_dropped"], 7);
  EXPECT_EQ(j["otherData"]["events_recorded"], 10);
  EXPECT_EQ(j["otherData"]["trace_limit"], 3);
  EXPECT_EQ(j["otherData"]["seed"], 7);
  EXPECT_EQ(j["displayTimeUnit"], "ns");
}

TEST(TraceSink, PairsBecomeCompleteEventsInMicrosecondsSortedByTime) {
  Sink s(100, "All");
  const TrackId t = s.track("cpu1", "cpu1");
  s.begin(t, "Syscall", "mmap", 1500000, {{"nr", 9}});
  s.begin(t, "Fault", "page fault", 1600000);
  s.end(t, 1700001, {{"killed", uint64_t{0}}});
  s.end(t, 2000000, {{"ret", 42}});
  s.begin(t, "Kthread", "kcompactd", 3000000);
  s.end(t, 3000000, {}, false);  // found nothing to do: not kept
  s.begin(t, "Core", "app", 4000000);  // still open at the end
  const auto ev = events(written(s, 5000000));
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0]["name"], "mmap");
  EXPECT_EQ(ev[0]["ph"], "X");
  EXPECT_DOUBLE_EQ(ev[0]["ts"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(ev[0]["dur"].get<double>(), 0.5);
  EXPECT_EQ(ev[0]["args"]["nr"], 9);
  EXPECT_EQ(ev[0]["args"]["ret"], 42);
  EXPECT_EQ(ev[1]["name"], "page fault");
  EXPECT_DOUBLE_EQ(ev[1]["dur"].get<double>(), 0.100001);
  EXPECT_EQ(ev[2]["name"], "app");
  EXPECT_EQ(ev[2]["args"]["unfinished"], 1);
  EXPECT_DOUBLE_EQ(ev[2]["dur"].get<double>(), 1.0);
}

TEST(TraceSink, LanesKeepOverlappingSpansOnSeparateTracksAndMetadataNamesTheUsedOnes) {
  Sink s(100, "Walker");
  const TrackId a = s.lane("cpu0", "walker", 0, 100);
  const TrackId b = s.lane("cpu0", "walker", 50, 120);   // overlaps a
  const TrackId c = s.lane("cpu0", "walker", 100, 130);  // a is free again
  EXPECT_NE(a, b);
  EXPECT_EQ(a, c);
  s.complete(b, "Walker", "walk", 50, 120, {{"va", 0x1000, Arg::hex}, {"outcome", "4K"}});
  const nlohmann::json j = written(s);
  std::map<std::pair<int, int>, std::string> threads;
  std::map<int, std::string> processes;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] != "M") continue;
    if (e["name"] == "thread_name") threads[{e["pid"], e["tid"]}] = e["args"]["name"];
    if (e["name"] == "process_name") processes[e["pid"]] = e["args"]["name"];
  }
  EXPECT_EQ(processes.size(), 1u);
  EXPECT_EQ(processes.begin()->second, "cpu0");
  ASSERT_EQ(threads.size(), 1u);  // only tracks with events are named
  const auto ev = events(j);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ((threads[{ev[0]["pid"], ev[0]["tid"]}]), "walker#2");
  EXPECT_EQ(ev[0]["args"]["va"], "0x1000");
  EXPECT_EQ(ev[0]["args"]["outcome"], "4K");
}

TEST(TraceSink, FlagsSelectWhatIsRecordedByTheirDebugNames) {
  Sink s(10, "TraceTestOn");
  EXPECT_EQ(enable(s, "TraceTestOn"), "");
  EXPECT_EQ(sim::debug::TraceTestOn.trace, &s);
  EXPECT_EQ(sim::debug::TraceTestOff.trace, nullptr);
  EXPECT_TRUE(SIM_TRACING(TraceTestOn));
  EXPECT_FALSE(SIM_TRACING(TraceTestOff));
  EXPECT_EQ(enable(s, "TraceTestOn,NoSuchFlag"), "NoSuchFlag");
  disable_all();
  EXPECT_EQ(sim::debug::TraceTestOn.trace, nullptr);
  EXPECT_EQ(enable(s, "All"), "");
  EXPECT_EQ(sim::debug::TraceTestOff.trace, &s);
  disable_all();
}

}  // namespace
}  // namespace sim::trace
