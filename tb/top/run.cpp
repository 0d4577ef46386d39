#include "tb/top/run.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <ostream>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <systemc>

#include "hw/base/config.h"
#include "hw/base/debug.h"
#include "hw/base/time.h"
#include "hw/base/trace.h"
#include "hw/platform/platform.h"
#include "tb/top/machine.h"
#include "tb/top/monitor.h"
#include "tb/top/outputs.h"
#include "tb/top/periodic_stats.h"
#include "tb/top/progress.h"
#include "tb/top/ras_soak.h"
#include "tb/top/storage.h"
#include "tb/top/summary.h"
#include "tb/workload/workload.h"

namespace sim {

namespace fs = std::filesystem;

namespace {

// --stats-period: one line on `err` when bad. Returns the exit status of bad
// input (2), or 0 with `period_ps` set (0: no periodic dumps).
int check_stats_period(const RunOptions& opts, std::ostream& err, uint64_t& period_ps) {
  period_ps = 0;
  if (!opts.stats_period.empty() && (!parse_duration(opts.stats_period, period_ps) || period_ps == 0)) {
    err << fmt::format("mmcosim: --stats-period: expected a positive time such as 10us or 1ms, got {}\n",
                       one_line(sim::quoted(opts.stats_period)));
    return 2;
  }
  return 0;
}

// The timeline of --trace-events: the sink the models record into and the
// file it goes to, opened before the run so a bad path is bad input.
struct Timeline {
  std::unique_ptr<trace::Sink> sink;
  std::ofstream file;
  ~Timeline() { trace::disable_all(); }
};

// Sets up --trace-events: the sink, and the flags it records. Returns the
// exit status of bad input (2, one line on `err`), or 0 (with `t.sink` null
// when there is no timeline).
int open_timeline(const RunOptions& opts, std::ostream& err, Timeline& t) {
  if (opts.trace_events.empty()) return 0;
  if (opts.trace_limit == 0) {
    err << "mmcosim: --trace-limit: must be at least 1\n";
    return 2;
  }
  t.sink = std::make_unique<trace::Sink>(opts.trace_limit, opts.trace_flags);
  if (const std::string unknown = trace::enable(*t.sink, opts.trace_flags); !unknown.empty()) {
    err << fmt::format("mmcosim: --trace-flags: unknown flag {} (mmcosim debug-flags lists them)\n",
                       one_line(sim::quoted(unknown)));
    return 2;
  }
  return 0;
}

// Checks that the waveform's file can be written before the run starts
// (the RTL walker opens it only when the simulation starts, where a failure
// would be a failed run rather than bad input). Returns 2 or 0, as below.
int check_wave_file(const RunOptions& opts, std::ostream& err) {
  if (opts.wave.empty() || std::ofstream(opts.wave)) return 0;
  err << fmt::format("mmcosim: --wave {}: cannot write\n", one_line(opts.wave));
  return 2;
}

// What a run creates before it starts: the output directory (with those
// above it that did not exist) and the files of --trace-events, --wave and
// --stats-period.
// Bad input found then removes them again, so a refused run leaves nothing
// behind: the files it created, and the directories while they are empty
// (anything else in them stays).
class StartOutputs {
 public:
  // Notes the directories make_output_dir is about to create for `outdir`.
  explicit StartOutputs(const fs::path& outdir) {
    std::error_code ec;
    for (fs::path p = outdir / "proc"; !p.empty(); p = p.parent_path()) {
      if (fs::symlink_status(p, ec).type() != fs::file_type::not_found) break;
      dirs_.push_back(p);
      if (p == p.parent_path()) break;
    }
  }
  // Notes `file` if it does not exist yet: call before creating it.
  void note(const std::string& file) {
    std::error_code ec;
    if (!file.empty() && fs::symlink_status(file, ec).type() == fs::file_type::not_found) files_.emplace_back(file);
  }
  // Removes what was noted (fs::remove leaves a directory that is not empty).
  void remove() const {
    std::error_code ec;
    for (const fs::path& f : files_) fs::remove(f, ec);
    for (const fs::path& d : dirs_) fs::remove(d, ec);
  }

