// Statistics: gem5's text format, JSON with the same values, distributions.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hw/base/stats.h"

namespace sim::stats {
namespace {

std::string slurp(const std::string& f) {
  std::ifstream in(f);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Stats, TextAndJsonCarryTheSameValues) {
  Group root(nullptr, "system");
  Group cpu(&root, "cpu0");
  Scalar hits(&cpu, "hits", "Lookups that hit", "Count");
  Scalar misses(&cpu, "misses", "Lookups that missed", "Count");
  Formula rate(&cpu, "missRate", "Misses per lookup", "Ratio",
               [&] { return static_cast<double>(misses.value()) / (hits.value() + misses.value()); });
  Distribution lat(&cpu, "latency", "Walk latency", "ns", 0, 10, 3);
  hits += 30;
  ++misses;
  lat.sample(5);
  lat.sample(25);
  lat.sample(100);

  const std::string dir = ::testing::TempDir();
  write_text(root, dir + "/stats.txt", 0.5);
  write_json(root, dir + "/stats.json", 0.5);
  const std::string text = slurp(dir + "/stats.txt");
  EXPECT_NE(text.find("---------- Begin Simulation Statistics ----------"), std::string::npos);
  EXPECT_NE(text.find("system.cpu0.hits"), std::string::npos);
  // gem5 format: name value # description (unit)
  std::istringstream lines(text);
  std::string line;
  bool seen = false;
  while (std::getline(lines, line)) {
    if (line.rfind("system.cpu0.misses ", 0) != 0) continue;
    std::istringstream ls(line);
    std::string name, value, hash;
    ls >> name >> value >> hash;
    EXPECT_EQ(value, "1");
    EXPECT_EQ(hash, "#");
    EXPECT_NE(line.find("Lookups that missed (Count)"), std::string::npos);
    seen = true;
  }
  EXPECT_TRUE(seen);
  EXPECT_NE(text.find("system.cpu0.latency::samples"), std::string::npos);
  EXPECT_NE(text.find("system.cpu0.latency::overflows"), std::string::npos);

  auto j = nlohmann::json::parse(slurp(dir + "/stats.json"));
  EXPECT_EQ(j["system"]["cpu0"]["hits"], 30);
  EXPECT_EQ(j["system"]["cpu0"]["latency"]["samples"], 3);
  EXPECT_EQ(j["system"]["cpu0"]["latency"]["overflows"], 1);
  EXPECT_DOUBLE_EQ(j["system"]["cpu0"]["missRate"].get<double>(), 1.0 / 31);
  EXPECT_DOUBLE_EQ(j["simSeconds"].get<double>(), 0.5);
}

TEST(Stats, FindByPath) {
  Group root(nullptr, "system");
  Group a(&root, "a");
  Scalar x(&a, "x", "", "");
  x.set(7);
  const Stat* s = root.find("a.x");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(static_cast<const Scalar*>(s)->value(), 7u);
  EXPECT_EQ(root.find("a.y"), nullptr);
}

TEST(Stats, DistributionBuckets) {
  Distribution d(nullptr, "d", "", "", 10, 5, 2);
  d.sample(3);   // underflow
  d.sample(10);  // bucket 0
  d.sample(19);  // bucket 1
  d.sample(20);  // overflow
  EXPECT_EQ(d.samples(), 4u);
  EXPECT_EQ(d.min_value(), 3u);
  EXPECT_EQ(d.max_value(), 20u);
  EXPECT_DOUBLE_EQ(d.mean(), 13.0);
}

}  // namespace
}  // namespace sim::stats
