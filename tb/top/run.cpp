#include "tb/top/run.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <ostream>

#include <fmt/format.h>
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
#include "tb/top/summary.h"
#include "tb/workload/workload.h"

namespace sim {

namespace fs = std::filesystem;

namespace {

// The timeline's and the periodic dumps' options: one line on `err` for the
// first bad one. Returns the exit status of bad input (2), or 0 with the
// timeline's flags turned on and `period_ps` set (0: no periodic dumps).
int check_output_options(const RunOptions& opts, std::ostream& err, uint64_t& period_ps) {
  period_ps = 0;
  if (!opts.stats_period.empty() && (!parse_duration(opts.stats_period, period_ps) || period_ps == 0)) {
    err << fmt::format("mmcosim: --stats-period: expected a positive time such as 10us or 1ms, got '{}'\n",
                       opts.stats_period);
    return 2;
  }
  if (opts.trace_events.empty()) {
    if (!opts.trace_flags.empty()) {
      err << "mmcosim: --trace-flags: needs --trace-events FILE.json\n";
      return 2;
    }
    return 0;
  }
  if (opts.trace_limit == 0) {
    err << "mmcosim: --trace-events-limit: must be at least 1\n";
    return 2;
  }
  if (const std::string unknown = debug::enable_trace(opts.trace_flags); !unknown.empty()) {
    err << fmt::format("mmcosim: --trace-flags: unknown flag '{}' (mmcosim debug-flags lists them)\n", unknown);
    return 2;
  }
  trace::start(opts.trace_limit, opts.trace_flags);
  return 0;
}

// Turns on the debug flags and builds the machine. Returns the exit status
// of bad input (2, reported on `err`), or 0 with `m` built.
int build(const RunOptions& opts, std::ostream& err, std::unique_ptr<Machine>& m) {
  try {
    if (!opts.debug_flags.empty()) {
      const std::string unknown = debug::enable(opts.debug_flags);
      if (!unknown.empty()) {
        err << fmt::format("mmcosim: --debug-flags: unknown flag '{}' (mmcosim debug-flags lists them)\n", unknown);
        return 2;
      }
    }
    m = std::make_unique<Machine>(opts);
  } catch (const ConfigError& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    err << "mmcosim: " << (opts.scenario.empty() ? "<default scenario>" : opts.scenario) << ": " << e.what() << '\n';
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
  if (error.empty()) error = m.workload().check_outcomes();
  return error;
}

// Reports a run's error, one line per problem. Returns the exit status.
int report(const std::string& error, std::ostream& err) {
  if (error.empty()) return 0;
  size_t start = 0;
  while (start < error.size()) {
    size_t nl = error.find('\n', start);
    if (nl == std::string::npos) nl = error.size();
    err << "mmcosim: error: " << error.substr(start, nl - start) << '\n';
    start = nl + 1;
  }
  return 1;
}

}  // namespace

int run_scenario(const RunOptions& opts, std::ostream& out, std::ostream& err) {
  const auto host_start = std::chrono::steady_clock::now();
  uint64_t period_ps = 0;
  if (const int status = check_output_options(opts, err, period_ps)) return status;
  std::unique_ptr<Machine> m;
  if (const int status = build(opts, err, m)) return status;
  const fs::path outdir(opts.outdir);
  if (const std::string problem = make_output_dir(outdir); !problem.empty()) {
    err << "mmcosim: " << problem << '\n';
    return 2;
  }
  std::ofstream console(outdir / "console.log");
  hw::CoreComplex& cx = m->platform().complex();
  connect_console(cx, console);
  std::unique_ptr<Progress> progress;
  if (opts.progress && !opts.interactive && opts.script.empty())
    progress = std::make_unique<Progress>("progress", cx, err);

  std::unique_ptr<PeriodicStats> periodic;
  try {
    if (period_ps) periodic = std::make_unique<PeriodicStats>("stats_dumper", m->platform(), outdir, from_ps(period_ps));
  } catch (const std::exception& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 2;
  }

  const std::string error = simulate(opts, *m, outdir, out);
  const double host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - host_start).count();
  // Outputs are written even for a failed run: they show how far it got.
  try {
    write_results(outdir, m->platform(), m->firmware(), periodic.get());
    if (!opts.trace_events.empty()) trace::write_json(opts.trace_events, to_ps(sc_core::sc_time_stamp()));
  } catch (const std::exception& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 1;
  }
  if (!opts.quiet) print_summary(out, opts, *m, outdir, host_seconds);
  return report(error, err);
}

int list_params(const RunOptions& opts, std::ostream& out, std::ostream& err) {
  try {
    Machine m(opts);
    for (const ParamRecord& p : m.config().params())
      out << fmt::format("{:<46} {:<14} {:<10} {}{}\n", p.path, p.value, p.type, p.desc, p.from_scenario ? " [set]" : "");
    return 0;
  } catch (const std::exception& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 2;
  }
}

}  // namespace sim
