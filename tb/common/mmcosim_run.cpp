#include "tb/common/mmcosim_run.h"

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace tb {

namespace {
std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}
}  // namespace

RunResult run_mmcosim(const std::vector<std::string>& args, unsigned limit_s) {
  std::string cmd = quote(MMCOSIM_BIN);
  if (limit_s) cmd = "timeout -k 5 " + std::to_string(limit_s) + " " + cmd;
  for (const std::string& a : args) cmd += " " + quote(a);
  cmd += " 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + cmd);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

std::map<std::string, double> read_stats(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file + ": cannot read");
  std::map<std::string, double> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '-') continue;
    std::istringstream ls(line);
    std::string name, value;
    if (!(ls >> name >> value)) continue;
    out[name] = value == "nan" ? NAN : std::stod(value);
  }
  return out;
}

std::string temp_dir(const std::string& name) {
  // Named after the build tree the test runs in (ctest runs it there), so
  // suites of two checkouts running at once never share a directory.
  const char* base = std::getenv("TMPDIR");
  const size_t tree = std::hash<std::string>{}(std::filesystem::current_path().string());
  char tag[20];
  std::snprintf(tag, sizeof tag, "%08zx", tree & 0xffffffffu);
  std::filesystem::path p = std::filesystem::path(base ? base : "/tmp") / ("mmcosim-test-" + std::string(tag) + "-" + name);
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream os(path);
  os << text;
  return path;
}

std::vector<std::string> ScenarioRun::signal_lines() const {
  std::vector<std::string> lines;
  std::istringstream in(file("signals.txt"));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  EXPECT_FALSE(lines.empty()) << "signals.txt has no header";
  if (!lines.empty()) {
    EXPECT_EQ(lines[0], "# process pid signal code addr lsb region offset");
    lines.erase(lines.begin());
  }
  return lines;
}

double ScenarioRun::proc(const std::string& name, const std::string& key) const {
  const std::string text = file("proc/" + name);
  const std::regex re("(^|\n)" + key + ":?\\s+([0-9]+)");
  std::smatch m;
  EXPECT_TRUE(std::regex_search(text, m, re)) << "no " << key << " in proc/" << name;
  return m.empty() ? NAN : std::stod(m[2].str());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

ScenarioRun run_scenario_file(const std::string& scenario, const std::string& tag,
                              const std::vector<std::string>& sets) {
  ScenarioRun r;
  r.dir = temp_dir(tag);
  std::vector<std::string> args = {"run", scenario, "--outdir", r.dir, "--no-progress"};
  for (const std::string& s : sets) args.insert(args.end(), {"--set", s});
  const RunResult rr = run_mmcosim(args);
  r.status = rr.status;
  r.output = rr.output;
  if (r.status == 0) r.stats = read_stats(r.dir + "/stats.txt");
  return r;
}

}  // namespace tb
