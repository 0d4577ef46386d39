// Sweeps (sweep.h): running one point, its result file, collecting the
// results, the progress bar and the `mmcosim sweep` command.
#include "tb/top/sweep.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hw/base/config.h"

namespace sim {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Writes `text` to `path` through a temporary file renamed over it, so a
// reader never sees half a file (result.json marks a finished point).
void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream os(tmp);
    os << text;
    if (!os) throw std::runtime_error(fmt::format("{}: cannot write", tmp.string()));
  }
  fs::rename(tmp, path);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The run's one-line error: its last line starting with "mmcosim: " (and
// "error: " when it has it).
std::string error_line(const std::string& log, int status) {
  std::string found;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("mmcosim: ", 0) == 0) found = line.substr(line.rfind("mmcosim: error: ", 0) == 0 ? 16 : 9);
  if (!found.empty() || status == 0) return found;
  return status >= 128 ? fmt::format("killed by signal {}", status - 128) : fmt::format("exit status {}", status);
}

// A bad key of the sweep reads "--set KEY=VALUE: KEY: problem" from the
// run: name the sweep file's line instead.
std::string map_to_source(const Sweep& s, const std::string& error) {
  if (error.rfind("--set ", 0) != 0) return error;
  for (const SweepSource& src : s.sources) {
    const std::string prefix = "--set " + src.assignment + ": ";
    if (error.rfind(prefix, 0) == 0) return src.where + ": " + error.substr(prefix.size());
  }
  return error;
}

}  // namespace

std::string self_exe() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("mmcosim") : p.string();
}