 private:
  std::vector<fs::path> dirs_;  // deepest first
  std::vector<fs::path> files_;
};

// Opens the timeline's file (after the output directory exists: it may be
// in it). Returns the exit status of bad input (2, one line on `err`) or 0.
int open_timeline_file(const RunOptions& opts, std::ostream& err, Timeline& t) {
  if (!t.sink) return 0;
  t.file.open(opts.trace_events);
  if (t.file) return 0;
  err << fmt::format("mmcosim: --trace-events {}: cannot write\n", one_line(opts.trace_events));
  return 2;
}

// Writes the timeline at the end of the run. Returns "" or the problem.
std::string write_timeline(const RunOptions& opts, Timeline& t, Machine& m) {
  if (!t.sink) return "";
  t.sink->write(t.file, to_ps(sc_core::sc_time_stamp()),
                {{"scenario", nlohmann::json(opts.scenario.empty() ? "<default>" : opts.scenario).dump()},
                 {"seed", fmt::format("{}", m.seed())}});
  t.file.flush();
  return t.file ? "" : fmt::format("--trace-events {}: cannot write", opts.trace_events);
}

// Reports bad input found while loading and elaborating: one line.
void report_bad_input(const RunOptions& opts, const std::exception& e, std::ostream& err) {
  if (dynamic_cast<const ConfigError*>(&e))
    err << "mmcosim: " << one_line(e.what()) << '\n';
  else if (dynamic_cast<const std::bad_alloc*>(&e))
    err << "mmcosim: " << (opts.scenario.empty() ? "<default scenario>" : opts.scenario)
        << ": the machine does not fit in the host's memory\n";
  else
    err << "mmcosim: " << (opts.scenario.empty() ? "<default scenario>" : opts.scenario) << ": " << one_line(e.what())
        << '\n';
}

// Turns on the debug flags and builds the machine. Returns the exit status
// of bad input (2, reported on `err`), or 0 with `m` built.
int build(const RunOptions& opts, std::ostream& err, std::unique_ptr<Machine>& m) {
  try {
    if (!opts.debug_flags.empty()) {
      const std::string unknown = debug::enable(opts.debug_flags);
      if (!unknown.empty()) {
        err << fmt::format("mmcosim: --debug-flags: unknown flag {} (mmcosim debug-flags lists them)\n",
                           one_line(sim::quoted(unknown)));
        return 2;
      }
    }
    if (!opts.script.empty())
      if (const std::string problem = input_file_problem(opts.script); !problem.empty())
        throw ConfigError("--script " + problem);
    m = std::make_unique<Machine>(opts);
  } catch (const std::exception& e) {
    report_bad_input(opts, e, err);
    return 2;
  }
  return 0;
}

// The firmware's console goes to console.log, and with the Firmware debug
// flag to the debug stream too.
void connect_console(hw::CoreComplex& cx, std::ofstream& console) {
  cx.console = [&console](unsigned cpu, const char* text, size_t len) {
    console.write(text, static_cast<std::streamsize>(len));
    if (debug::Firmware.enabled) {
      std::string line(text, len);
      while (!line.empty() && line.back() == '\n') line.pop_back();
      debug::print(static_cast<uint64_t>(sc_core::sc_time_stamp() / sc_core::sc_time(1, sc_core::SC_PS)),
                   fmt::format("system.cpu{}.console", cpu).c_str(), "{}", line);
    }
  };
}

// Runs the machine to its end, under the monitor when asked. Returns the
// run's error (one line per problem), or "".
std::string simulate(const RunOptions& opts, Machine& m, const fs::path& outdir, std::ostream& out) {
  hw::Platform& pf = m.platform();
  std::string error;
  try {
    write_config(outdir, m.config());
    if (opts.interactive || !opts.script.empty()) {
      std::ifstream script;
      if (!opts.script.empty()) {
        script.open(opts.script);
        if (!script) throw std::runtime_error(fmt::format("{}: cannot open the command script", opts.script));
      }
      Monitor monitor(pf, m.firmware(), m.workload(), opts.script.empty() ? std::cin : script, out,
                      !opts.script.empty());
      error = monitor.run();
    } else {
      error = pf.run();
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  try {
    pf.finish();
  } catch (const std::exception& e) {
    if (error.empty()) error = e.what();
  }
  if (error.empty()) error = m.workload().settle();
  if (error.empty()) error = m.workload().check_outcomes();
  if (error.empty()) error = pf.dma_checker().end_of_run_problem();
  // After the final sync: every file's bytes on the disks against the shadow.
  if (error.empty()) error = m.storage().check();
  // The soak's oracle: a memory_failure() outcome other than 6.18's.
  if (m.soak() && !m.soak()->problem().empty()) error += (error.empty() ? "" : "\n") + m.soak()->problem();
  return error;
}

// Reports a run's error, one line per problem. Returns the exit status.
int report(const std::string& error, std::ostream& err) {
  if (error.empty()) return 0;
  size_t start = 0;
  while (start < error.size()) {
    size_t nl = error.find('\n', start);
    if (nl == std::string::npos) nl = error.size();
    err << "mmcosim: error: " << one_line(error.substr(start, nl - start)) << '\n';
    start = nl + 1;
  }
  return 1;
}

}  // namespace

int run_scenario(const RunOptions& opts, std::ostream& out, std::ostream& err) {
  const auto host_start = std::chrono::steady_clock::now();
  uint64_t period_ps = 0;
  if (const int status = check_stats_period(opts, err, period_ps)) return status;
  Timeline timeline;
  if (const int status = open_timeline(opts, err, timeline)) return status;
  std::unique_ptr<Machine> m;
  if (const int status = build(opts, err, m)) return status;
  const fs::path outdir(opts.outdir);
  StartOutputs created(outdir);
  if (const std::string problem = make_output_dir(outdir); !problem.empty()) {
    err << "mmcosim: --outdir " << one_line(problem) << '\n';
    created.remove();
    return 2;
  }
  if (timeline.sink) created.note(opts.trace_events);
  created.note(opts.wave);
  int bad = open_timeline_file(opts, err, timeline);
  if (!bad) bad = check_wave_file(opts, err);
  if (bad) {
    created.remove();
    return bad;
  }
  // The periodic statistics' files are bad input too when they cannot be
  // written: opened before console.log, and removed with the rest.
  std::unique_ptr<PeriodicStats> periodic;
  if (period_ps) {
    created.note((outdir / PeriodicStats::kTextFile).string());
    created.note((outdir / PeriodicStats::kSeriesFile).string());
    try {
      periodic = std::make_unique<PeriodicStats>("stats_dumper", m->platform(), outdir, from_ps(period_ps));
    } catch (const std::exception& e) {
      err << "mmcosim: --outdir " << one_line(e.what()) << '\n';
      created.remove();
      return 2;
    }
  }
  std::ofstream console(outdir / "console.log");
  hw::CoreComplex& cx = m->platform().complex();
  connect_console(cx, console);
  std::unique_ptr<Progress> progress;
  if (opts.progress && !opts.interactive && opts.script.empty())
    progress = std::make_unique<Progress>("progress", cx, err);

  const std::string error = simulate(opts, *m, outdir, out);
  const double host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - host_start).count();
  // Outputs are written even for a failed run: they show how far it got.
  try {
    write_results(outdir, m->platform(), m->firmware(), periodic.get());
    if (m->workload().has_signal_log()) write_text_file(outdir / "signals.txt", m->workload().signal_log());
    if (const std::string problem = write_timeline(opts, timeline, *m); !problem.empty())
      throw std::runtime_error(problem);
  } catch (const std::exception& e) {
    err << "mmcosim: error: " << one_line(e.what()) << '\n';
    return 1;
  }
  if (!opts.quiet) print_summary(out, opts, *m, outdir, host_seconds);
  if (m->soak())
    out << m->soak()->summary(m->workload().signals_taken(), m->workload().loads_checked(), error.empty()) << '\n';
  return report(error, err);
}

int list_params(const RunOptions& opts, std::ostream& out, std::ostream& err) {
  std::unique_ptr<Machine> m;
  if (const int status = build(opts, err, m)) return status;
  for (const ParamRecord& p : m->config().params())
    out << fmt::format("{:<46} {:<14} {:<10} {}{}\n", p.path, p.value, p.type, p.desc, p.from_scenario ? " [set]" : "");
  return 0;
}

}  // namespace sim
