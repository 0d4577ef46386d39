// The scenario configuration layer: value syntax, defaults, unknown keys and
// type errors with file and line, --set overrides, the resolved config.
#include <gtest/gtest.h>

#include "hw/base/config.h"

namespace sim {
namespace {

TEST(ConfigSyntax, Sizes) {
  uint64_t b;
  EXPECT_TRUE(parse_size("4096", b)); EXPECT_EQ(b, 4096u);
  EXPECT_TRUE(parse_size("0x1000", b)); EXPECT_EQ(b, 4096u);
  EXPECT_TRUE(parse_size("64MiB", b)); EXPECT_EQ(b, 64ull << 20);
  EXPECT_TRUE(parse_size("8GiB", b)); EXPECT_EQ(b, 8ull << 30);
  EXPECT_TRUE(parse_size("8G", b)); EXPECT_EQ(b, 8ull << 30);
  EXPECT_TRUE(parse_size("1.5KiB", b)); EXPECT_EQ(b, 1536u);
  EXPECT_TRUE(parse_size("1_048_576", b)); EXPECT_EQ(b, 1ull << 20);
  EXPECT_FALSE(parse_size("lots", b));
  EXPECT_FALSE(parse_size("4 parsecs", b));
  EXPECT_FALSE(parse_size("1.3B", b));  // not a whole number of bytes
  EXPECT_FALSE(parse_size("99999999999999999999999", b));
  EXPECT_FALSE(parse_size("16EiB", b));
}

TEST(ConfigSyntax, DurationsAndFrequencies) {
  uint64_t v;
  EXPECT_TRUE(parse_duration("80ns", v)); EXPECT_EQ(v, 80000u);
  EXPECT_TRUE(parse_duration("1.5us", v)); EXPECT_EQ(v, 1500000u);
  EXPECT_TRUE(parse_duration("2ms", v)); EXPECT_EQ(v, 2000000000u);
  EXPECT_FALSE(parse_duration("80", v));  // a time needs its unit
  EXPECT_TRUE(parse_frequency("2GHz", v)); EXPECT_EQ(v, 2000000000u);
  EXPECT_FALSE(parse_frequency("0Hz", v));
  EXPECT_EQ(format_size(8ull << 30), "8GiB");
  EXPECT_EQ(format_size(1536), "1536");
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1ull << 50), "1024TiB");  // parse_size reads it back
  EXPECT_EQ(format_size(2ull << 20, SizeStyle::compact), "2M");
  EXPECT_EQ(format_size(1ull << 50, SizeStyle::compact), "1P");
  EXPECT_EQ(format_size(1536, SizeStyle::compact), "1536");
  EXPECT_EQ(format_size(8ull << 30, SizeStyle::rounded), "8 GiB");
  EXPECT_EQ(format_size(1536, SizeStyle::rounded), "1.5 KiB");
  EXPECT_EQ(format_size(512, SizeStyle::rounded), "512 B");
  EXPECT_EQ(format_duration(80000), "80ns");
  EXPECT_EQ(format_duration(1500000), "1500ns");
}

TEST(Config, DefaultsAreRecorded) {
  Config c = Config::load_string("platform:\n  cores: 4\n", "s.yaml");
  ConfigNode p = c.root().child("platform");
  EXPECT_EQ(p.get<unsigned>("cores", 1, "cpus"), 4u);
  EXPECT_EQ(p.child("memory").get<Size>("size", {8ull << 30}, "dram").bytes, 8ull << 30);
  c.check_unused();
  EXPECT_EQ(c.resolved()["platform"]["cores"], 4);
  EXPECT_EQ(c.resolved()["platform"]["memory"]["size"], "8GiB");
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
  Config c = Config::load_string("platform:\n  cores: 2\n  memroy:\n    size: 4GiB\n", "s.yaml");
  ConfigNode p = c.root().child("platform");
  p.get<unsigned>("cores", 1, "cpus");
  p.child("memory").get<Size>("size", {1}, "dram");
  try {
    c.check_unused();
    FAIL() << "an unknown key was accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "s.yaml:3: platform.memroy: unknown key (did you mean 'memory'?)");
  }
}

TEST(Config, BooleansAreWordsOrOneAndZero) {
  Config c = Config::load_string("a: 1\nb: 0\nc: yes\nd: off\ne: 2\n", "s.yaml");
  EXPECT_TRUE(c.root().get<bool>("a", false, ""));
  EXPECT_FALSE(c.root().get<bool>("b", true, ""));
  EXPECT_TRUE(c.root().get<bool>("c", false, ""));
  EXPECT_FALSE(c.root().get<bool>("d", true, ""));
  EXPECT_THROW(c.root().get<bool>("e", false, ""), ConfigError);
}

