// `mmcosim sweep` end to end (docs/sweeps.md): a crossed, repeated sweep
// gives one row per run with the statistics each point's stats.txt has; a
// rerun skips finished points; a sweep killed midway finishes only the
// missing points when run again; a failing point is recorded and does not
// stop the others; bad sweep files get one-line errors; `mmcosim plot`
// draws the results. The Slurm back end: sweep_slurm_test.sh.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

namespace fs = std::filesystem;

// A small machine: boots in a fraction of a second.
const char* kScenario =
    "seed: 5\n"
    "platform: {memory: {size: 256MiB}}\n"
    "workload:\n  processes:\n    - name: app\n      ops:\n"
    "        - mmap: {region: b, size: 2MiB}\n"
    "        - access: {region: b, pattern: random, count: 3000, writes: 0.5}\n";

// 3 x 2 points, 2 repetitions each: 12 runs.
const char* kSweep =
    "scenario: s.yaml\n"
    "repetitions: 2\n"
    "axes:\n"
    "  - {key: platform.mmu.stlb.sets, name: stlb_sets, values: [4, 16, 64]}\n"
    "  - name: size\n"
    "    variants:\n"
    "      - {label: small}\n"
    "      - {label: large, set: {'workload.processes[0].ops[0].mmap.size': 4MiB}}\n"
    "stats:\n"
    "  - system.cpu0.mmu.walks\n"
    "  - system.cpu0.core.pageFaults\n"
    "  - system.cpu0.mmu.dtlb.hits\n"
    "  - system.cpu0.*PerKiloAccess\n";

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}

size_t column(const std::vector<std::string>& header, const std::string& name) {
  const auto it = std::find(header.begin(), header.end(), name);
  EXPECT_NE(it, header.end()) << "no column " << name;
  return static_cast<size_t>(it - header.begin());
}

std::string stat_text(const std::string& stats_txt, const std::string& name) {
  std::smatch m;
  const std::string text = read_file(stats_txt);
  if (!std::regex_search(text, m, std::regex("\n" + std::regex_replace(name, std::regex("\\."), "\\.") + " +([^ ]+) ")))
    return "";
  return m[1];
}

std::string setup(const std::string& name, const std::string& sweep = kSweep) {
  const std::string dir = temp_dir(name);
  write_file(dir, "s.yaml", kScenario);
  write_file(dir, "sweep.yaml", sweep);
  return dir;
}

TEST(Sweep, OneRowPerRunWithEachPointsStatistics) {
  const std::string dir = setup("sweep-rows");
  RunResult r = run_mmcosim({"sweep", dir + "/sweep.yaml", "--outdir", dir + "/out", "--jobs", "2"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("12/12 done, 0 failed"), std::string::npos) << r.output;
  const auto rows = read_csv(dir + "/out/results.csv");
  ASSERT_EQ(rows.size(), 13u);
  const auto& h = rows[0];
  EXPECT_EQ(h.front(), "point");
  EXPECT_EQ(h.back(), "host_seconds");
  const size_t stlb = column(h, "stlb_sets"), size = column(h, "size"), rep = column(h, "rep"), seed = column(h, "seed"),
               status = column(h, "status"), walks = column(h, "system.cpu0.mmu.walks"),
               faults = column(h, "system.cpu0.core.pageFaults"), wpka = column(h, "system.cpu0.walksPerKiloAccess"),
               hits = column(h, "system.cpu0.mmu.dtlb.hits");
  // Crossed, the first axis slowest, repetitions innermost.
  EXPECT_EQ(rows[1][stlb], "4");
  EXPECT_EQ(rows[1][size], "small");
  EXPECT_EQ(rows[3][size], "large");
  EXPECT_EQ(rows[5][stlb], "16");
  std::set<std::string> seeds;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    EXPECT_EQ(row[status], "0") << row[0];
    seeds.insert(row[seed]);
    // Repetition 0 runs with the scenario's seed; the others with derived ones.
    if (row[rep] == "0") {
      EXPECT_EQ(row[seed], "5");
    }
    // The values are those of the point's own stats.txt.
    const std::string st = dir + "/out/" + row[0] + "/stats.txt";
    EXPECT_EQ(row[walks], stat_text(st, "system.cpu0.mmu.walks")) << row[0];
    EXPECT_EQ(row[faults], stat_text(st, "system.cpu0.core.pageFaults")) << row[0];
    // A formula (the sum of each page size's hits), whole: as stats.txt has it.
    EXPECT_EQ(row[hits], stat_text(st, "system.cpu0.mmu.dtlb.hits")) << row[0];
    // At least one fault per page of the region (2 MiB or 4 MiB).
    EXPECT_GE(std::stoull(row[faults]), row[size] == "small" ? 512u : 1024u) << row[0];
    // stats.txt rounds to six decimals; results.csv has every digit.
    EXPECT_NEAR(std::stod(row[wpka]), std::stod(stat_text(st, "system.cpu0.walksPerKiloAccess")), 1e-6) << row[0];
  }
  EXPECT_EQ(seeds.size(), 2u) << "one seed per repetition index";
  // A point's run is an ordinary run: the same keys by hand give the same statistics.
  RunResult same = run_mmcosim({"run", dir + "/s.yaml", "--outdir", dir + "/by-hand", "-q", "--no-progress", "--set",
                                "platform.mmu.stlb.sets=16", "--set", "workload.processes[0].ops[0].mmap.size=4MiB"});
  ASSERT_EQ(same.status, 0) << same.output;
  EXPECT_EQ(read_file(dir + "/by-hand/stats.txt"), read_file(dir + "/out/" + rows[7][0] + "/stats.txt")) << rows[7][0];
  // results.json holds the same rows.
  const auto j = nlohmann::json::parse(read_file(dir + "/out/results.json"));
  ASSERT_EQ(j.size(), 12u);
  EXPECT_EQ(j[3]["size"], "large");
  EXPECT_EQ(std::to_string(j[3]["stats"]["system.cpu0.mmu.walks"].get<uint64_t>()), rows[4][walks]);

  // A rerun skips every finished point.
  const auto before = fs::last_write_time(dir + "/out/" + rows[1][0] + "/result.json");
  RunResult again = run_mmcosim({"sweep", dir + "/sweep.yaml", "--outdir", dir + "/out", "--jobs", "2"});
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("12 of 12 points finished earlier, 0 to run"), std::string::npos) << again.output;
  EXPECT_EQ(fs::last_write_time(dir + "/out/" + rows[1][0] + "/result.json"), before);
  EXPECT_EQ(read_file(dir + "/out/results.csv").size(), fs::file_size(dir + "/out/results.csv"));
}

