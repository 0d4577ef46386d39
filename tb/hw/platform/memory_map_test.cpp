// The platform's physical layout: DRAM around the PC hole, NUMA spans, the
// generated e820 map, and rejection of inconsistent maps.
#include <gtest/gtest.h>

#include "hw/platform/memory_map.h"

namespace hw {
namespace {

constexpr uint64_t MiB = 1ull << 20, GiB = 1ull << 30;

MemoryMap build(const std::string& yaml) {
  sim::Config c = sim::Config::load_string(yaml, "m.yaml");
  MemoryMap m = build_memory_map(c.root().child("memory"), 46);
  c.check_unused();
  return m;
}

uint64_t usable(const MemoryMap& m) {
  uint64_t t = 0;
  for (const auto& e : m.e820)
    if (e.type == hal::E820Type::usable) t += e.size;
  return t;
}

TEST(MemoryMap, DefaultEightGiBSkipsTheHole) {
  MemoryMap m = build("memory: {size: 8GiB}\n");
  ASSERT_EQ(m.nodes.size(), 1u);
  ASSERT_EQ(m.nodes[0].dram.size(), 2u);
  EXPECT_EQ(m.nodes[0].dram[0].base, 0u);
  EXPECT_EQ(m.nodes[0].dram[0].size, 3 * GiB);
  EXPECT_EQ(m.nodes[0].dram[1].base, 4 * GiB);
  EXPECT_EQ(m.nodes[0].dram[1].size, 5 * GiB);
  EXPECT_EQ(m.total_dram(), 8 * GiB);
  EXPECT_FALSE(m.is_dram(3 * GiB + 4096, 8));
  // Everything but the low reserved areas and the firmware image is usable.
  EXPECT_EQ(usable(m), 8 * GiB - (MiB - 636 * 1024) - 32 * MiB);
  for (size_t i = 1; i < m.e820.size(); ++i) EXPECT_LE(m.e820[i - 1].addr + m.e820[i - 1].size, m.e820[i].addr);
}

TEST(MemoryMap, TwoNodesSplitEvenly) {
  MemoryMap m = build("memory: {size: 8GiB, nodes: 2}\n");
  ASSERT_EQ(m.nodes.size(), 2u);
  EXPECT_EQ(m.nodes[0].span_start, 0u);
  EXPECT_EQ(m.nodes[0].span_end, 5 * GiB);  // 3 GiB low + 1 GiB above the hole
  EXPECT_EQ(m.nodes[1].span_start, 5 * GiB);
  EXPECT_EQ(m.nodes[1].span_end, 9 * GiB);
  EXPECT_EQ(m.distance[0][1], 20u);
  EXPECT_EQ(m.node_of(6 * GiB), 1);
}

TEST(MemoryMap, SmallMachineHasNoHighMemory) {
  MemoryMap m = build("memory: {size: 1GiB}\n");
  ASSERT_EQ(m.nodes[0].dram.size(), 1u);
  EXPECT_EQ(m.nodes[0].span_end, GiB);
}

TEST(MemoryMap, ExplicitE820Accepted) {
  MemoryMap m = build(
      "memory:\n  size: 1GiB\n  e820:\n"
      "    - {start: 0, size: 0x9f000, type: usable}\n"
      "    - {start: 1MiB, size: 1023MiB}\n");
  ASSERT_EQ(m.e820.size(), 2u);
  EXPECT_EQ(m.e820[1].addr, MiB);
}

TEST(MemoryMap, OverlappingE820IsRejectedWithLineAndKey) {
  try {
    build("memory:\n  size: 1GiB\n  e820:\n"
          "    - {start: 0, size: 2MiB}\n"
          "    - {start: 1MiB, size: 4MiB}\n");
    FAIL() << "overlapping ranges were accepted";
  } catch (const sim::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("m.yaml:5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("memory.e820[1].start"), std::string::npos) << msg;
    EXPECT_NE(msg.find("overlaps"), std::string::npos) << msg;
  }
}

TEST(MemoryMap, UsableRangeWithoutDramIsRejected) {
  EXPECT_THROW(build("memory:\n  size: 1GiB\n  e820:\n    - {start: 2GiB, size: 4MiB}\n"), sim::ConfigError);
}

TEST(MemoryMap, BadShapesAreRejected) {
  EXPECT_THROW(build("memory: {size: 1GiB, nodes: 0}\n"), sim::ConfigError);
  EXPECT_THROW(build("memory: {size: 1GiB, nodes: 9}\n"), sim::ConfigError);
  EXPECT_THROW(build("memory: {size: 3MiB}\n"), sim::ConfigError);
  EXPECT_THROW(build("memory: {size: 1GiB, nodes: 2, distance: [[10, 20]]}\n"), sim::ConfigError);
  EXPECT_THROW(build("memory: {size: 1GiB, nodes: 2, distance: [[10, 20], [20, 12]]}\n"), sim::ConfigError);
}

}  // namespace
}  // namespace hw