TEST(Config, WrongTypeNamesFileLineAndKey) {
  Config c = Config::load_string("seed: 1\nplatform:\n  cores: many\n", "s.yaml");
  c.root().get<uint64_t>("seed", 0, "seed");
  try {
    c.root().child("platform").get<unsigned>("cores", 1, "cpus");
    FAIL() << "a wrong type was accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "s.yaml:3: platform.cores: expected a non-negative integer below 2^32, got 'many'");
  }
}

TEST(Config, MappingWhereValueExpected) {
  Config c = Config::load_string("platform:\n  cores:\n    n: 2\n", "s.yaml");
  EXPECT_THROW(c.root().child("platform").get<unsigned>("cores", 1, "cpus"), ConfigError);
}

TEST(Config, YamlSyntaxErrorHasLine) {
  try {
    Config::load_string("a: 1\nb: [1, 2\n", "bad.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml:"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("YAML syntax error"), std::string::npos);
  }
}

TEST(Config, DuplicateKeyRejected) {
  EXPECT_THROW(Config::load_string("a: 1\na: 2\n", "d.yaml"), ConfigError);
}

TEST(Config, SetOverridesAndCreates) {
  Config c = Config::load_string("platform:\n  cores: 2\n", "s.yaml");
  c.set("platform.cores=8");
  c.set("platform.memory.size=16GiB");
  ConfigNode p = c.root().child("platform");
  EXPECT_EQ(p.get<unsigned>("cores", 1, ""), 8u);
  EXPECT_EQ(p.child("memory").get<Size>("size", {1}, "").bytes, 16ull << 30);
  c.check_unused();
}

TEST(Config, SetOfUnknownKeyIsReported) {
  Config c;
  c.set("platform.coers=8");
  c.root().child("platform").get<unsigned>("cores", 1, "");
  try {
    c.check_unused();
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "--set platform.coers=8: platform.coers: unknown key (did you mean 'cores'?)");
  }
}

TEST(Config, SetIntoListElement) {
  Config c = Config::load_string("workload:\n  processes:\n    - name: a\n      cpu: 0\n", "s.yaml");
  c.set("workload.processes[0].cpu=3");
  auto procs = c.root().child("workload").list("processes", "");
  ASSERT_EQ(procs.size(), 1u);
  EXPECT_EQ(procs[0].get<unsigned>("cpu", 0, ""), 3u);
  procs[0].get<std::string>("name", "", "");
  c.check_unused();
  EXPECT_THROW(c.set("workload.processes[5].cpu=1"), ConfigError);
  EXPECT_THROW(c.set("nonsense"), ConfigError);
}

TEST(Config, EnumsAndLists) {
  Config c = Config::load_string("walker: rtl\nsizes: [4KiB, 2MiB]\nd: [[10, 20], [20, 10]]\n", "s.yaml");
  ConfigNode r = c.root();
  EXPECT_THROW(r.get_enum("walker", "tlm", {"tlm", "lockstep"}, ""), ConfigError);
  EXPECT_EQ(r.get<std::vector<std::string>>("sizes", {}, "").size(), 2u);
  auto d = r.get<std::vector<std::vector<uint64_t>>>("d", {}, "");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0][1], 20u);
}

TEST(Config, RangesTakeNumbersAndPairs) {
  Config c = Config::load_string("bad: [7, [100, 199]]\nback: [[5, 4]]\nshort: [[5]]\n", "s.yaml");
  ConfigNode r = c.root();
  const Ranges v = r.get<Ranges>("bad", {}, "");
  ASSERT_EQ(v.ranges.size(), 2u);
  EXPECT_EQ(v.ranges[0], std::make_pair(uint64_t{7}, uint64_t{7}));
  EXPECT_EQ(v.ranges[1], std::make_pair(uint64_t{100}, uint64_t{199}));
  EXPECT_THROW(r.get<Ranges>("back", {}, ""), ConfigError);
  EXPECT_THROW(r.get<Ranges>("short", {}, ""), ConfigError);
  EXPECT_TRUE(r.get<Ranges>("none", {}, "").ranges.empty());
  uint64_t bw = 0;
  EXPECT_TRUE(parse_bandwidth("500MiB/s", bw));
  EXPECT_EQ(bw, 500ull << 20);
  EXPECT_FALSE(parse_bandwidth("500MiB", bw));
  EXPECT_FALSE(parse_bandwidth("0/s", bw));
}