size_t finished_points(const std::string& out) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out, ec))
    if (fs::exists(e.path() / "result.json")) ++n;
  return n;
}

TEST(Sweep, KilledMidwayARerunFinishesOnlyTheMissingPoints) {
  const std::string dir = setup("sweep-kill");
  const std::string out = dir + "/out";
  std::vector<std::string> args{MMCOSIM_BIN, "sweep", dir + "/sweep.yaml", "--outdir", out, "--jobs", "1",
                                "--no-progress"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int st = 0;
  bool ended = false;
  while (finished_points(out) < 3 && std::chrono::steady_clock::now() < deadline && !ended) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ended = waitpid(pid, &st, WNOHANG) == pid;
  }
  if (!ended) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
  }
  const size_t done = finished_points(out);
  ASSERT_GE(done, 3u);
  ASSERT_LT(done, 12u) << "the sweep ended before it could be killed";
  std::map<std::string, fs::file_time_type> stamps;
  for (const auto& e : fs::directory_iterator(out))
    if (fs::exists(e.path() / "result.json")) stamps[e.path().string()] = fs::last_write_time(e.path() / "result.json");

  RunResult r = run_mmcosim({"sweep", dir + "/sweep.yaml", "--outdir", out, "--jobs", "2"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(std::to_string(done) + " of 12 points finished earlier, " + std::to_string(12 - done) +
                          " to run"),
            std::string::npos)
      << r.output;
  for (const auto& [path, t] : stamps) EXPECT_EQ(fs::last_write_time(path + "/result.json"), t) << path << " ran again";
  EXPECT_EQ(finished_points(out), 12u);
  EXPECT_EQ(read_csv(out + "/results.csv").size(), 13u);
}

TEST(Sweep, AFailedPointIsRecordedAndTheOthersRun) {
  const std::string dir = setup("sweep-fail",
                                "scenario: s.yaml\n"
                                "axes:\n"
                                "  - {key: 'workload.processes[0].expect_signal', name: expect, values: [none, SIGSEGV, none]}\n"
                                "stats: [system.cpu0.core.pageFaults]\n");
  RunResult r = run_mmcosim({"sweep", dir + "/sweep.yaml", "--outdir", dir + "/out", "--jobs", "2", "--no-progress"});
  EXPECT_EQ(r.status, 1) << r.output;
  const auto rows = read_csv(dir + "/out/results.csv");
  ASSERT_EQ(rows.size(), 4u);
  const size_t status = column(rows[0], "status"), error = column(rows[0], "error"),
               faults = column(rows[0], "system.cpu0.core.pageFaults");
  EXPECT_EQ(rows[1][status], "0");
  EXPECT_EQ(rows[2][status], "1");
  EXPECT_EQ(rows[2][error].rfind("\"" + dir + "/s.yaml:5: process app exited normally", 0), 0u) << rows[2][error];
  EXPECT_EQ(rows[3][status], "0");
  EXPECT_EQ(rows[3][faults], rows[1][faults]) << "the same run as the first point";
  // A finished failure is not rerun unless asked.
  RunResult again = run_mmcosim({"sweep", dir + "/sweep.yaml", "--outdir", dir + "/out", "--retry-failed"});
  EXPECT_EQ(again.status, 1) << again.output;
  EXPECT_NE(again.output.find("2 of 3 points finished earlier, 1 to run"), std::string::npos) << again.output;
}

void expect_one_line(const RunResult& r, const std::string& pattern) {
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(pattern))) << r.output << "wanted: " << pattern;
}

