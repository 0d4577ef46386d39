// For tests that run the mmcosim binary end to end: run it with arguments,
// capture its output and exit status, and read the statistics it wrote.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace tb {

struct RunResult {
  int status = -1;     // exit status (124: killed at the time limit; 128 + N: killed by signal N)
  std::string output;  // stdout and stderr, interleaved
};

// Runs `mmcosim <args>`; MMCOSIM_BIN is the binary (set by CMake). With a
// time limit, a run still going after `limit_s` seconds is killed and
// reported as status 124 (as timeout(1) does).
RunResult run_mmcosim(const std::vector<std::string>& args, unsigned limit_s = 0);

// stats.txt as name -> value ("nan" reads as NaN). Throws if unreadable.
std::map<std::string, double> read_stats(const std::string& file);

// A fresh directory under the test's temporary directory.
std::string temp_dir(const std::string& name);
// Writes `text` to dir/name and returns the path.
std::string write_file(const std::string& dir, const std::string& name, const std::string& text);
std::string read_file(const std::string& path);
// How many times `what` occurs in `text` (occurrences may overlap).
size_t count_of(const std::string& text, const std::string& what);

// One run of a scenario file, with the statistics it wrote when it succeeded.
struct ScenarioRun {
  int status = -1;
  std::string output, dir;
  std::map<std::string, double> stats;
  // A statistic of the run (a test failure, and NaN, when there is none by that name).
  double operator[](const std::string& name) const {
    auto it = stats.find(name);
    EXPECT_NE(it, stats.end()) << "no statistic " << name;
    return it == stats.end() ? NAN : it->second;
  }
  // A file of the run's output directory ("proc/meminfo").
  std::string file(const std::string& name) const { return read_file(dir + "/" + name); }
  // A "key value" line of proc/<name> (vmstat), or a "Key: value kB" one
  // (meminfo): the value (a test failure, and NaN, when there is none).
  double proc(const std::string& name, const std::string& key) const;
  // signals.txt of a run whose processes record their SIGBUS: its lines
  // after the header (a test failure when the header is not there).
  std::vector<std::string> signal_lines() const;
};

// `mmcosim run SCENARIO --outdir DIR --no-progress --set S...` into a fresh directory named by `tag`.
ScenarioRun run_scenario_file(const std::string& scenario, const std::string& tag,
                              const std::vector<std::string>& sets = {});

}  // namespace tb
