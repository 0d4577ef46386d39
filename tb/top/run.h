// One run of a scenario: configuration, elaboration of the platform, the
// firmware and the workload, simulation, and the outputs (stats.txt,
// stats.json, config.json, console.log, proc/*) in the output directory.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace sim {

struct RunOptions {
  std::string scenario;               // "" = the built-in default
  std::vector<std::string> sets;      // key=value overrides, in order
  std::string outdir = "m5out";
  std::string debug_flags;
  bool quiet = false;                 // no summary on stdout
  bool progress = true;               // progress lines on stderr for long runs
  bool interactive = false;           // the monitor, reading commands from stdin
  std::string script;                 // the monitor, reading commands from this file
  std::string wave;                   // FILE.fst or FILE.vcd: waveforms of the RTL walker
  std::string stats_period;           // "10us": dump every statistic this often (periodic_stats.h); "" = at the end only
  std::string trace_events;           // FILE.json: the timeline (hw/base/trace.h); "" = none
  std::string trace_flags = "All";    // the debug flags whose events the timeline records
  uint64_t trace_limit = 1000000;     // the timeline keeps the last this many events
};

// Runs a scenario. Returns the process exit status; every failure has been
// reported as one line on `err`.
int run_scenario(const RunOptions& opts, std::ostream& out, std::ostream& err);

// Elaborates a scenario (without running it) and prints every parameter with
// its resolved value and description.
int list_params(const RunOptions& opts, std::ostream& out, std::ostream& err);

// The built-in default scenario's text.
const char* default_scenario();

}  // namespace sim