namespace {

// Starts `mmcosim ARGS` with stdout and stderr into `log`. Returns its pid.
pid_t spawn_mmcosim(const std::vector<std::string>& args, const fs::path& log) {
  const std::string exe = self_exe();
  std::vector<char*> argv{const_cast<char*>(exe.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot write", log.string()));
  const pid_t pid = fork();
  if (pid == 0) {
    // The run dies with the sweep (killed midway, a rerun redoes the point).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fd, 1);
    dup2(fd, 2);
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  close(fd);
  if (pid < 0) throw std::runtime_error("cannot start a run: fork failed");
  return pid;
}

int exit_status_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

}  // namespace

int start_point(const Sweep& s, size_t index, const std::string& outdir) {
  const SweepPoint& p = s.points.at(index);
  const fs::path dir = fs::path(outdir) / p.name;
  fs::create_directories(dir);
  fs::remove(dir / "result.json");
  return spawn_mmcosim(point_args(s, p, outdir), dir / "run.log");
}

PointResult finish_point(const Sweep& s, size_t index, const std::string& outdir, int wait_status, double host_seconds) {
  const SweepPoint& p = s.points.at(index);
  const fs::path dir = fs::path(outdir) / p.name;
  PointResult r;
  r.finished = true;
  r.status = exit_status_of(wait_status);
  r.error = map_to_source(s, error_line(read_text(dir / "run.log"), r.status));
  r.host_seconds = host_seconds;
  const json j = {{"point", p.name}, {"args", point_args(s, p, outdir)}, {"status", r.status},
                  {"error", r.error}, {"host_seconds", host_seconds}};
  write_atomically(dir / "result.json", j.dump(1) + "\n");
  return r;
}

PointResult run_point(const Sweep& s, size_t index, const std::string& outdir) {
  const double start = now_seconds();
  const pid_t pid = start_point(s, index, outdir);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return finish_point(s, index, outdir, st, now_seconds() - start);
}

PointResult read_point_result(const Sweep& s, size_t index, const std::string& outdir) {
  const SweepPoint& p = s.points.at(index);
  PointResult r;
  std::ifstream in(fs::path(outdir) / p.name / "result.json");
  if (!in) return r;
  try {
    const json j = json::parse(in);
    // A result of other arguments (the sweep file changed) does not count.
    if (j.at("args").get<std::vector<std::string>>() != point_args(s, p, outdir)) return r;
    r.status = j.at("status").get<int>();
    r.error = j.at("error").get<std::string>();
    r.host_seconds = j.at("host_seconds").get<double>();
    r.finished = true;
  } catch (const nlohmann::json::exception&) {
  }
  return r;
}

bool point_done(const PointResult& r, bool retry_failed) {
  // A run that was killed (128+N) did not finish; one that failed did, and
  // fails again the same way unless something changed (--retry-failed).
  return r.finished && (r.status == 0 || (!retry_failed && r.status < 128));
}

Pending pending_points(const Sweep& s, const SweepOptions& opts, std::ostream& err) {
  Pending p;
  for (size_t i = 0; i < s.points.size(); ++i) {
    const PointResult r = read_point_result(s, i, opts.outdir);
    if (point_done(r, opts.retry_failed)) {
      ++p.done;
      p.failed += r.status != 0;
    } else {
      p.todo.push_back(i);
      fs::remove(fs::path(opts.outdir) / s.points[i].name / "result.json");
    }
  }
  if (p.done && opts.progress)
    err << fmt::format("mmcosim: sweep: {} of {} points finished earlier, {} to run\n", p.done, s.points.size(),
                       p.todo.size());
  return p;
}

// ---- Progress ---------------------------------------------------------------

SweepProgress::SweepProgress(std::ostream& err, size_t total, size_t already_done, bool enabled)
    : err_(err), total_(total), base_(already_done), enabled_(enabled), tty_(isatty(2)), start_(now_seconds()) {}

void SweepProgress::update(size_t done, size_t failed, size_t running, bool force) {
  if (!enabled_) return;
  const double now = now_seconds();
  const size_t ran = done > base_ ? done - base_ : 0;
  std::string eta = "?";
  if (ran > 0 && done < total_) {
    const double left = (now - start_) / static_cast<double>(ran) * static_cast<double>(total_ - done);
    eta = fmt::format("{}:{:02}", static_cast<long>(left) / 60, static_cast<long>(left) % 60);
  } else if (done >= total_) {
    eta = "0:00";
  }
  const unsigned width = 24, filled = total_ ? static_cast<unsigned>(width * done / total_) : width;
  const std::string line = fmt::format("mmcosim: sweep [{}{}] {}/{} done, {} failed, {} running, ETA {}",
                                       std::string(filled, '#'), std::string(width - filled, '-'), done, total_,
                                       failed, running, eta);
  if (tty_) {
    if (!force && now - last_draw_ < 0.5 && line.substr(0, 60) == last_line_.substr(0, 60)) return;
    err_ << '\r' << line << "\033[K" << std::flush;
  } else {
    // Without a terminal: one line when the counts change.
    const std::string counts = line.substr(0, line.find(", ETA"));
    if (counts == last_line_.substr(0, last_line_.find(", ETA"))) return;
    err_ << line << '\n' << std::flush;
  }
  last_draw_ = now;
  last_line_ = line;
}

void SweepProgress::finish() {
  if (enabled_ && tty_ && !last_line_.empty()) err_ << '\n' << std::flush;
}

// ---- Commands ---------------------------------------------------------------

namespace {

// Elaborates (`mmcosim params`) one point for each assignment of the sweep,
// so a bad key or value stops the sweep before any run, named at its line.
// Returns the first problem, or "".
std::string validate(const Sweep& s, const std::string& outdir) {
  std::vector<size_t> picks;
  for (const SweepSource& src : s.sources)
    for (size_t i = 0; i < s.points.size(); ++i) {
      const auto& sets = s.points[i].sets;
      if (std::find(sets.begin(), sets.end(), src.assignment) == sets.end()) continue;
      if (std::find(picks.begin(), picks.end(), i) == picks.end()) picks.push_back(i);
      break;
    }
  if (picks.empty() && !s.points.empty()) picks.push_back(0);
  for (size_t i : picks) {
    std::vector<std::string> args = point_args(s, s.points[i], outdir);
    args[0] = "params";
    std::vector<std::string> params_args;
    for (size_t k = 0; k < args.size(); ++k) {
      if (args[k] == "--outdir") ++k;
      else if (args[k] != "-q" && args[k] != "--no-progress") params_args.push_back(args[k]);
    }
    const fs::path log = fs::path(outdir) / "validate.log";
    const pid_t pid = spawn_mmcosim(params_args, log);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    const int status = exit_status_of(st);
    const std::string text = read_text(log);
    fs::remove(log);
    if (status != 0) return map_to_source(s, error_line(text, status));
  }
  return "";
}

}  // namespace

int sweep_command(const SweepOptions& opts, std::ostream& out, std::ostream& err) {
  Sweep s;
  try {
    s = load_sweep(opts.file);
  } catch (const std::exception& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 2;
  }
  std::error_code ec;
  fs::create_directories(opts.outdir, ec);
  if (ec) {
    err << fmt::format("mmcosim: {}: cannot create the output directory: {}\n", opts.outdir, ec.message());
    return 2;
  }
  const std::string outdir = fs::absolute(opts.outdir).lexically_normal().string();
  try {
    if (const std::string problem = validate(s, outdir); !problem.empty()) {
      err << "mmcosim: " << problem << '\n';
      return 2;
    }
    save_sweep(s, outdir);
    SweepOptions o = opts;
    o.outdir = outdir;
    const int status = o.slurm ? run_slurm(s, o, out, err) : run_local(s, o, err);
    if (status != 0 || (o.slurm && o.no_wait)) return status;
    const CollectOutcome c = collect(s, outdir, err);
    out << fmt::format("mmcosim: sweep: {} points, {} failed; results in {}/results.csv\n", s.points.size(),
                       c.unsuccessful, outdir);
    return c.bad_input ? 2 : c.unsuccessful ? 1 : 0;
  } catch (const ConfigError& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    err << "mmcosim: sweep: " << e.what() << '\n';
    return 1;
  }
}

int sweep_run_point(const std::string& outdir, const std::string& index, std::ostream& err) {
  try {
    const Sweep s = read_saved_sweep(outdir);
    uint64_t i = 0;
    if (!parse_uint(index, i) || i >= s.points.size()) {
      err << fmt::format("mmcosim: --run-point: no point {} (the sweep has {})\n", index, s.points.size());
      return 2;
    }
    return run_point(s, i, outdir).status;
  } catch (const std::exception& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 2;
  }
}

int sweep_collect(const std::string& outdir, std::ostream& out, std::ostream& err) {
  try {
    const Sweep s = read_saved_sweep(outdir);
    const CollectOutcome c = collect(s, outdir, err);
    out << fmt::format("mmcosim: sweep: {} points, {} without a successful result; results in {}/results.csv\n",
                       s.points.size(), c.unsuccessful, outdir);
    return c.bad_input ? 2 : c.unsuccessful ? 1 : 0;
  } catch (const std::exception& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 2;
  }
}

}  // namespace sim