TEST(Sweep, BadSweepFilesGetOneLineNamingFileLineAndKey) {
  const std::string dir = setup("sweep-bad");
  auto run = [&](const std::string& text) {
    write_file(dir, "bad.yaml", text);
    return run_mmcosim({"sweep", dir + "/bad.yaml", "--outdir", dir + "/out"});
  };
  expect_one_line(run("scenario: s.yaml\naxes:\n  - {key: seed, values: [1]}\nrepetitoins: 2\n"),
                  "^mmcosim: .*bad\\.yaml:4: repetitoins: unknown key \\(did you mean 'repetitions'\\?\\)\n$");
  expect_one_line(run("scenario: s.yaml\naxes:\n  - key: seed\n    values: [1]\n    range: {from: 1, to: 2, step: 1}\n"),
                  "bad\\.yaml:3: axes\\[0\\]: an axis gives its values as one of values");
  expect_one_line(run("scenario: nothere.yaml\n"), "bad\\.yaml:1: scenario: .*nothere\\.yaml: no such scenario file");
  // A scenario key the machine does not know: named at the sweep file's line.
  expect_one_line(run("scenario: s.yaml\naxes:\n  - key: platform.mmu.stlb.setz\n    values: [4, 8]\n"),
                  "bad\\.yaml:3: axes\\[0\\]\\.values: platform\\.mmu\\.stlb\\.setz: unknown key");
  expect_one_line(run("scenario: s.yaml\nset: {platform.cores: many}\n"),
                  "bad\\.yaml:2: set\\.platform\\.cores: platform\\.cores: expected a non-negative integer");
  expect_one_line(run_mmcosim({"sweep", dir + "/sweep.yaml"}), "--outdir DIR is required");
  expect_one_line(run_mmcosim({"sweep", dir + "/sweep.yaml", "--outdir", dir + "/o", "--no-wait"}), "need --slurm");
  // A statistic nobody has: the runs happen, then one line names it.
  RunResult r = run("scenario: s.yaml\nstats:\n  - system.cpu0.mmu.walks\n  - system.cpu0.mmu.wlaks\n");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("bad\\.yaml:4: stats\\[1\\]: 'system\\.cpu0\\.mmu\\.wlaks' is not a statistic")))
      << r.output;
}

TEST(Sweep, RangesAndZippedAxes) {
  const std::string dir = setup("sweep-zip",
                                "scenario: s.yaml\n"
                                "combine: zip\n"
                                "axes:\n"
                                "  - {key: platform.mmu.stlb.sets, range: {from: 8, to: 32, times: 2}}\n"
                                "  - zip:\n"
                                "      - {key: 'workload.processes[0].ops[0].mmap.size', name: size, range: {from: 1MiB, to: 3MiB, step: 1MiB}}\n"
                                "      - {key: 'workload.processes[0].ops[1].access.count', name: count, values: [100, 200, 300]}\n"
                                "stats: [system.cpu0.core.pageFaults]\n");
  RunResult r = run_mmcosim({"sweep", dir + "/sweep.yaml", "--outdir", dir + "/out", "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rows = read_csv(dir + "/out/results.csv");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0][1], "platform.mmu.stlb.sets");
  EXPECT_EQ(rows[1][1] + rows[2][1] + rows[3][1], "81632");
  EXPECT_EQ(rows[1][2] + " " + rows[2][2] + " " + rows[3][2], "1MiB 2MiB 3MiB");
  EXPECT_EQ(rows[3][3], "300");
  EXPECT_EQ(rows[2][column(rows[0], "system.cpu0.core.pageFaults")],
            stat_text(dir + "/out/" + rows[2][0] + "/stats.txt", "system.cpu0.core.pageFaults"));
}

TEST(Plot, DrawsASweepAndRejectsAnUnknownColumn) {
  const std::string dir = setup("sweep-plot");
  ASSERT_EQ(run_mmcosim({"sweep", dir + "/sweep.yaml", "--outdir", dir + "/out", "--no-progress"}).status, 0);
  RunResult r = run_mmcosim({"plot", dir + "/out/results.csv", "--x", "stlb_sets", "--y", "system.cpu0.mmu.walks",
                             "--group", "size", "-o", dir + "/walks.png", "--logx"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string png = read_file(dir + "/walks.png");
  ASSERT_GT(png.size(), 10000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  RunResult svg = run_mmcosim({"plot", dir + "/out/results.csv", "--x", "size", "--y", "system.cpu0.core.pageFaults",
                               "-o", dir + "/faults.svg"});
  ASSERT_EQ(svg.status, 0) << svg.output;
  EXPECT_NE(read_file(dir + "/faults.svg").find("<svg"), std::string::npos);
  expect_one_line(run_mmcosim({"plot", dir + "/out/results.csv", "--x", "stlb", "--y", "system.cpu0.mmu.walks"}),
                  "^mmcosim: plot: .*results\\.csv: no column 'stlb' \\(columns: point, stlb_sets,");
}

}  // namespace
}  // namespace tb