// An absent list with a default is read as if the scenario held it: keys
// its reader adds resolve too, every value is recorded as a default (not
// [set]) with its description, and config.json holds it whole.
TEST(Config, DefaultListIsReadAsGivenAndRecordedAsDefault) {
  Config c = Config::load_string("seed: 1\n", "s.yaml");
  const nlohmann::ordered_json def = nlohmann::ordered_json::array({{{"name", "a"}, {"bits", 24}}});
  auto items = c.root().child("platform").list("devices", "devices", def);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].where(), "<default>");
  EXPECT_EQ(items[0].get<unsigned>("bits", 32, "width"), 24u);
  EXPECT_EQ(items[0].get<Size>("burst", {64}, "Bytes per bus transaction").bytes, 64u);
  c.root().get<unsigned>("seed", 0, "seed");
  c.check_unused();
  const auto& r = c.resolved()["platform"]["devices"][0];
  EXPECT_EQ(r["bits"], 24);
  EXPECT_EQ(r["burst"], 64);
  bool listed = false;
  for (const ParamRecord& p : c.params()) {
    if (p.path.rfind("platform.devices", 0) == 0) {
      EXPECT_FALSE(p.from_scenario) << p.path;
    }
    if (p.path == "platform.devices[0].burst") listed = p.value == "64" && p.desc == "Bytes per bus transaction";
  }
  EXPECT_TRUE(listed);
  // A given list takes the place of the default, and is the scenario's.
  Config g = Config::load_string("devices: [{name: b}]\n", "s.yaml");
  auto given = g.root().list("devices", "devices", def);
  ASSERT_EQ(given.size(), 1u);
  EXPECT_EQ(given[0].get<std::string>("name", "", "name"), "b");
  EXPECT_EQ(given[0].get<unsigned>("bits", 32, "width"), 32u);
  EXPECT_TRUE(g.params()[0].from_scenario);
  EXPECT_FALSE(g.params()[1].from_scenario);
}

TEST(Config, SetIntoAnElementOfADefaultListAppliesWhenTheListIsRead) {
  const nlohmann::ordered_json def =
      nlohmann::ordered_json::array({{{"name", "a"}, {"bits", 24}}, {{"name", "b"}, {"bits", 32}}});
  Config c = Config::load_string("seed: 1\n", "s.yaml");
  c.set("platform.devices[1].burst=128");
  auto items = c.root().child("platform").list("devices", "devices", def);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].get<Size>("burst", {64}, "burst").bytes, 64u);
  EXPECT_EQ(items[1].get<Size>("burst", {64}, "burst").bytes, 128u);
  EXPECT_EQ(items[1].get<unsigned>("bits", 0, "width"), 32u) << "the rest of the element stays the default";
  c.root().get<unsigned>("seed", 0, "seed");
  c.check_unused();
  for (const ParamRecord& p : c.params())
    EXPECT_EQ(p.from_scenario, p.path == "seed" || p.path == "platform.devices[1].burst") << p.path;
  // An element the default lacks is the error it was before.
  Config bad = Config::load_string("seed: 1\n", "s.yaml");
  bad.set("platform.devices[2].burst=128");
  try {
    bad.root().child("platform").list("devices", "devices", def);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "--set platform.devices[2].burst=128: platform.devices[2].burst: no element 2 (the list has 2)");
  }
  // So is an element of a list nobody reads, found when the keys are checked.
  Config unread = Config::load_string("seed: 1\n", "s.yaml");
  unread.set("platform.gadgets[0].x=1");
  unread.root().get<unsigned>("seed", 0, "seed");
  try {
    unread.check_unused();
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "--set platform.gadgets[0].x=1: platform.gadgets[0].x: no element 0 (the list has 0)");
  }
}

TEST(Config, MissingFileIsAnError) {
  EXPECT_THROW(Config::load_file("/nonexistent/scenario.yaml"), ConfigError);
}

TEST(Config, ResolvedConfigIsAValidScenario) {
  Config c = Config::load_string("platform:\n  memory:\n    size: 4GiB\n", "s.yaml");
  c.root().child("platform").child("memory").get<Size>("size", {1}, "");
  c.root().child("platform").get<Duration>("lat", {80000}, "");
  Config again = Config::load_string(c.resolved().dump(), "config.json");
  EXPECT_EQ(again.root().child("platform").child("memory").get<Size>("size", {1}, "").bytes, 4ull << 30);
  EXPECT_EQ(again.root().child("platform").get<Duration>("lat", {1}, "").ps, 80000u);
}

}  // namespace
}  // namespace sim
