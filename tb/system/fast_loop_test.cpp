// The core's register-held fast loop proven equal: every scenario of
// tb/scenarios runs three ways — the default (fast loop and the direct
// walker call on), `platform.core.fast_loop=false` with
// `platform.mmu.direct_walk=false` (one MMU call per access, every walk
// through the walk socket), and with the monitor attached (one operation at
// a time, each a call to the MMU, stoppable; walks through the walk socket)
// — and stats.txt and every proc file must be byte-identical between them.
// (The MMU's TLM socket against its direct calls: hw/mmu's slow_path_test.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

namespace fs = std::filesystem;

// The scenarios, relative to tb/scenarios (gtest lists them at build time).
std::vector<std::string> scenarios() {
  std::vector<std::string> out;
  const fs::path root = fs::path(MMCOSIM_SOURCE_DIR) / "tb/scenarios";
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().extension() == ".yaml") out.push_back(fs::relative(e.path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& i) {
  std::string n = i.param.substr(0, i.param.size() - 5);
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

// The files a run writes whose contents are simulation results.
std::vector<std::string> result_files(const std::string& out) {
  std::vector<std::string> files{"stats.txt"};
  // Every file under proc/, node<N>/memory_failure/* included.
  for (const auto& e : fs::recursive_directory_iterator(out + "/proc"))
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), out).string());
  std::sort(files.begin(), files.end());
  return files;
}

class FastLoop : public ::testing::TestWithParam<std::string> {};

TEST_P(FastLoop, SameResultsWithoutItAndUnderTheMonitor) {
  const std::string scenario = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/" + GetParam();
  const std::string dir = temp_dir("fast-loop-" + test_name({GetParam(), 0}));
  const std::string on = dir + "/on", off = dir + "/off", mon = dir + "/monitor";
  RunResult r = run_mmcosim({"run", scenario, "--outdir", on, "-q", "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_mmcosim({"run", scenario, "--set", "platform.core.fast_loop=false", "--set", "platform.mmu.direct_walk=false",
                    "--outdir", off, "-q", "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  // The keys took effect (the resolved configuration records them).
  const std::string config = read_file(off + "/config.json");
  EXPECT_NE(config.find("\"fast_loop\": false"), std::string::npos);
  EXPECT_NE(config.find("\"direct_walk\": false"), std::string::npos);
  const std::string script = write_file(dir, "cmds", "continue\nquit\n");
  r = run_mmcosim({"run", scenario, "--script", script, "--outdir", mon, "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_NE(r.output.find("simulation finished"), std::string::npos) << r.output;

  const std::vector<std::string> files = result_files(on);
  ASSERT_GT(files.size(), 1u);
  EXPECT_EQ(result_files(off), files);
  EXPECT_EQ(result_files(mon), files);
  for (const std::string& f : files) {
    const std::string want = read_file(on + "/" + f);
    ASSERT_FALSE(want.empty()) << f;
    EXPECT_TRUE(read_file(off + "/" + f) == want) << GetParam() << ": " << f << " differs with fast_loop=false, direct_walk=false";
    EXPECT_TRUE(read_file(mon + "/" + f) == want) << GetParam() << ": " << f << " differs under the monitor";
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, FastLoop, ::testing::ValuesIn(scenarios()), test_name);

}  // namespace
}  // namespace tb
